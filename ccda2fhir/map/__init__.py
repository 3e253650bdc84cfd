"""Map: the walked document to FHIR resources, in layers (each imports only those below it;
tests/test_layers.py keeps it so):

- engine/: templates (what goes where), their compiler and runtime, the filter registry, the routes;
- state/: one conversion's state (the document, the resources made, the report), no clinical domain;
- datatypes/: CDA datatypes to FHIR ones, as template filters;
- shared/: what domains build from (participants, provenance, comments, reasons, references between
  statements, observation values, dosage, nothing-to-report);
- domains/: one module (or package) per clinical domain, never importing another;
- dispatch.py, document.py: sections and entries to their routes' templates, the document's own
  resources (Patient, Composition, Provenance).
"""
