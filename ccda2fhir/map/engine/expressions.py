"""Jinja expressions as Python expressions, with Jinja's meaning (see runtime.py).

The template compiler hands each ``{{ ... }}``, ``{% set %}`` value and ``{% if %}`` test here.
Names are resolved as Jinja resolves them: the template's own ``set`` names, then the variables
it is rendered with, then the environment's globals, else an undefined named after them.
"""
from __future__ import annotations

from jinja2 import ChainableUndefined, nodes
from jinja2.utils import _PassArg

from .runtime import call_kind


class Unsupported(Exception):
    """A construct the compiler leaves to Jinja (the template is then rendered by Jinja)."""


_BINARY = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "FloorDiv": "//", "Mod": "%", "Pow": "**",
           "And": "and", "Or": "or"}
_UNARY = {"Not": "not ", "Neg": "-", "Pos": "+"}
_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in",
            "notin": "not in"}


def fast_attribute(name: str) -> bool:
    """``obj.name`` may skip Jinja's attribute-then-item lookup: no dict, None or Undefined has it."""
    return (name.isidentifier() and not name.startswith("__") and not hasattr(dict, name)
            and not hasattr(ChainableUndefined, name) and not hasattr(None, name))


def literal(value) -> str:
    """Python source for a constant, refused unless it reads back as the same value."""
    text = repr(value)
    try:
        same = eval(text, {"__builtins__": {}}) == value  # noqa: S307 - our own repr of a constant
    except Exception:
        same = False
    if not same or type(eval(text, {"__builtins__": {}})) is not type(value):  # noqa: S307
        raise Unsupported(f"constant {text[:40]}")
    return text


class Names:
    """Where each template name lives in the generated function, and what it must bind."""

    def __init__(self, env, assigned: set[str]) -> None:
        self.env = env
        self.assigned = assigned            # names the template sets (top level)
        self.loops: list[dict[str, str]] = []   # loop scopes: template name -> Python name
        self.definitely: set[str] = set()   # set names surely assigned at this point
        self.binds: dict[str, str] = {}     # Python name -> expression evaluated once per process
        self.variables: set[str] = set()    # free names read from the variables
        self.globals: set[str] = set()      # free names that are environment globals
        self.counter = 0

    def bind(self, py: str, source: str) -> str:
        self.binds.setdefault(py, source)
        return py

    def undefined(self, name: str) -> str:
        return self.bind(f"u_{name}", f"R.name_undefined({name!r})")

    def free(self, name: str) -> str:
        """A name the template never sets: a variable, else a global, else undefined."""
        if name in self.env.globals:
            self.globals.add(name)
            return self.bind(f"g_{name}", f"R.global_fn({name!r}, 'value')")
        self.variables.add(name)
        self.undefined(name)
        return f"v_{name}"

    def load(self, name: str) -> str:
        for scope in reversed(self.loops):
            if name in scope:
                return scope[name]
        if name in self.assigned:
            if name in self.definitely:
                return f"n_{name}"
            fallback = (self.bind(f"g_{name}", f"R.global_fn({name!r}, 'value')")
                        if name in self.env.globals else self.undefined(name))
            return f"(n_{name} if n_{name} is not M else {fallback})"
        return self.free(name)


