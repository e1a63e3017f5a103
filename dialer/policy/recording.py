"""Which calls a campaign's recording policy keeps."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from dialer.policy.settings import record_share
from survey_scripts.vocabulary import Decision, Outcome

FAILING = {Decision.REPROMPTED, Decision.DENIED, Decision.WENT_BACK, Decision.KEYPAD,
           Decision.UNANSWERED}


def keeps(policy: str, attempt_id: str, outcome: Outcome,
          decisions: Iterable[Decision | None]) -> bool:
    """Whether a recording policy keeps this call: all of them; the failed ones (a
    reprompt, a denied read-back, a go-back, the keypad, an unanswered question, a drop); or a
    sample, the same calls on every run (by attempt id)."""
    if policy == "all":
        return True
    if policy == "failed":
        return outcome == Outcome.DROPPED or any(d in FAILING for d in decisions)
    share = record_share(policy) or 0.0
    digest = hashlib.blake2b(attempt_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < share
