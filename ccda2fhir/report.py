"""What a conversion could not map, entry by entry, with where it stands in the C-CDA."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Issue:
    """One thing not mapped (or mapped with a caveat), and where it is."""

    level: str            # "unmapped", "partial", "warning", "info" or "error"
    reason: str
    section: str | None = None      # section templateId or LOINC code, and its title
    template_id: str | None = None  # the entry's templateId
    element: str | None = None      # act, observation, ... or a header element
    line: int | None = None

    def where(self) -> str:
        parts = []
        if self.section:
            parts.append(f"section {self.section}")
        if self.element or self.template_id:
            parts.append(f"{self.element or 'entry'}" + (f" {self.template_id}" if self.template_id else ""))
        if self.line:
            parts.append(f"line {self.line}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.level}: {self.reason}" + (f" ({where})" if where else "")


@dataclass
class Report:
    """Everything the conversion had to say; empty when the document mapped completely."""

    issues: list[Issue] = field(default_factory=list)
    entries_seen: int = 0
    resources: int = 0

    def add(self, level: str, reason: str, **where) -> None:
        self.issues.append(Issue(level, reason, **where))

    def unmapped(self) -> list[Issue]:
        return [i for i in self.issues if i.level in ("unmapped", "error")]

    def summary(self) -> str:
        """One line: how many entries, resources, and issues by level."""
        counts: dict[str, int] = {}
        for i in self.issues:
            counts[i.level] = counts.get(i.level, 0) + 1
        issues = ", ".join(f"{n} {lvl}" for lvl, n in sorted(counts.items())) or "no issues"
        return f"{self.entries_seen} entries, {self.resources} resources, {issues}"

    def as_dict(self) -> dict:
        return {"entries": self.entries_seen, "resources": self.resources,
                "issues": [{k: v for k, v in asdict(i).items() if v is not None} for i in self.issues]}

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        """The Report that ``as_dict()`` described (how a report crosses from a worker process)."""
        return cls([Issue(**i) for i in data["issues"]], data["entries"], data["resources"])
