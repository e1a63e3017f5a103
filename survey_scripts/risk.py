"""A call's risk colour from its recorded answers: the survey's rules, top to bottom.
Unanswered is not "no": a rule that cannot be told leaves the colour unknown."""

from __future__ import annotations

from collections.abc import Callable

from survey_scripts.model import Survey
from survey_scripts.rules import names_in
from survey_scripts.turns import Result
from survey_scripts.vocabulary import Outcome

UNKNOWN_RISK = "unknown"  # a risk rule failed in the call: the answers are kept, staff decide


def risk_of(survey: Survey, result: Result, holds: Callable[[str, str], bool | None]) -> str:
    """The first rule's colour that holds; `holds` is the rule's value on the call's
    answers, None if it failed (noted by the caller)."""
    for rule in survey.risk:
        held = holds(rule.when, f"risk rule line {rule.line}")
        if held is None:
            return UNKNOWN_RISK  # an earlier rule's failure hides which colour applies
        if held:
            return rule.colour
    # no rule holds: the default colour only if every question the rules read was
    # answered, or skipped by its condition. Unanswered is not "no": a question left
    # unanswered, or not reached when the call ended, leaves the risk unknown
    return UNKNOWN_RISK if open_questions(survey, result) else survey.risk_default


def open_questions(survey: Survey, result: Result) -> list[str]:
    """Questions the risk rules read that have no answer but could have had one."""
    read = {n for rule in survey.risk for n in names_in(rule.when)}
    asked, qs = result.answers, survey.questions
    reached = max((i for i, q in enumerate(qs) if q.id in asked), default=-1)
    ended_early = result.outcome != Outcome.COMPLETED
    return [q.id for i, q in enumerate(qs) if q.id in read and (
        (q.id in asked and asked[q.id].value is None) or
        (q.id not in asked and ended_early and i > reached))]  # not reached (not skipped)
