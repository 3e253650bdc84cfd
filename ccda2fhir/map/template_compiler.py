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

import re

import orjson
from jinja2 import nodes
from jinja2.optimizer import optimize

from .prune import prune
from .template_expressions import Expressions, Names, Unsupported, literal
from .values import clean

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\n\r]+)
  | (?P<p>[{}\[\]:,])
  | (?P<s>"(?:[^"\\\x00-\x1f]|\\.)*")
  | (?P<n>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<k>true|false|null)""", re.X)
_EXTENSIONS = ("extension", "modifierExtension")


def _lex(text: str) -> list[tuple]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Unsupported(f"not JSON: {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup == "p":
            out.append(("p", m.group()))
        elif m.lastgroup != "ws":
            try:
                out.append(("const", orjson.loads(m.group())))
            except orjson.JSONDecodeError:
                raise Unsupported(f"not JSON: {m.group()[:20]!r}") from None
    return out


def _tokens(body: list[nodes.Node]) -> list[tuple]:
    out = []
    for node in body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if isinstance(child, nodes.TemplateData):
                    out += _lex(child.data)
                else:
                    out.append(("hole", child))
        elif isinstance(node, nodes.Assign):
            if not isinstance(node.target, nodes.Name):
                raise Unsupported("set of several names")
            out.append(("stmt", node))
        elif isinstance(node, nodes.If):
            out.append(("if", node))
        elif isinstance(node, nodes.For):
            out.append(("for", node))
        elif isinstance(node, nodes.Include):
            out.append(("include", node))
        else:
            raise Unsupported(f"{type(node).__name__} statement")
    return out


class _Parser:
    """Reads a token list as one JSON value into a small tree; statements keep their places."""

    def __init__(self, tokens: list[tuple], root: bool) -> None:
        self.toks, self.i, self.root = tokens, 0, root

    def branch(self) -> tuple:
        """(statements before, the value, statements after): a whole template or if-branch."""
        pre = self._stmts()
        value = self.value(pre)
        post = self._stmts()
        if self.i != len(self.toks):
            raise Unsupported("more than one JSON value")
        return pre, value, post

    def _stmts(self) -> list:
        out = []
        while self.i < len(self.toks) and self.toks[self.i][0] == "stmt":
            out.append(self.toks[self.i])
            self.i += 1
        return out

    def _next(self, sink: list) -> tuple:
        """The next token, statements on the way going to ``sink`` (they run where they stand)."""
        sink += self._stmts()
        if self.i >= len(self.toks):
            raise Unsupported("JSON ends early")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _peek(self, sink: list) -> tuple | None:
        sink += self._stmts()
        return self.toks[self.i] if self.i < len(self.toks) else None

    def value(self, sink: list) -> tuple:
        tok = self._next(sink)
        kind = tok[0]
        if kind == "p" and tok[1] == "{":
            return self._object(sink)
        if kind == "p" and tok[1] == "[":
            return self._array(sink)
        if kind in ("const", "hole"):
            return tok
        if kind == "if":
            return self._if(tok[1])
        if kind == "include" and self.root:
            node = tok[1]
            if not node.with_context or node.ignore_missing:
                raise Unsupported("include without context or ignoring missing")
            return tok
        raise Unsupported(f"{kind} where a JSON value belongs")

    def _object(self, sink: list) -> tuple:
        members: list = []
        if self._peek(members) == ("p", "}"):
            self.i += 1
            return ("obj", members)
        while True:
            key = self._next(members)
            if key[0] != "const" or not isinstance(key[1], str):
                raise Unsupported("object key that is not a JSON string")
            if self._next(members) != ("p", ":"):
                raise Unsupported("':' expected")
            value = self.value(members)
            members.append(("member", key[1], value))
            sep = self._next(members)
            if sep == ("p", "}"):
                return ("obj", members)
            if sep != ("p", ","):
                raise Unsupported("',' or '}' expected")

    def _array(self, sink: list) -> tuple:
        items: list = []
        first = self._peek(items)
        if first == ("p", "]"):
            self.i += 1
            return ("arr", items)
        if first is not None and first[0] == "for":
            self.i += 1
            items.append(self._for(first[1]))
            if self._next(items) != ("p", "]"):
                raise Unsupported("a for loop must fill its whole array")
            return ("arr", items)
        while True:
            items.append(("item", self.value(items)))
            sep = self._next(items)
            if sep == ("p", "]"):
                return ("arr", items)
            if sep != ("p", ","):
                raise Unsupported("',' or ']' expected")

    def _if(self, node: nodes.If) -> tuple:
        tests = [(node.test, node.body)] + [(e.test, e.body) for e in node.elif_]
        if not node.else_:
            raise Unsupported("if without else where a JSON value belongs")
        branches = [(test, _Parser(_tokens(body), self.root).branch()) for test, body in tests]
        return ("if", branches, _Parser(_tokens(node.else_), self.root).branch())

    def _for(self, node: nodes.For) -> tuple:
        if node.else_ or node.recursive or node.test is not None or not isinstance(node.target, nodes.Name):
            raise Unsupported("for loop with else, filter, recursion or several targets")
        body = list(node.body)
        if not body or not _is_comma_unless_last(body[-1]):
            raise Unsupported("for loop items not separated by {% if not loop.last %},{% endif %}")
        pre, value, post = _Parser(_tokens(body[:-1]), False).branch()
        if pre or post:
            raise Unsupported("set inside a for loop")
        uses_loop = any(n.name == "loop" for b in body[:-1] for n in b.find_all(nodes.Name))
        return ("for", node, value, uses_loop)


def _is_comma_unless_last(node) -> bool:
    return (isinstance(node, nodes.If) and not node.elif_ and not node.else_
            and isinstance(node.test, nodes.Not) and isinstance(node.test.node, nodes.Getattr)
            and node.test.node.attr == "last" and isinstance(node.test.node.node, nodes.Name)
            and node.test.node.node.name == "loop"
            and len(node.body) == 1 and isinstance(node.body[0], nodes.Output)
            and all(isinstance(c, nodes.TemplateData) for c in node.body[0].nodes)
            and "".join(c.data for c in node.body[0].nodes).strip() == ",")


def _constant(tree: tuple):
    """The tree's JSON value (unpruned) when it holds no hole or statement; else raise LookupError."""
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "obj":
        out = {}
        for m in tree[1]:
            if m[0] != "member":
                raise LookupError
            out[m[1]] = _constant(m[2])     # a repeated key: the last value, the first place
        return out
    if kind == "arr":
        if any(i[0] != "item" for i in tree[1]):
            raise LookupError
        return [_constant(i[1]) for i in tree[1]]
    raise LookupError


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
            return literal(prune(_constant(tree))), "const"
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
            return literal((prune({key: _constant(tree)}) or {}).get(key)), "const"
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
    w.root(_Parser(_tokens(tree.body), root=True).branch())
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
