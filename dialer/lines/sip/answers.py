"""SIP's final answers to an INVITE, as the Line protocol says them: who they blame.

486/600 busy; 480/408/487 (and our own ring timeout, sent as CANCEL) no answer;
404/484/604 not a number; 603 declined by the person, told apart from 480 (a carrier's
"temporarily unavailable"); 503/429 and the other 5xx the trunk's, not the callee's:
the dispatcher backs off (Retry-After honoured) and no attempt is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.lines import Dialled, EndCause

BUSY = {486, 600}
NO_ANSWER = {408, 480, 487}
INVALID = {404, 410, 484, 604}
DECLINED = {603}
TRUNK = {429, 500, 502, 503, 504}  # the network's failure: try later, no attempt used
AUTH = {401, 403, 407}  # our credentials refused (after the stack's digest answer)


@dataclass(frozen=True)
class Answer:
    dialled: Dialled
    cause: EndCause
    retry_after_s: float | None = None  # the trunk asked us to wait this long


def answer_of(status: int | None, retry_after: str | None = None) -> Answer:
    """The meaning of a final SIP status (None: no answer at all, a transport failure)."""
    if status in BUSY:
        return Answer(Dialled.BUSY, EndCause.BUSY)
    if status in NO_ANSWER:
        return Answer(Dialled.NO_ANSWER, EndCause.NO_ANSWER)
    if status in INVALID:
        return Answer(Dialled.INVALID, EndCause.INVALID)
    if status in AUTH:  # every call would fail alike: the campaign pauses at once
        return Answer(Dialled.FAILED, EndCause.UNAUTHORIZED)
    if status in DECLINED:  # the person pressed "decline": tried again later, as no answer
        return Answer(Dialled.DECLINED, EndCause.DECLINED)
    return Answer(Dialled.FAILED, EndCause.REFUSED, _seconds(retry_after))


def _seconds(header: str | None) -> float | None:
    """Retry-After's delta-seconds (RFC 3261 20.33), ignoring its comment and duration."""
    if not header:
        return None
    head = header.strip().split(None, 1)[0].split(";", 1)[0]
    return float(head) if head.isdigit() else None


def registration_failure(host: str, user: str, status: int | None, detail: str) -> str:
    """What to tell the operator when the trunk would not register us."""
    if status in AUTH:
        return (f"the trunk {host} refused our credentials ({status}) for user {user!r}: "
                "check `user` and `password` in the trunk file (or "
                "HEALTHDIAL_TRUNK_PASSWORD)")
    return (f"the trunk {host} did not register us ({detail}); check `host`, `transport` "
            "and `register` in the trunk file, and the firewall")
