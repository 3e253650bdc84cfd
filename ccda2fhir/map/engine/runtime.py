"""Jinja's meaning of a template expression, for the Python the template compiler writes.

Each helper does what the code Jinja generates does (``environment.getattr``, ``context.call``,
``str_join``, undefined names), with a shortcut for the plain dicts and lists the walker makes;
anything else goes through the environment itself, so both engines agree by construction.
"""
from __future__ import annotations

from typing import Callable

from jinja2 import ChainableUndefined, Environment, Undefined
from jinja2.nodes import EvalContext
from jinja2.runtime import LoopContext, str_join
from jinja2.utils import _PassArg

from .values import clean, extension_list, plain, whole

_STOP = "value was undefined because a callable raised a StopIteration exception"


class Stale(Exception):
    """Compiled code was made against filters or globals that have changed since."""


class Runtime:
    """The environment a compiled template runs against (filters, tests, globals, undefined)."""

    M = object()                    # a set name not yet set (Jinja's ``missing``)
    clean, plain, ext, whole = (staticmethod(clean), staticmethod(plain), staticmethod(extension_list),
                                staticmethod(whole))
    str_join, LoopContext = staticmethod(str_join), LoopContext

    def __init__(self, env: Environment, include: Callable) -> None:
        self.env = env
        self.undefined = env.undefined
        self.eval_ctx = EvalContext(env)
        self.include = include      # include(name or names, variables) -> ($key, resource)

    def with_locals(self, variables: dict, names: tuple) -> dict:
        """What an included template sees: the variables, and the names set so far."""
        out = dict(variables)
        for name, value in names:
            if value is not self.M:
                out[name] = value
        return out

    def getattr(self, obj, name: str):
        """``obj.name`` for a name no dict, None or Undefined has as an attribute (the compiler
        checks): the item of a dict, else an undefined naming what was missing."""
        if type(obj) is dict:
            return obj[name] if name in obj else self.undefined(obj=obj, name=name)
        if type(obj) is ChainableUndefined:
            return obj
        if obj is None:
            return self.undefined(obj=None, name=name)
        return self.env.getattr(obj, name)

    def call(self, fn, *args, **kwargs):
        """``fn(...)`` as Jinja's ``context.call`` makes it (environment or eval context passed in)."""
        if hasattr(fn, "__call__") and _PassArg.from_obj(fn.__call__) is not None:  # noqa: B004
            fn = fn.__call__
        pass_arg = _PassArg.from_obj(fn)
        if pass_arg is _PassArg.context:
            raise TypeError(f"a compiled template cannot pass a context to {fn!r}")
        if pass_arg is _PassArg.eval_context:
            args = (self.eval_ctx,) + args
        elif pass_arg is _PassArg.environment:
            args = (self.env,) + args
        try:
            return fn(*args, **kwargs)
        except StopIteration:
            return self.undefined(_STOP)

    def stop_safe(self, fn):
        """A plain global function called the way ``context.call`` calls it."""
        undefined = self.undefined

        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except StopIteration:
                return undefined(_STOP)
        return call

    def global_fn(self, name: str, kind: str):
        """A global as the compiled code expects it ('value', or 'plain' for a plain callable)."""
        try:
            value = self.env.globals[name]
        except KeyError:
            raise Stale(f"global {name!r} is gone") from None
        if kind == "plain":
            if call_kind(value) != "plain":
                raise Stale(f"global {name!r} is no longer a plain function")
            return self.stop_safe(value)
        return value

    def filter(self, name: str, kind: str):
        return self._bound(self.env.filters, "filter", name, kind)

    def test(self, name: str, kind: str):
        return self._bound(self.env.tests, "test", name, kind)

    def _bound(self, table: dict, what: str, name: str, kind: str):
        fn = table.get(name)
        if fn is None or _pass_kind(fn) != kind:
            raise Stale(f"{what} {name!r} is gone or now takes other arguments")
        if kind == "environment":
            env = self.env
            return lambda *a, **k: fn(env, *a, **k)
        if kind == "eval_context":
            ctx = self.eval_ctx
            return lambda *a, **k: fn(ctx, *a, **k)
        return fn

    def name_undefined(self, name: str):
        return self.undefined(name=name)

    def cond_undefined(self, hint: str):
        return Undefined(hint)       # Jinja's codegen uses the base Undefined here


def _pass_kind(fn) -> str:
    arg = _PassArg.from_obj(fn)
    return "plain" if arg is None else arg.name


def call_kind(fn) -> str:
    """How context.call would call fn: 'plain' when nothing is passed in."""
    if hasattr(fn, "__call__") and _PassArg.from_obj(fn.__call__) is not None:  # noqa: B004
        return "other"
    return _pass_kind(fn)
