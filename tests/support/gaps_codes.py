"""Where the yardstick's missing codes or ids come from, by owning statement template.

Usage: PYTHONPATH=. python tests/support/gaps_codes.py codes|ids  (needs ../shared)
"""
import collections
import sys

from gaps_common import Y, scored_documents
kind = sys.argv[1]
cat = collections.Counter(); total = 0; ex = {}
for p, root, b, facts, out in scored_documents():
    rids = {str(e["resource"]["id"]).lower() for e in b["entry"]}
    total += len(facts[kind])
    for f in facts[kind]:
        if kind == "codes":
            if Y.found_code(f[0], f[1], out['codings']): continue
            els = root.xpath("//v3:*[@code=$c and @codeSystem=$s]", namespaces=Y.NS, c=f[1], s=f[0])
        else:
            if Y.found_id(f[0], f[1], out['idents'], rids): continue
            els = root.xpath("//v3:id[@root=$r]", namespaces=Y.NS, r=f[0])
        k = "?"
        for e in els[:1]:
            own = e
            while own is not None and Y.local(own) not in Y.STATEMENTS: own = own.getparent()
            t = own.find("v3:templateId", Y.NS) if own is not None else None
            k = (Y.local(own) if own is not None else None, t.get("root") if t is not None else None, Y.local(e.getparent())+"/"+Y.local(e))
        cat[k] += 1; ex.setdefault(k, (str(p)[-60:], f))
print("total", total, "missing", sum(cat.values()))
for k, n in cat.most_common(40): print(n, k, ex[k])
