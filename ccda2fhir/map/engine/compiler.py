"""Compiling a JSON template to Python that builds its resource directly.

A template is JSON text with Jinja holes. Jinja renders it to text, orjson parses the text, prune
drops empty values: three passes and a parse per resource. Here the template is read once instead:
its text is lexed as JSON, its holes and ``{% %}`` statements kept in the places they stand, and
the whole turned into one Python function that evaluates each hole in template order and builds
the dicts and lists as it goes, leaving out what is empty (``values.clean`` for what a hole gives,
the same rule applied at compile time to the template's own constants).

Supported, with exactly the output (and side effects, in order) of the Jinja rendering:
- JSON objects, arrays and literals, holes in value positions, duplicate keys (the last value at
  the first key's place, as orjson reads them), a top-level ``"$key"`` kept unpruned;
- ``{% set name = expr %}`` anywhere between JSON tokens;
- ``{% if %}/{% elif %}/{% else %}`` whose every branch is one JSON value;
- ``[{% for x in xs %}VALUE{% if not loop.last %},{% endif %}{% endfor %}]``;
- ``{% include name %}`` (a constant or computed name) as the whole template's value.
Anything else (an ``if`` around members, a key from a hole, macros, ...) raises ``Unsupported``
and the engine renders that template with Jinja, which stays the reference.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from jinja2 import nodes
from jinja2.optimizer import optimize

from . import expressions, runtime, skeleton, values
from .expressions import Expressions, Names, Unsupported, literal
from .prune import prune
from .skeleton import Parser, constant, tokens
from .values import clean

_EXTENSIONS = ("extension", "modifierExtension")


class _Writer:
    """Python source for one template: a ``make(R)`` that binds once and returns ``render(V)``."""

    def __init__(self, env, name: str, assigned: set[str]) -> None:
        self.env = env
        self.names = Names(env, assigned)
        self.translate = Expressions(env, self.names, name)
        self.lines: list[str] = []
        self.depth = 2
        self.temps = 0

    def expr(self, node: nodes.Expr) -> str:
        """An expression as Python, constants folded first as Jinja's optimizer folds them."""
        return self.translate(optimize(node, self.env))

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def temp(self, prefix: str) -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"

    def stmt(self, tok: tuple) -> None:
        node = tok[1]
        name = node.target.name
        if any(name in s for s in self.names.loops):
            raise Unsupported("set of a loop variable")
        self.line(f"n_{name} = {self.expr(node.node)}")
        self.names.definitely.add(name)

    def value(self, tree: tuple) -> tuple[str, str]:
        """Emit code for a value; returns (Python expression, kind). Kinds: 'const' (a literal, never
        None unless the text is 'None'), 'maybe' (a value or None), 'box' (a container, maybe empty)."""
        try:
            return literal(prune(constant(tree))), "const"
        except LookupError:
            pass
        kind = tree[0]
        if kind == "hole":
            node = optimize(tree[1], self.env)
            if isinstance(node, nodes.Const):
                return literal(clean(node.value)), "const"
            t = self.temp("t")
            self.line(f"{t} = clean({self.translate(node)})")
            return t, "maybe"
        if kind == "obj":
            return self._object(tree[1])
        if kind == "arr":
            return self._array(tree[1])
        if kind == "if":
            target = self.temp("t")
            self._if(tree, lambda v: self.line(f"{target} = {_or_none(*self.value(v))}"))
            return target, "maybe"
        raise Unsupported(f"{kind} here")

    def _member_value(self, key: str, tree: tuple) -> tuple[str, str]:
        if key not in _EXTENSIONS:
            return self.value(tree)
        try:  # an extension left with only its url says nothing: prune drops it, so do we
            return literal((prune({key: constant(tree)}) or {}).get(key)), "const"
        except LookupError:
            pass
        code, kind = self.value(tree)
        t = self.temp("t")
        self.line(f"{t} = ext({_or_none(code, kind)})")
        return t, "maybe"

    def _object(self, members: list, root: bool = False) -> tuple[str, str]:
        o = self.temp("o")
        keys = [m[1] for m in members if m[0] == "member"]
        repeated = {k for k in keys if keys.count(k) > 1 and not (root and k == "$key")}
        self.line(f"{o} = {{}}")
        for m in members:
            if m[0] == "stmt":
                self.stmt(m)
                continue
            key = m[1]
            if root and key == "$key":
                tree = m[2]
                if tree[0] == "hole":
                    self.line(f"rk = plain({self.expr(tree[1])})")
                elif tree[0] == "const":
                    self.line(f"rk = {literal(tree[1])}")
                else:
                    raise Unsupported("$key that is not one value")
                continue
            code, kind = self._member_value(key, m[2])
            if key in repeated:
                self.line(f"{o}[{key!r}] = {_or_none(code, kind)}")
            elif kind == "const":
                if code != "None":
                    self.line(f"{o}[{key!r}] = {code}")
            elif kind == "box":
                self.line(f"if {code}: {o}[{key!r}] = {code}")
            else:
                self.line(f"if {code} is not None: {o}[{key!r}] = {code}")
        for key in sorted(repeated):
            self.line(f"if {o}[{key!r}] is None: del {o}[{key!r}]")
        return o, "box"

    def _array(self, items: list) -> tuple[str, str]:
        a = self.temp("a")
        self.line(f"{a} = []")
        for item in items:
            if item[0] == "stmt":
                self.stmt(item)
            elif item[0] == "item":
                self._append(a, *self.value(item[1]))
            else:
                self._for(a, item)
        return a, "box"

    def _append(self, a: str, code: str, kind: str) -> None:
        if kind == "const":
            if code != "None":
                self.line(f"{a}.append({code})")
        elif kind == "box":
            self.line(f"if {code}: {a}.append({code})")
        else:
            self.line(f"if {code} is not None: {a}.append({code})")

    def _for(self, a: str, item: tuple) -> None:
        _, node, value, uses_loop = item
        seq = self.expr(node.iter)
        scope = {node.target.name: self.temp("l")}
        if uses_loop:
            scope["loop"] = self.temp("loop")
            self.line(f"for {scope[node.target.name]}, {scope['loop']} in LoopContext({seq}, R.undefined):")
        else:
            self.line(f"for {scope[node.target.name]} in {seq}:")
        self.names.loops.append(scope)
        self.depth += 1
        self._append(a, *self.value(value))
        self.depth -= 1
        self.names.loops.pop()

    def _if(self, tree: tuple, emit_value) -> None:
        """An if whose branches each emit one value through ``emit_value``."""
        _, branches, other = tree
        before = set(self.names.definitely)
        after = None
        for i, (test, branch) in enumerate(branches + [(None, other)]):
            if test is None:
                self.line("else:")
            else:
                self.line(f"{'if' if i == 0 else 'elif'} {self.expr(test)}:")
            self.names.definitely = set(before)
            self.depth += 1
            pre, value, post = branch
            for s in pre:
                self.stmt(s)
            emit_value(value)
            for s in post:
                self.stmt(s)
            self.line("pass")
            self.depth -= 1
            after = self.names.definitely if after is None else after & self.names.definitely
        self.names.definitely = after

    def root(self, branch: tuple) -> None:
        """The template's value: sets ``rk`` (the $key) and ``rv`` (the pruned resource or None)."""
        pre, value, post = branch
        for s in pre:
            self.stmt(s)
        kind = value[0]
        if kind == "obj":
            o, _ = self._object(value[1], root=True)
            self.line(f"rv = {o} or None")
        elif kind == "if":
            self._if(value, lambda v: self.root(((), v, ())))
        elif kind == "include":
            self._include(value[1])
        elif kind == "hole":
            self.line(f"rk, rv = whole({self.expr(value[1])})")
        else:
            raise Unsupported("a template whose value is no JSON object")
        for s in post:
            self.stmt(s)

    def _include(self, node: nodes.Include) -> None:
        local = ", ".join(f"({n!r}, n_{n})" for n in sorted(self.names.assigned))
        self.line(f"rk, rv = include({self.expr(node.template)}, with_locals(V, ({local}{',' if local else ''})))")


