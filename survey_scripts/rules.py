"""Safe evaluation of `when:` conditions and risk rules with simpleeval.

Survey files are untrusted: Python's own evaluation is never used on them. A rule
is a small expression over earlier answers: comparisons, `and`/`or`/`not`,
arithmetic, `in` a literal list, and `min`/`max`/`abs`. Attribute access,
subscripts, powers and anything else that could allocate without bound is
refused when the survey loads, and every rule is evaluated there on sample
answers of every type (unanswered included), so a rule that would fail in a
call fails at `load` instead.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from simpleeval import EvalWithCompoundTypes

from survey_scripts.errors import RuleError

_SAFE_FUNCS = {"min": min, "max": max, "abs": abs}
MAX_LENGTH = 500  # characters in one rule
MAX_DEPTH = 24  # nesting of the expression tree
MAX_CONSTANT = 10**9  # the largest number a rule may write
MAX_TEXT = 200  # the longest text a rule may write
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
            ast.UAdd, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Compare,
            ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is,
            ast.IsNot, ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List, ast.Set,
            ast.Call, ast.IfExp)


def _depth(node: ast.AST) -> int:
    children = list(ast.iter_child_nodes(node))
    return 1 + max((_depth(c) for c in children), default=0)


@lru_cache(maxsize=1024)
def _problem(expr: str) -> str | None:
    """What makes `expr` unsafe or invalid, regardless of the names it uses."""
    if len(expr) > MAX_LENGTH:
        return f"a rule may be at most {MAX_LENGTH} characters (this one has {len(expr)})"
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as e:
        return f"{expr!r} is not a valid expression ({getattr(e, 'msg', e)})"
    if _depth(tree) > MAX_DEPTH:
        return f"{expr!r} is nested too deeply (at most {MAX_DEPTH} levels)"
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            what = type(node).__name__.lower()
            return (f"{expr!r} uses {what}, which rules may not; use comparisons, and/or/not, "
                    "arithmetic, 'in' a list, min, max, abs")
        if isinstance(node, ast.Call) and (
                not isinstance(node.func, ast.Name) or node.func.id not in _SAFE_FUNCS
                or node.keywords):
            return f"{expr!r} calls something other than min, max or abs"
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str) and len(v) > MAX_TEXT:
                return f"{expr!r} holds a text over {MAX_TEXT} characters"
            if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) > MAX_CONSTANT:
                return f"{expr!r} holds a number over {MAX_CONSTANT}"
            if not isinstance(v, str | int | float | bool | type(None)):
                return f"{expr!r} holds a constant of type {type(v).__name__}"
    return None


def check_expression(expr: str, known: Iterable[str]) -> str | None:
    """Return a problem with `expr` (syntax, unsafe parts, unknown names), or None."""
    problem = _problem(expr)
    if problem:
        return problem
    tree = ast.parse(expr, mode="eval")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    unknown = sorted(names - set(known) - set(_SAFE_FUNCS) - {"True", "False", "None"})
    if unknown:
        return (f"{expr!r} uses {', '.join(unknown)}, which is not an earlier question id")
    return None


def names_in(expr: str) -> list[str]:
    tree = ast.parse(expr, mode="eval")
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - calls
                  - {"True", "False", "None"})


def evaluate(expr: str, answers: Mapping[str, Any]) -> bool:
    """Evaluate a condition; an unanswered question is None, so comparisons are False.
    Anything else that goes wrong is a RuleError naming the rule."""
    problem = _problem(expr)
    if problem:
        raise RuleError(problem)
    ev = EvalWithCompoundTypes(names=dict(answers), functions=_SAFE_FUNCS)
    try:
        return bool(ev.eval(expr))
    except TypeError:
        return False  # e.g. None > 3: an unanswered question satisfies no comparison
    except Exception as e:  # simpleeval raises many kinds; each means the rule failed
        raise RuleError(f"cannot evaluate {expr!r}: {type(e).__name__}: {e}") from e


def try_on_samples(expr: str, samples: Mapping[str, Sequence[Any]],
                   limit: int = 4096) -> str | None:
    """Evaluate `expr` on sample answers (every value of each name it uses, unanswered
    included); the first combination that fails, as a problem text, or None."""
    names = [n for n in names_in(expr) if n in samples]
    pools = [list(samples[n]) for n in names]
    total = 1
    for p in pools:
        total *= len(p)
    if total <= limit:
        combos: Iterable[tuple[Any, ...]] = itertools.product(*pools)
    else:  # too many: vary one name at a time around each base value
        bases = [tuple(p[i % len(p)] for p in pools) for i in range(max(map(len, pools)))]
        combos = ((*b[:k], v, *b[k + 1:]) for b in bases for k, p in enumerate(pools)
                  for v in p)
    for combo in combos:
        answers = {n: None for n in samples} | dict(zip(names, combo, strict=True))
        try:
            evaluate(expr, answers)
        except RuleError as e:
            shown = ", ".join(f"{n}={v!r}" for n, v in zip(names, combo, strict=True))
            return f"fails when {shown or 'nothing is answered'}: {e}"
    return None
