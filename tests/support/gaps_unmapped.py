"""The report's unmapped, error and generic-mapping issues over the whole corpus, counted by template.

Usage: PYTHONPATH=. python tests/support/gaps_unmapped.py [N]  (needs ../shared)
"""
from pathlib import Path
import sys, collections
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import corpus_documents
import ccda2fhir
c = collections.Counter(); ex = {}
for p in corpus_documents():
    try: b, r = ccda2fhir.convert(p.read_bytes(), 'x', report=True)
    except ccda2fhir.ConversionError: continue
    for i in r.issues:
        if i.level in ('unmapped', 'error') or (i.level == 'partial' and 'generic' in i.reason):
            k = (i.level, i.template_id, i.element, (i.section or '')[:50], i.reason[:60])
            c[k] += 1; ex.setdefault(k, str(p)[-70:])
for k, n in c.most_common(int(sys.argv[1]) if len(sys.argv) > 1 else 40): print(n, k, ex[k])
