"""The template engine: Jinja2 set up so that templates can only emit JSON values.

Every ``{{ expression }}`` in a template goes through ``_as_json`` (Jinja's
finalize hook): whatever the document holds, it lands in the output as one JSON
value, so document content can never break or inject into the JSON.
Templates are compiled once per process and kept.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2
import orjson

from . import filters


def _as_json(value) -> str:
    if isinstance(value, jinja2.Undefined):
        return "null"
    try:
        return orjson.dumps(value, default=_unknown).decode()
    except orjson.JSONEncodeError:
        # integers past 64 bits are no FHIR number: left out rather than failing the document
        return orjson.dumps(_without_huge_ints(value), default=_unknown).decode()


def _without_huge_ints(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -2**63 <= value < 2**63 else None
    if isinstance(value, dict):
        return {k: _without_huge_ints(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_huge_ints(v) for v in value]
    return value


def _unknown(value):
    if isinstance(value, jinja2.Undefined):
        return None
    raise TypeError(f"a template emitted a {type(value).__name__}, which is not JSON")


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, else the checkout's templates/."""
    packaged = resources.files("ccda2fhir") / "templates"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment of this process."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        finalize=_as_json,
        undefined=jinja2.ChainableUndefined,
        autoescape=False,
        cache_size=-1,          # keep every compiled template for the life of the process
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(filters.FILTERS)
    env.globals.update(filters.GLOBALS)
    return env


@lru_cache(maxsize=None)
def _compiled(template: str) -> jinja2.Template:
    return environment().get_template(f"{template}.json.j2")


@lru_cache(maxsize=1)
def _base_variables() -> dict:
    return dict(environment().globals)


def render(template: str, variables: dict) -> dict:
    """Render ``templates/<template>.json.j2`` and parse it into a dict."""
    tpl = _compiled(template)
    # Template.render would copy the environment's globals through a ChainMap on
    # every call; one flat dict copy of them is several times cheaper.
    context = tpl.new_context({**_base_variables(), **variables}, shared=True)
    return orjson.loads(tpl.environment.concat(tpl.root_render_func(context)))