def _or_none(code: str, kind: str) -> str:
    return f"({code} or None)" if kind == "box" else code


def _assigned(template: nodes.Template) -> set[str]:
    return {n.target.name for n in template.find_all(nodes.Assign) if isinstance(n.target, nodes.Name)}


def compile_template(env, name: str, source: str) -> str:
    """Python source defining ``make(R) -> (render, global names)`` for one template.

    ``render(variables)`` returns ``($key, resource dict or None)``. Raises Unsupported (or a
    Jinja syntax error) when the template must be left to Jinja.
    """
    tree = env.parse(source, name, name)
    assigned = _assigned(tree)
    w = _Writer(env, name, assigned)
    w.line("rk = rv = None")
    w.root(Parser(tokens(tree.body), root=True).branch())
    w.line("return rk, rv")
    body = w.lines
    names = w.names
    prologue = [f"        v_{n} = V.get({n!r}, u_{n})" for n in sorted(names.variables)]
    prologue += [f"        n_{n} = V.get({n!r}, M)" for n in sorted(assigned)]
    binds = [f"    {py} = {src}" for py, src in sorted(names.binds.items())]
    return "\n".join(
        [f"# {name}", "def make(R):", "    M, ga, call, clean, plain, ext = R.M, R.getattr, R.call, R.clean, R.plain, R.ext",
         "    str_join, include, with_locals, LoopContext = R.str_join, R.include, R.with_locals, R.LoopContext",
         "    whole = R.whole"]
        + binds + ["    def render(V):"] + prologue + body
        + [f"    return render, frozenset({sorted(names.globals)!r})", ""])


def compiler_hash() -> str:
    """What compiled code depends on besides its template: this compiler and its runtime (their
    .py sources, also when a compiled twin of one is what runs)."""
    h = hashlib.sha1()
    h.update(Path(__file__).with_name("compiler.py").read_bytes())
    for module in (skeleton, expressions, runtime, values):
        h.update((Path(module.__file__).parent / f"{module.__name__.rpartition('.')[2]}.py").read_bytes())
    return h.hexdigest()


def usable(module) -> dict:
    """The templates of an ahead-of-time module (ccda2fhir._templates) when this compiler made
    it, else none."""
    if getattr(module, "COMPILER", None) != compiler_hash():
        return {}
    return dict(module.TEMPLATES)
