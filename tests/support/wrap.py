"""Wrap a C-CDA section or entry fragment (as the HL7 examples ship them) in a minimal document."""
from __future__ import annotations

import re
from pathlib import Path

_DECL = re.compile(r"^\s*(<\?xml[^>]*\?>)?(\s*<!--.*?-->)*\s*", re.S)
_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:sdtc="urn:hl7-org:sdtc" xmlns:voc="urn:hl7-org:v3/voc">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="fragment-test"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Summary of episode note"/>
  <title>Fragment test document</title>
  <effectiveTime value="20240101120000-0500"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="p1"/>
    <patient><name><given>Test</given><family>Patient</family></name>
    <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
    <birthTime value="19700101"/></patient></patientRole></recordTarget>
  <author><time value="20240101"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567890"/>
    <assignedPerson><name><given>Ann</given><family>Author</family></name></assignedPerson></assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization><id root="2.16.840.1.113883.19.5"/>
    <name>Test Org</name></representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody>
{body}
  </structuredBody></component>
</ClinicalDocument>
"""
_SECTION_OF = '<component><section><code code="{code}" codeSystem="2.16.840.1.113883.6.1"/><title>Test section</title>{entry}</section></component>'


def wrap_fragment(xml: str, section_code: str = "11450-4") -> str:
    """A full ClinicalDocument around a <section> or <entry> (or bare statement) fragment."""
    body = _DECL.sub("", xml, count=1)
    head = body.lstrip()[:200]
    if head.startswith("<section"):
        body = f"<component>{body}</component>"
    elif head.startswith("<component"):
        pass
    elif head.startswith("<entry"):
        body = _SECTION_OF.format(code=section_code, entry=body)
    else:
        body = _SECTION_OF.format(code=section_code, entry=f"<entry>{body}</entry>")
    return _DOC.replace("{body}", body)


def wrap_file(path: Path, section_code: str = "11450-4") -> str:
    return wrap_fragment(Path(path).read_text(encoding="utf-8-sig"), section_code)
