"""Templates that only call ref/source/config with literal arguments, without Jinja.

Most models are `select ... from {{ ref('x') }}`. Compiling such a template with Jinja
costs more than everything else a view's run does, so the parser extracts those calls
statically (as dbt's static parser does) and the compiler renders them by substitution;
anything else falls back to Jinja.
"""

from __future__ import annotations

import ast
import re
from typing import Any

# a {{ ref(...) }} / {{ source(...) }} / {{ config(...) }} expression; groups: left `-`,
# function, arguments, right `-`
CALL = re.compile(r"{{(-?)\s*(ref|source|config)\s*\((.*?)\)\s*(-?)}}", re.S)
ANY_JINJA = re.compile(r"{{|{%|{#")

_JINJA_LITERALS = {"true": True, "false": False, "none": None, "True": True, "False": False,
                   "None": None}
_STRING_ARGS = re.compile(r"""\s*(['"])([^'"\\]*)\1\s*(?:,\s*(['"])([^'"\\]*)\3\s*)?""")

# a static template: text pieces and calls (function, args, kwargs) in order
Piece = str | tuple[str, list[Any], dict[str, Any]]


def literal_call(args_src: str) -> tuple[list[Any], dict[str, Any]] | None:
    """The arguments of a call written with literals only, or None."""
    simple = _STRING_ARGS.fullmatch(args_src)
    if simple:  # ref('x') / source('a', 'b'): no need for the Python parser
        args = [simple.group(2)] if simple.group(3) is None else [simple.group(2),
                                                                   simple.group(4)]
        return args, {}
    try:
        call = ast.parse(f"f({args_src})", mode="eval").body
    except SyntaxError:
        return None
    assert isinstance(call, ast.Call)
    if any(k.arg is None for k in call.keywords):
        return None
    try:
        args = [_literal(a) for a in call.args]
        kwargs = {k.arg: _literal(k.value) for k in call.keywords if k.arg}
    except ValueError:
        return None
    return args, kwargs


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Name) and node.id in _JINJA_LITERALS:
        return _JINJA_LITERALS[node.id]
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)
                if k is not None}
    return ast.literal_eval(node)


PIECE_CACHE: dict[str, list[Piece] | None] = {}


def cached_pieces(source: str) -> list[Piece] | None:
    """static_pieces(source), computed once per text: the parser and the run share it."""
    try:
        return PIECE_CACHE[source]
    except KeyError:
        pieces = PIECE_CACHE[source] = static_pieces(source)
        return pieces


def static_pieces(source: str) -> list[Piece] | None:
    """Split a template into text and literal ref/source/config calls, or None when it
    needs Jinja. Whitespace control (`{{-`, `-}}`) is applied to the text as Jinja does."""
    pieces: list[Piece] = []
    pos = 0
    strip_next = False
    for m in CALL.finditer(source):
        text = source[pos:m.start()]
        if ANY_JINJA.search(text):
            return None
        if strip_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        parsed = literal_call(m.group(3))
        if parsed is None:
            return None
        if text:
            pieces.append(text)
        pieces.append((m.group(2), parsed[0], parsed[1]))
        strip_next = bool(m.group(4))
        pos = m.end()
    tail = source[pos:]
    if ANY_JINJA.search(tail):
        return None
    if strip_next:
        tail = tail.lstrip()
    if tail:
        pieces.append(tail)
    return pieces
