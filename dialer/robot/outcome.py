"""A call as the robot lived it, reported as the dispatcher applies it (wire.CallOutcome)."""

from __future__ import annotations

import logging

from dialer.robot.call import CallRecord
from dialer.wire import CallJob, CallOutcome
from survey_scripts.vocabulary import Outcome

log = logging.getLogger(__name__)
NOT_SURVEYED = (Outcome.VOICEMAIL, Outcome.BUSY, Outcome.NO_ANSWER, Outcome.INVALID_NUMBER,
                Outcome.DROPPED)


def outcome_of(job: CallJob, record: CallRecord) -> CallOutcome:
    """The result of one attempt: answers and risk only where somebody was surveyed (a
    dropped call's answers are not kept: the call is made again)."""
    r = record.result
    surveyed = record.outcome not in NOT_SURVEYED
    reason = record.reason or "; ".join(r.rule_errors) or None
    if r.rule_errors:
        log.warning("call %s: %s", job.id, reason)
    return CallOutcome(
        id=job.id, contact_id=job.contact_id, attempt=job.attempt, started=job.started,
        duration=record.audio_s, outcome=record.outcome.value,
        risk=r.risk if surveyed else None,
        answers=tuple((q, None if a.value is None else _text(a.value), a.how)
                      for q, a in r.answers.items()) if surveyed else (),
        cpu=record.cpu_s, latency_s=tuple(round(x, 4) for x in record.latency_s),
        reason=reason, end_cause=record.end_cause.value if record.end_cause else None,
        retry_after_s=record.retry_after_s,
        turns=tuple((t.prompt.question_id or "", t.decision.value,
                     bool(t.recognition and t.recognition.rejected),
                     None if t.latency_s is None else round(t.latency_s, 4))
                    for t in record.turns if t.decision is not None))


def _text(value: str | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
