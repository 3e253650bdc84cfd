"""Allergies and intolerances (C-CDA on FHIR CF-allergies): one Allergy - Intolerance Observation
(R2.x 4.7, R1.1 alert observation 1.18, IHE 4.6) becomes one AllergyIntolerance; its Allergy
Concern Act (4.30, R1.1 problem act 1.27) is ``parents[0]``. What the concern act holds besides
the observation (criticality, severity, reactions, comments, authors) is read here too: documents
put them at either level. Value maps the IG does not publish: ``data/valuemaps/allergies.json``.
"""
from __future__ import annotations

from ...engine.registry import import_all

import_all(__name__, __path__)
