"""One vocabulary for what happened: the decision taken on each turn, and each call's outcome.

Defined once here, where the dialog engine makes the decisions, and used as they
are by the store, the reports, the console and recordings.
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """What the robot did with one turn of the callee's."""

    ACCEPTED = "accepted"  # an answer heard with confidence, recorded
    CONFIRMING = "confirming"  # an answer heard without confidence: read back to confirm
    CONFIRMED = "confirmed"  # the callee said the read-back was right: recorded
    AGREED = "agreed"  # the same answer heard twice, unsurely, around a read-back not understood
    IMPLIED = "implied"  # an answer heard without confidence: said back with the next question
    WENT_BACK = "went_back"  # the callee said an answer said back was wrong: asked again
    DENIED = "denied"  # the read-back was said wrong, or not understood: asked again
    REPROMPTED = "reprompted"  # nothing that answers was heard: asked again
    KEYPAD = "keypad"  # asked again too often: offered the keypad
    KEYED = "keyed"  # an answer typed on the keypad, recorded
    REPEATED = "repeated"  # the callee asked to hear the question again
    DONT_KNOW = "dont_know"  # the callee does not know: recorded as such
    UNANSWERED = "unanswered"  # no answer after the keypad: recorded as unanswered
    OPTED_OUT = "opted_out"  # the callee asked never to be called again
    HUNG_UP = "hung_up"  # the callee hung up


class Outcome(StrEnum):
    """How one call attempt ended; the store's outcome names."""

    COMPLETED = "completed"
    PARTIAL = "partial"
    REFUSED = "refused"
    OPTED_OUT = "opted_out"
    VOICEMAIL = "voicemail"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    INVALID_NUMBER = "invalid_number"
    DROPPED = "dropped"  # failed inside healthdial or on the line: no attempt used


RESPONSIVE = (Outcome.COMPLETED, Outcome.PARTIAL)
CONTACTED = (Outcome.REFUSED, Outcome.OPTED_OUT, Outcome.VOICEMAIL)
UNCONTACTED = (Outcome.BUSY, Outcome.NO_ANSWER, Outcome.INVALID_NUMBER, Outcome.DROPPED)
