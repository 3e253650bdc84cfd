"""One way a resource breaks FHIR R4 or a profile it claims."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """``rule`` names what is broken: an invariant key (gol-1), ``schema``, ``reference``
    (target type or resolution), or a profile's name; ``where`` is the element's path."""

    resource: str      # Type/id
    where: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource} {self.where}: [{self.rule}] {self.message}"
