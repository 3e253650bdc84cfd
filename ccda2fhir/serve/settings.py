"""What one service runs with: worker count, the document limits, the service limits, tokens.

Defaults come from ccda2fhir.limits; ``Settings.from_env()`` reads ``CCDA2FHIR_<NAME>`` variables
(``CCDA2FHIR_WORKERS``, ``CCDA2FHIR_MAX_BYTES``, ``CCDA2FHIR_TIMEOUT``, ``CCDA2FHIR_BODY_TIMEOUT``,
..., ``CCDA2FHIR_TOKEN``, ``CCDA2FHIR_TOKEN_FILE``, ``CCDA2FHIR_TEMPLATES``, ``CCDA2FHIR_CODE_SYSTEMS``) for the ``ccda2fhir.serve.app:app`` object any
ASGI server can load, and as the defaults of ``ccda2fhir serve``'s flags.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from ..limits import LIMITS, SERVICE, Limits, ServiceLimits
from ..map.engine import overlay_for

ENV_PREFIX = "CCDA2FHIR_"


def load_tokens(path: str | Path) -> tuple[str, ...]:
    """The tokens in a token file; ValueError (saying which file) when it holds none."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the token file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    tokens = tuple(t for t in (line.strip() for line in lines) if t and not t.startswith("#"))
    if not tokens:
        raise ValueError(f"the token file {path} holds no token")
    for token in tokens:
        if any(c.isspace() for c in token) or not token.isprintable():
            raise ValueError(f"the token file {path} holds a token with a space or control character")
    return tokens


@dataclass(frozen=True)
class Settings:
    """One service's configuration."""

    workers: int | None = None                      # conversion processes; None: one per core
    limits: Limits = LIMITS                         # per document (max_bytes, ..., timeout)
    service: ServiceLimits = SERVICE                # per connection and request
    tokens: tuple[str, ...] = field(default=(), repr=False)   # bearer tokens; empty: no check
    templates: str | None = None                    # a templates overlay folder (templates/README.md)
    code_systems: str | None = None                 # a terminology overlay file or folder

    def __post_init__(self) -> None:
        overlay_for(self.templates, self.code_systems)   # OverlayError (a ValueError) for a bad path or file
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be 1 or more, not {self.workers}")
        for group in (self.limits, self.service):
            for f in fields(group):
                value = getattr(group, f.name)
                if value < 0 or (value == 0 and f.name != "timeout"):
                    raise ValueError(f"{f.name} must be above 0{' (or 0: no limit)' if f.name == 'timeout' else ''}, "
                                     f"not {value}")

    @property
    def worker_count(self) -> int:
        return max(1, self.workers or os.cpu_count() or 1)

    @property
    def capacity(self) -> int:
        """Conversions waiting or running at once."""
        return self.service.queue_per_worker * self.worker_count

    @property
    def timeout(self) -> float | None:
        """Seconds one conversion may take (None: no limit)."""
        return self.limits.timeout or None

    def convert_options(self) -> dict:
        """The keyword arguments every conversion gets (the document limits but the time limit)."""
        options = {f.name: getattr(self.limits, f.name) for f in fields(Limits) if f.name != "timeout"}
        for name in ("templates", "code_systems"):
            if getattr(self, name):
                options[name] = getattr(self, name)
        return options

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, tokens: bool = True) -> "Settings":
        """Settings from CCDA2FHIR_* variables (the token file read only with ``tokens``); ValueError
        naming the variable for a bad value."""
        env = os.environ if environ is None else environ

        def read(name: str, kind):
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw.strip() == "":
                return None
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw[:40]!r} is not a {kind.__name__}") from None
            if value < 0:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw[:40]!r} is below 0")
            return value

        def overrides(defaults) -> dict:
            found = {f.name: read(f.name, type(getattr(defaults, f.name))) for f in fields(defaults)}
            return {k: v for k, v in found.items() if v is not None}

        found: tuple[str, ...] = ()
        if tokens and env.get(ENV_PREFIX + "TOKEN_FILE"):
            found = load_tokens(env[ENV_PREFIX + "TOKEN_FILE"])
        elif tokens and env.get(ENV_PREFIX + "TOKEN", "").strip():
            found = (env[ENV_PREFIX + "TOKEN"].strip(),)
        paths = {name: env.get(ENV_PREFIX + name.upper(), "").strip() or None for name in ("templates", "code_systems")}
        return cls(workers=read("workers", int) or None, limits=replace(LIMITS, **overrides(LIMITS)),
                   service=replace(SERVICE, **overrides(SERVICE)), tokens=found, **paths)
