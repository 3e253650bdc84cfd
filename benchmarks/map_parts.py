"""Where the map phase spends its time: exclusive CPU time of each of its parts.

    python benchmarks/map_parts.py                 # the HL7 CCD (bundled sample without ../shared)
    python benchmarks/map_parts.py FILE [-n N]     # another document (big.xml from big_document.py)

Wraps with a timer the template builds (templates + filters), the store's ``add`` (ids,
identity, merge), the entry Provenance made after each resource, ``settle_identities`` and the
document's final passes; each part's time excludes the wrapped parts it calls, and what no
wrapper covers is the dispatcher and the document layer. The wrappers add ~1 ms per CCD.
"""
from __future__ import annotations

import argparse
import collections
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ccda2fhir.map.document as document  # noqa: E402
import ccda2fhir.map.state.conversion as conversion  # noqa: E402
from ccda2fhir.parse import parse  # noqa: E402
from ccda2fhir.walk import section_narrative, walk  # noqa: E402

from inputs import ccd_path  # noqa: E402

clock = time.process_time
spent: dict[str, float] = collections.defaultdict(float)
_stack: list[float] = []


def _timed(name: str, fn):
    def timed(*args, **kwargs):
        _stack.append(0.0)
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = clock() - start
            spent[name] += elapsed - _stack.pop()
            if _stack:
                _stack[-1] += elapsed
    return timed


def instrument() -> None:
    for name in ("_us_core_names", "_fit_references", "_keep_claims"):
        setattr(document, name, _timed(f"document.{name}", getattr(document, name)))
    conv = document.DocumentConversion
    conv.settle_identities = _timed("settle_identities", conv.settle_identities)
    conv.add = _timed("store.add (ids, identity, merge)", conv.add)
    conv.after_made = _timed("after_made (entry Provenance)", conv.after_made)
    conversion.build = _timed("templates + filters (build)", conversion.build)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("document", nargs="?", default=str(ccd_path()))
    ap.add_argument("-n", type=int, default=30, help="conversions timed (default 30)")
    args = ap.parse_args(argv)
    data = Path(args.document).read_bytes()
    docs = [walk(parse(data), section_narrative) for _ in range(args.n + 1)]
    instrument()
    gc.disable()                       # as convert does while a document converts
    document.map_document(docs.pop(), "bench-patient")   # first use: lazy loads
    spent.clear()
    total = 0.0
    for doc in docs:
        _stack.append(0.0)
        start = clock()
        document.map_document(doc, "bench-patient")
        elapsed = clock() - start
        total += elapsed
        spent["dispatch and document layer (the rest)"] += elapsed - _stack.pop()
    n = len(docs)
    print(f"map, instrumented: {total / n * 1e3:.2f} ms per document ({n} runs)")
    for name, t in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:42s} {t / n * 1e3:9.2f} ms  {t / total * 100:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
