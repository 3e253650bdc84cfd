"""What the gaps_* scripts share: every full corpus document, converted and scored as the yardstick does."""
from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "shared" / "tools"))
import yardstick as Y  # noqa: E402
from conftest import corpus_documents  # noqa: E402

import ccda2fhir  # noqa: E402


def scored_documents():
    """(path, source root, bundle, source facts, output facts) for each document the yardstick counts."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for p in corpus_documents():
        raw = p.read_bytes()
        try:
            root = etree.fromstring(raw, parser)
        except etree.XMLSyntaxError:
            continue
        if Y.local(root) != "ClinicalDocument" or root.find("v3:component/v3:structuredBody", Y.NS) is None:
            continue
        try:
            bundle = ccda2fhir.convert(raw, "x")
        except ccda2fhir.ConversionError:
            continue
        yield p, root, bundle, Y.source_facts(root), Y.output_facts(bundle)
