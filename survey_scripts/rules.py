"""Safe evaluation of `when:` conditions and risk rules with simpleeval.

Survey files are untrusted: Python's own evaluation is never used on them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

from simpleeval import EvalWithCompoundTypes, InvalidExpression

from survey_scripts.errors import RuleError

_SAFE_FUNCS = {"min": min, "max": max, "abs": abs}


def check_expression(expr: str, known: Iterable[str]) -> str | None:
    """Return a problem with `expr` (syntax, unknown names), or None if it is fine."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        return f"{expr!r} is not a valid expression ({e.msg})"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    unknown = sorted(names - set(known) - set(_SAFE_FUNCS) - {"True", "False", "None"})
    if unknown:
        return (f"{expr!r} uses {', '.join(unknown)}, which is not an earlier question id")
    return None


def evaluate(expr: str, answers: Mapping[str, Any]) -> bool:
    """Evaluate a condition; an unanswered question is None, so comparisons are False."""
    ev = EvalWithCompoundTypes(names=dict(answers), functions=_SAFE_FUNCS)
    try:
        return bool(ev.eval(expr))
    except TypeError:
        return False  # e.g. None > 3: an unanswered question satisfies no comparison
    except (InvalidExpression, SyntaxError, ZeroDivisionError) as e:
        raise RuleError(f"cannot evaluate {expr!r}: {e}") from e
