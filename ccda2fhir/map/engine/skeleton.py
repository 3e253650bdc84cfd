"""A JSON template read as a tree: the template compiler's first step.

The template's text is lexed as JSON; its ``{{ }}`` holes and ``{% %}`` statements stay where they
stand. The tree: ("obj", members), ("arr", items), ("const", value), ("hole", expression),
("if", [(test, branch)], else-branch), ("include", node), with ("stmt", set) and ("for", ...)
entries among members and items; a branch is (statements before, value, statements after).
What the grammar does not allow (see template_compiler) raises Unsupported.
"""
from __future__ import annotations

import re

import orjson
from jinja2 import nodes

from .expressions import Unsupported

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\n\r]+)
  | (?P<p>[{}\[\]:,])
  | (?P<s>"(?:[^"\\\x00-\x1f]|\\.)*")
  | (?P<n>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<k>true|false|null)""", re.X)


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


def tokens(body: list[nodes.Node]) -> list[tuple]:
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


class Parser:
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
        branches = [(test, Parser(tokens(body), self.root).branch()) for test, body in tests]
        return ("if", branches, Parser(tokens(node.else_), self.root).branch())

    def _for(self, node: nodes.For) -> tuple:
        if node.else_ or node.recursive or node.test is not None or not isinstance(node.target, nodes.Name):
            raise Unsupported("for loop with else, filter, recursion or several targets")
        body = list(node.body)
        if not body or not _is_comma_unless_last(body[-1]):
            raise Unsupported("for loop items not separated by {% if not loop.last %},{% endif %}")
        pre, value, post = Parser(tokens(body[:-1]), False).branch()
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


def constant(tree: tuple):
    """The tree's JSON value (unpruned) when it holds no hole or statement; else raise LookupError."""
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "obj":
        out = {}
        for m in tree[1]:
            if m[0] != "member":
                raise LookupError
            out[m[1]] = constant(m[2])     # a repeated key: the last value, the first place
        return out
    if kind == "arr":
        if any(i[0] != "item" for i in tree[1]):
            raise LookupError
        return [constant(i[1]) for i in tree[1]]
    raise LookupError
