"""The template engine: what a template makes of its variables, fast, and JSON only.

Templates are written in Jinja syntax (templates/*/*.json.j2). ``build`` runs each template as
Python compiled from it once (compiler.py: no JSON text, no parse, no separate prune pass;
a few microseconds of bookkeeping per resource), or, for a construct the compiler leaves alone,
renders it with Jinja. Jinja rendering stays the reference: ``render`` is it, and
tests/test_template_twins.py renders every template both ways over the corpus and compares.

Both ways keep the JSON-only guarantee: every ``{{ expression }}`` lands in the output as one JSON
value (``values.as_json``, the finalize hook; ``values.clean``, its compiled twin), so document
content can never break or inject into the JSON. The built-in templates are also compiled ahead
of time by setup.py (``ccda2fhir._templates``, with Cython when available); a template whose text
changed since is compiled again at first use.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

import jinja2
import orjson

from . import registry
from .compiler import compile_template, usable
from .prune import prune
from .runtime import Runtime, Stale
from .values import as_json

SUFFIX = ".json.j2"


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, else the checkout's templates/."""
    packaged = resources.files("ccda2fhir") / "templates"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "templates"


def make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """A Jinja environment set up for JSON templates, with our filters and globals."""
    env = jinja2.Environment(
        loader=loader,
        finalize=as_json,
        undefined=jinja2.ChainableUndefined,
        autoescape=False,
        cache_size=-1,          # keep every compiled template for the life of the process
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    registry.load()
    env.filters.update(registry.FILTERS)
    env.globals.update(registry.GLOBALS)
    return env


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment of this process (the templates/ folder)."""
    return make_environment(jinja2.FileSystemLoader(str(templates_dir())))


class Templates:
    """The templates of one environment, each built by its compiled code or by Jinja."""

    def __init__(self, env: jinja2.Environment, ahead_of_time: dict | None = None) -> None:
        self.env = env
        self.ahead_of_time = ahead_of_time or {}    # name -> (source hash, make), from setup.py
        self.runtime = Runtime(env, self._include)
        self.globals = dict(env.globals)
        self._by_name: dict[str, Callable] = {}
        self.fallbacks: dict[str, str] = {}         # name -> why the compiler left it to Jinja

    def render(self, name: str, variables: dict):
        """The reference: Jinja renders the template, orjson parses the text (nothing pruned)."""
        tpl = self.env.get_template(name)
        # Template.render would copy the environment's globals through a ChainMap on
        # every call; one flat dict copy of them is several times cheaper.
        context = tpl.new_context({**self.globals, **variables}, shared=True)
        return orjson.loads(self.env.concat(tpl.root_render_func(context)))

    def builder(self, name: str, compiled: bool = True) -> Callable:
        """``build(variables) -> ($key, resource)`` for one template file; ``compiled=False`` gives
        Jinja's (the reference), else the compiled code's when the compiler supports the template."""
        if not compiled:
            return self._jinja_builder(name)
        fn = self._by_name.get(name)
        if fn is None:
            fn = self._by_name[name] = self._compiled_builder(name)
        return fn

    def _jinja_builder(self, name: str) -> Callable:
        def build_with_jinja(variables: dict) -> tuple:
            res = self.render(name, variables)
            key = res.pop("$key", None)
            return key, prune(res)
        build_with_jinja.compiled = False
        return build_with_jinja

    def make_function(self, name: str, source: str) -> Callable:
        """The compiled ``make`` of one template: made ahead of time if its text is unchanged,
        else compiled now. Raises Unsupported (or a Jinja syntax error) to leave it to Jinja."""
        entry = self.ahead_of_time.get(name)
        if entry is not None and entry[0] == source_hash(source):
            return entry[1]
        code = compile_template(self.env, name, source)
        namespace: dict = {}
        exec(compile(code, f"<compiled template {name}>", "exec"), namespace)  # noqa: S102 - our codegen
        return namespace["make"]

    def _compiled_builder(self, name: str) -> Callable:
        source = self.env.loader.get_source(self.env, name)[0]
        by_jinja = self._jinja_builder(name)
        try:
            try:
                render, global_names = self.make_function(name, source)(self.runtime)
            except Stale:   # made ahead of time against filters that have changed since
                self.ahead_of_time.pop(name, None)
                render, global_names = self.make_function(name, source)(self.runtime)
        except Exception as exc:  # Unsupported, or a syntax error Jinja will report when it renders
            self.fallbacks[name] = f"{type(exc).__name__}: {exc}"
            return by_jinja

        def build_compiled(variables: dict) -> tuple:
            if global_names.isdisjoint(variables):
                return render(variables)
            return by_jinja(variables)      # a variable shadows a global the code has bound
        build_compiled.compiled = True
        return build_compiled

    def _include(self, name, variables: dict) -> tuple:
        if not isinstance(name, str):
            name = self.env.get_or_select_template(name).name
        return self.builder(name)(variables)


def source_hash(source: str) -> str:
    """What ties ahead-of-time code to the template text it was made from."""
    return hashlib.sha1(source.encode()).hexdigest()


@lru_cache(maxsize=1)
def compiled_at_build() -> dict:
    """The built-in templates compiled at build time (ccda2fhir._templates), when this compiler
    made them; {} in a source checkout or after the compiler changed."""
    try:   # a lazy load: the module setup.py generates, absent from a source checkout
        from ... import _templates  # type: ignore[attr-defined]
    except ImportError:
        return {}
    return usable(_templates)


@lru_cache(maxsize=1)
def templates() -> Templates:
    """The templates of this process."""
    return Templates(environment(), dict(compiled_at_build()))


def render(template: str, variables: dict) -> dict:
    """The reference: render ``templates/<template>.json.j2`` with Jinja and parse it (unpruned)."""
    return templates().render(f"{template}{SUFFIX}", variables)


_BUILDERS: dict[str, Callable] = {}     # "resource/X" -> build function


def build(template: str, variables: dict) -> tuple:
    """What ``templates/<template>.json.j2`` makes of ``variables``: ``($key, resource)``.

    The resource is pruned (no empty values) and None when nothing is left; ``$key`` (the
    source identity its id is made from) is taken out of it, unpruned.
    """
    try:
        fn = _BUILDERS[template]
    except KeyError:
        fn = _BUILDERS[template] = templates().builder(f"{template}{SUFFIX}")
    return fn(variables)
