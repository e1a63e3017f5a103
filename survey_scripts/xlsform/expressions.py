"""XLSForm's expressions (`relevant`, `constraint`) as healthdial's conditions.

Tokens come from pyxform's own lexer; each is translated on its own into the small
language of survey_scripts/rules.py (never evaluated here), and the result is checked
there like any rule a survey file holds. What has no translation (functions other than
not() and selected(), paths, arithmetic on dates) is refused with the token named:
it is reported, never guessed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from survey_scripts.rules import check_expression

_COMPARE = {"=": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_PASS = {"OPEN_PAREN", "CLOSE_PAREN", "WHITESPACE", "NUMBER", "OPS_BOOL"}


class Untranslatable(ValueError):
    """An expression healthdial's conditions cannot say; the message says which part."""


@dataclass(frozen=True)
class Ref:
    """A question an expression may name: its healthdial id, and for a select_one the
    healthdial value of each choice name (a yes/no list's names become 'yes'/'no')."""

    id: str
    values: Mapping[str, str] = field(default_factory=dict)


def _tokens(expr: str) -> list[tuple[str, str]]:
    from pyxform.parsing.expression import parse_expression

    out: list[tuple[str, str]] = []
    for tok in parse_expression(expr):
        kind, text = tok.type, str(tok)
        if kind == "OPS_COMP" and out and out[-1][0] == "OPS_COMP" and text == "=" \
                and out[-1][1] in ("<", ">", "!"):  # the lexer splits >= and <=
            out[-1] = (kind, out[-1][1] + "=")
            continue
        out.append((kind, text))
    return out


def translate(expr: str, refs: Mapping[str, Ref], self_id: str | None = None) -> str:
    """`expr` as a healthdial condition over the ids in `refs` (`.` is `self_id`)."""
    toks = [t for t in _tokens(expr) if t[0] != "WHITESPACE"]
    out: list[str] = []
    subject: Ref | None = None  # the question the current comparison is about
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        if kind == "PYXFORM_REF":
            subject = _ref(text[2:-1], refs, expr)
            out.append(subject.id)
        elif kind == "SELF_REF" and self_id is not None:
            subject = Ref(self_id)
            out.append(self_id)
        elif kind == "OPS_COMP":
            out.append(_COMPARE[text.strip()])
        elif kind == "SYSTEM_LITERAL":
            out.extend(_literal(text[1:-1], subject, out, expr))
        elif kind == "FUNC_CALL" and text == "not(":
            out.append("not (")
            subject = None
        elif kind == "FUNC_CALL" and text == "selected(":
            out.append(_selected(toks[i + 1:i + 5], refs, expr))
            i += 4
        elif kind in _PASS:
            out.append(text.strip())
            if kind in ("OPS_BOOL", "OPEN_PAREN"):
                subject = None
        else:
            raise Untranslatable(f"{text.strip()!r} in {expr!r} has no healthdial equivalent "
                                 "(conditions compare answers with =, !=, <, >, and, or, "
                                 "not(), selected())")
        i += 1
    result = " ".join(out).replace("( ", "(").replace(" )", ")")
    problem = check_expression(result, [r.id for r in refs.values()] +
                               ([self_id] if self_id else []))
    if problem:
        raise Untranslatable(f"{expr!r} became {result!r}: {problem}")
    return result


def _ref(name: str, refs: Mapping[str, Ref], expr: str) -> Ref:
    if name not in refs:
        raise Untranslatable(f"${{{name}}} in {expr!r} is not an earlier question")
    return refs[name]


def _literal(text: str, subject: Ref | None, out: list[str], expr: str) -> list[str]:
    """A quoted value: a choice name becomes the choice's healthdial value; '' compared
    with = or != asks whether the question was answered."""
    if text == "" and out and out[-1] in ("==", "!="):
        out[-1] = "is" if out[-1] == "==" else "is not"
        return ["None"]
    if subject is not None and subject.values:
        if text not in subject.values:
            raise Untranslatable(f"'{text}' in {expr!r} is not a choice of that question "
                                 f"(its choices: {', '.join(subject.values)})")
        return [repr(subject.values[text])]
    try:
        return [repr(float(text) if "." in text else int(text))]  # '3' compared with a number
    except ValueError:
        return [repr(text)]


def _selected(args: list[tuple[str, str]], refs: Mapping[str, Ref], expr: str) -> str:
    kinds = [k for k, _ in args]
    if kinds != ["PYXFORM_REF", "COMMA", "SYSTEM_LITERAL", "CLOSE_PAREN"]:
        raise Untranslatable(f"selected() in {expr!r} must be selected(${{question}}, "
                             "'choice')")
    ref = _ref(args[0][1][2:-1], refs, expr)
    return f"{ref.id} == {_literal(args[2][1][1:-1], ref, [], expr)[0]}"


def number_range(constraint: str, integer: bool) -> tuple[float, float]:
    """A number question's constraint (`. >= 1 and . <= 30`) as its least and greatest
    answer; anything but a conjunction of bounds on `.` is Untranslatable."""
    if "${" in constraint:
        raise Untranslatable(f"constraint {constraint!r} bounds the answer by another "
                             "answer; the robot listens for a fixed range: write numbers "
                             "(. >= 1 and . <= 20)")
    text = translate(constraint, {}, self_id="x")
    lo, hi = None, None

    def bound(node: ast.expr) -> None:
        nonlocal lo, hi
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            for v in node.values:
                bound(v)
            return
        if not isinstance(node, ast.Compare):
            raise Untranslatable(f"constraint {constraint!r}: only bounds joined by 'and' "
                                 "give a number's range")
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            _one_bound(left, op, right)
            left = right

    def _one_bound(a: ast.expr, op: ast.cmpop, b: ast.expr) -> None:
        nonlocal lo, hi
        flip = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
        if isinstance(b, ast.Name) and isinstance(a, ast.Constant):
            a, b, op = b, a, flip.get(type(op), type(op))()
        if not (isinstance(a, ast.Name) and isinstance(b, ast.Constant)
                and isinstance(b.value, int | float) and not isinstance(b.value, bool)):
            raise Untranslatable(f"constraint {constraint!r}: compare . with numbers only")
        step = 1 if integer else 0
        v = float(b.value)
        if isinstance(op, ast.GtE | ast.Gt):
            lo = v + (step if isinstance(op, ast.Gt) else 0)
        elif isinstance(op, ast.LtE | ast.Lt):
            hi = v - (step if isinstance(op, ast.Lt) else 0)
        else:
            raise Untranslatable(f"constraint {constraint!r}: use <, <=, >, >= for a range")

    bound(ast.parse(text, mode="eval").body)
    if lo is None or hi is None:
        raise Untranslatable(f"constraint {constraint!r} must bound the answer on both sides "
                             "(. >= 0 and . <= 120): the robot listens for the numbers in "
                             "range")
    return lo, hi
