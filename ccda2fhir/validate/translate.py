"""FHIRPath text -> the compact rule tree ccda2fhir.conform evaluates (at generation time only).

Uses fhirpathpy's parser; the tree is JSON: ``["op", "implies", a, b]``, ``["dot", focus, step]``,
``["member", "status"]``, ``["fn", "exists", [args]]``, ``["lit", 'final']``, ``["this"]``,
``["const", "ucum"]``, ``["is", expr, "Quantity"]``, ``["idx", expr, n]``, ``["neg", expr]``.
An expression using a function the evaluator lacks fails here, not at conversion time.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

_TYPE_ARGS = {"ofType", "is", "as"}
_BINARY = {"ImpliesExpression", "OrExpression", "AndExpression", "EqualityExpression",
           "InequalityExpression", "AdditiveExpression", "MultiplicativeExpression",
           "UnionExpression", "MembershipExpression"}


class Untranslatable(ValueError):
    """The expression uses something the conform evaluator does not implement."""


@lru_cache(maxsize=None)
def translate(expression: str):
    from fhirpathpy.parser import parse

    from ..conform.rules import FUNCTIONS
    tree = _node(parse(expression)["children"][0])
    missing = sorted(_functions(tree) - set(FUNCTIONS))
    if missing:
        raise Untranslatable(f"{expression!r}: functions {', '.join(missing)} are not in conform.rules")
    return tree


def _functions(tree) -> set:
    if not isinstance(tree, list):
        return set()
    out = {tree[1]} if tree and tree[0] == "fn" else set()
    for x in tree[1:]:
        if isinstance(x, list):
            out |= _functions(x) if (x and isinstance(x[0], str)) else set().union(*map(_functions, x))
    return out


def _node(n: dict):
    t = n["type"]
    kids = n.get("children", [])
    if t in _BINARY:
        return ["op", n["terminalNodeText"][0], _node(kids[0]), _node(kids[1])]
    if t in ("TermExpression", "InvocationTerm", "LiteralTerm", "ExternalConstantTerm"):
        return _node(kids[0])
    if t == "ParenthesizedTerm":
        return _node(kids[0])
    if t == "InvocationExpression":
        return ["dot", _node(kids[0]), _node(kids[1])]
    if t == "IndexerExpression":
        return ["idx", _node(kids[0]), _node(kids[1])]
    if t == "PolarityExpression":
        inner = _node(kids[0])
        return inner if n["terminalNodeText"][0] == "+" else ["neg", inner]
    if t == "TypeExpression":
        return [n["terminalNodeText"][0], _node(kids[0]), _type_name(kids[1])]
    if t == "MemberInvocation":
        return ["member", _identifier(kids[0])]
    if t == "ThisInvocation":
        return ["this"]
    if t == "FunctionInvocation":
        fn = kids[0]
        name = _identifier(fn["children"][0])
        params = fn["children"][1]["children"] if len(fn["children"]) > 1 else []
        if name in _TYPE_ARGS:
            return ["fn", name, [["type", _type_name(p)] for p in params]]
        return ["fn", name, [_node(p) for p in params]]
    if t == "ExternalConstant":
        return ["const", _identifier(kids[0])]
    if t == "StringLiteral":
        return ["lit", _unquote(n["terminalNodeText"][0])]
    if t == "NumberLiteral":
        text = n["terminalNodeText"][0]
        return ["lit", int(text) if text.isdigit() else float(Decimal(text))]
    if t == "BooleanLiteral":
        return ["lit", n["terminalNodeText"][0] == "true"]
    if t == "NullLiteral":
        return ["empty"]
    raise Untranslatable(f"FHIRPath construct {t} ({n.get('text', '')!r}) is not supported")


def _identifier(n: dict) -> str:
    text = n["terminalNodeText"][0] if n.get("terminalNodeText") else n["text"]
    return text.strip("`")


def _type_name(n: dict) -> str:
    """The type a TypeSpecifier (or a bare identifier argument) names, without namespace."""
    text = n.get("text") or ""
    if not text:
        parts, stack = [], [n]
        while stack:
            x = stack.pop()
            if x["type"] == "Identifier":
                parts.append(_identifier(x))
            stack.extend(reversed(x.get("children", [])))
        text = ".".join(parts)
    return text.rsplit(".", 1)[-1]


def _unquote(s: str) -> str:
    body = s[1:-1]
    out, i = [], 0
    escapes = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)
