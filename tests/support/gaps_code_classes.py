"""The yardstick's missing codes sorted into why they are missing (needs ../shared).

Usage: PYTHONPATH=. python tests/support/gaps_code_classes.py

Classes: a template's fixed code (the code that names the template: its content is mapped to the
FHIR element that says the same, e.g. Free Text Sig 76662-6 -> Dosage.text); a code system the
scorer knows only by OID while the output uses its canonical FHIR URI (DICOM, ISO 3166, MEDCIN, a
value-set OID or a name written as codeSystem); and the rest, listed one by one.
"""
import collections
import re

from gaps_common import Y, scored_documents
from ccda2fhir.map.datatypes.terminology import system_uri

# Fixed codes of templates whose content has its own FHIR element (see the module docstring).
TEMPLATE_CODES = {
    "76662-6", "412307009", "33999-4", "74711-3", "C101722", "C101670", "C101671", "C101672", "C113843",
    "C101669", "C99285", "C71898", "C54131", "416118004", "48767-8", "77975-1", "64572001", "75318-6",
    "17636008", "48768-6", "SECCLASSOBS", "SECCONOBS", "SECINTOBS", "SECALTINTOBS", "SECDATINTOBS",
    "SECTRSOBS", "SECPOLOBS", "11535-2", "10183-2", "29308-4", "397659008", "30973-2", "113015", "113014",
    "55607006", "75310-3", "46241-6", "10219-4", "59769-0", "86744-0", "45473-6", "77301-0", "55751-2"}

classes = collections.Counter()
for path, root, bundle, facts, out in scored_documents():
    for cs, code, element in facts["codes"]:
        if Y.found_code(cs, code, out["codings"]):
            continue
        uri = system_uri(cs)
        if code in TEMPLATE_CODES:
            k = "template's fixed code (content mapped elsewhere)"
        elif not re.match(r"^\d+(\.\d+)+$", cs):
            k = f"code system written by name ({cs})"
        elif uri and uri not in Y.system_keys(cs) and not uri.startswith("urn:oid:"):
            k = f"canonical URI the scorer does not list ({uri})"
        else:
            k = f"other: {cs} {code} {element} ({path.name[:40]})"
        classes[k] += 1
print("missing", sum(classes.values()))
for k, n in classes.most_common():
    print(n, k)
