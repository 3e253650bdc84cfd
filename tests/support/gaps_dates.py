"""Where the yardstick's missing dates come from: invalid in the source, numbers taken for dates, or real gaps by template.

Usage: PYTHONPATH=. python tests/support/gaps_dates.py  (needs ../shared)
"""
import collections

from gaps_common import Y, scored_documents
from ccda2fhir.map.datatypes.dates import parse_ts
cat = collections.Counter(); total = 0; ex = {}
for p, root, b, facts, out in scored_documents():
    total += len(facts['dates'])
    for d in facts['dates']:
        if Y.found_date(d, out['strings']): continue
        # find an element with this date
        els = [e for e in root.iter() if isinstance(e.tag, str) and Y.local(e) in ("effectiveTime","low","high","center","time") and (e.get("value") or "").strip().startswith(d)]
        kinds = set()
        for e in els:
            v = e.get("value").strip()
            par = e.getparent()
            if Y.local(e) in ("low","high","center") and par is not None and (par.get(f"{{{Y.XSI}}}type","").endswith(("PQ","INT","REAL")) or Y.local(par)=="value"):
                kinds.add("quantity-not-date")
            elif parse_ts(v) is None: kinds.add("invalid")
            else:
                own = e
                while own is not None and Y.local(own) not in Y.STATEMENTS: own = own.getparent()
                t = own.find("v3:templateId", Y.NS) if own is not None else None
                kinds.add(("real", Y.local(own) if own is not None else None, t.get("root") if t is not None else None, Y.local(e.getparent())+"/"+Y.local(e)))
        k = "quantity-not-date" if "quantity-not-date" in kinds else ("invalid" if "invalid" in kinds else (sorted(kinds, key=str)[0] if kinds else "?"))
        cat[k] += 1; ex.setdefault(k, (str(p)[-60:], d))
print("total", total, "missing", sum(cat.values()))
for k, n in cat.most_common(30): print(n, k, ex[k])
