"""The OpenAPI 3.0 document (``ccda2fhir/data/openapi.json``, written by hand: it is the contract)
and the interactive docs page over it (Swagger UI, from the swagger-ui-bundle package)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import orjson

from ..version import __version__


@lru_cache(maxsize=1)
def document() -> bytes:
    """The OpenAPI document as JSON bytes, with this version of ccda2fhir."""
    spec = orjson.loads(resources.files("ccda2fhir.data").joinpath("openapi.json").read_bytes())
    spec["info"]["version"] = __version__
    return orjson.dumps(spec)


def page(name: str) -> bytes:
    """The docs page ('docs.html') or its script ('docs.js')."""
    return resources.files("ccda2fhir.data").joinpath(name).read_bytes()


def swagger_ui_assets() -> Path | None:
    """The folder of Swagger UI's files, or None when swagger-ui-bundle is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(swagger_ui_path)