class Expressions:
    """Translates one template's expressions; ``names`` records what the function must bind."""

    def __init__(self, env, names: Names, template_name: str) -> None:
        self.env = env
        self.names = names
        self.template_name = template_name

    def __call__(self, node: nodes.Expr) -> str:
        method = getattr(self, f"x_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(f"{type(node).__name__} expression")
        return method(node)

    def x_Const(self, node) -> str:
        return literal(node.value)

    def x_Name(self, node) -> str:
        if node.ctx != "load":
            raise Unsupported("name store in an expression")
        return self.names.load(node.name)

    def x_Getattr(self, node) -> str:
        obj = self(node.node)
        if fast_attribute(node.attr):
            # a plain dict holding the key (nearly always): the item, inline; else runtime.getattr
            self.names.counter += 1
            t, key = f"_g{self.names.counter}", repr(node.attr)
            return f"({t}[{key}] if type({t} := {obj}) is dict and {key} in {t} else ga({t}, {key}))"
        return f"R.env.getattr({obj}, {node.attr!r})"

    def x_Getitem(self, node) -> str:
        obj = self(node.node)
        if isinstance(node.arg, nodes.Slice):
            return f"{obj}[{self._slice(node.arg)}]"
        return f"R.env.getitem({obj}, {self(node.arg)})"

    def _slice(self, node) -> str:
        parts = [self(p) if p is not None else "" for p in (node.start, node.stop)]
        if node.step is not None:
            parts.append(self(node.step))
        return ":".join(parts)

    def _signature(self, node, first: list[str]) -> str:
        args = first + [self(a) for a in node.args]
        args += [f"{kw.key}={self(kw.value)}" for kw in node.kwargs]
        if node.dyn_args is not None:
            args.append(f"*{self(node.dyn_args)}")
        if node.dyn_kwargs is not None:
            args.append(f"**{self(node.dyn_kwargs)}")
        return ", ".join(args)

    def _filter_or_test(self, node, table: dict, what: str) -> str:
        if node.node is None:
            raise Unsupported(f"{what} block")
        fn = table.get(node.name)
        if fn is None:
            raise Unsupported(f"unknown {what} {node.name!r}")
        arg = _PassArg.from_obj(fn)
        if arg is _PassArg.context:
            raise Unsupported(f"{what} {node.name!r} takes the context")
        kind = "plain" if arg is None else arg.name
        py = self.names.bind(f"{what[0]}_{node.name}", f"R.{what}({node.name!r}, {kind!r})")
        return f"{py}({self._signature(node, [self(node.node)])})"

    def x_Filter(self, node) -> str:
        return self._filter_or_test(node, self.env.filters, "filter")

    def x_Test(self, node) -> str:
        return self._filter_or_test(node, self.env.tests, "test")

    def x_Call(self, node) -> str:
        callee = node.node
        if (isinstance(callee, nodes.Name) and callee.name not in self.names.assigned
                and not any(callee.name in s for s in self.names.loops)
                and callee.name in self.env.globals
                and call_kind(self.env.globals[callee.name]) == "plain"):
            self.names.globals.add(callee.name)
            py = self.names.bind(f"c_{callee.name}", f"R.global_fn({callee.name!r}, 'plain')")
            return f"{py}({self._signature(node, [])})"
        return f"call({self._signature(node, [self(callee)])})"

    def x_CondExpr(self, node) -> str:
        if node.expr2 is not None:
            other = self(node.expr2)
        else:
            where = f"line {node.lineno} in {self.template_name!r}"
            hint = (f"the inline if-expression on {where} evaluated to false and no else "
                    f"section was defined.")
            self.names.counter += 1
            other = self.names.bind(f"uc_{self.names.counter}", f"R.cond_undefined({hint!r})")
        return f"({self(node.expr1)} if {self(node.test)} else {other})"

    def x_Compare(self, node) -> str:
        out = self(node.expr)
        for op in node.ops:
            out += f" {_COMPARE[op.op]} {self(op.expr)}"
        return f"({out})"

    def x_Concat(self, node) -> str:
        return f"str_join(({''.join(self(n) + ', ' for n in node.nodes)}))"

    def x_List(self, node) -> str:
        return f"[{', '.join(self(n) for n in node.items)}]"

    def x_Tuple(self, node) -> str:
        if node.ctx != "load":
            raise Unsupported("tuple store")
        return f"({''.join(self(n) + ', ' for n in node.items)})"

    def x_Dict(self, node) -> str:
        return "{" + ", ".join(f"{self(p.key)}: {self(p.value)}" for p in node.items) + "}"

    def __getattr__(self, name: str):
        kind = name[2:]
        if kind in _BINARY:
            return lambda node: f"({self(node.left)} {_BINARY[kind]} {self(node.right)})"
        if kind in _UNARY:
            return lambda node: f"({_UNARY[kind]}{self(node.node)})"
        raise AttributeError(name)
