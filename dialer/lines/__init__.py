"""The Line seam (protocol version 2): what the robot needs of a phone line, and nothing of
what is behind it.

    dial(number, ring_timeout_s) -> Dialled
                         place the call; call progress (ringing, early media) is noted in
                         `progress` as it happens; early media (a carrier's announcement,
                         a voicemail greeting played before the answer) is kept apart in
                         `early_media` and never reaches `receive`; a call still ringing
                         after `ring_timeout_s` is cancelled: NO_ANSWER
    play(audio)          send 8 kHz mu-law from the line's present on; the line paces it
    stop()               cut what is playing short (barge-in)
    playing_left()       samples of the current play not yet sent, by the line's clock
    played()             samples of the current play already sent: the playout position,
                         which lines up the robot's echo reference
    elapsed()            the line's clock: samples since the answer
    receive(n) -> bytes  the next n samples from the far end, as they arrive; fewer when the
                         call has ended, and `end_cause` then says why
    send_digits(keys)    keypad tones to the far end: out of band (RFC 4733) where the line
                         carries them so, else as audio
    digits()             keypad tones received out of band since last asked (in-band tones
                         arrive as audio and are found there)
    hangup()             end the call from our side
    now()                line time, seconds since dialling
    refusal, retry_after_s
                         a call the network refused (FAILED): what it said, and how long
                         it asked every call to wait (a trunk's 503/429 Retry-After)
    echo_delay_s         how late the robot's own voice may come back (a network round
                         trip on a real line): the echo gate waits that long

Every call ends with a cause (`EndCause`): the callee hung up, we hung up, the line was
lost, or the network answered busy, no answer, invalid or refused. A lost line is never
the callee's doing: the call is `dropped` and uses no attempt.

Both directions run at once (full duplex). The line owns the playout clock: on the fast
clock line time moves as the robot reads and nothing waits; on a paced line (`paced`)
`receive` returns when the wall clock reaches the audio asked for, and what is played
leaves by that clock whatever the robot reads.

Back-ends (behind dialer/lines/registry.py): `simulated` (the population of simulated
callees), `recorded` (replaying recorded calls), `fake` (scripted, for tests). The robot
(dialer/robot) knows only this protocol. Metering a back-end's own CPU is not part of it
(`Metered`).

The lines may import the policy, the shared leaves, speech and survey_scripts: never the
robot, the store, the dispatcher or the workers; a back-end never imports another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from dialer import wire

PROTOCOL_VERSION = 2
RING_TIMEOUT_S = 30.0  # a call still ringing this long is cancelled: no answer


class Dialled(StrEnum):
    """What the network says of a dialled number."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    INVALID = "invalid"
    DECLINED = "declined"  # the person declined the ringing call (SIP 603)
    FAILED = "failed"  # the line or the network failed: not the callee's answer


class Progress(StrEnum):
    """Call progress before the answer."""

    RINGING = "ringing"
    EARLY_MEDIA = "early_media"  # audio before the answer: never a person's "hello?"
    ANSWERED = "answered"


class EndCause(StrEnum):
    """Why a call ended (livekit's CloseReason, SIP's final answers)."""

    CALLEE_HUNG_UP = "callee_hung_up"
    WE_HUNG_UP = "we_hung_up"
    LINE_LOST = "line_lost"  # transport or media gone (an RTP timeout): nobody's choice
    BUSY = "busy"
    NO_ANSWER = "no_answer"  # rang out, or our ring timeout cancelled it
    INVALID = "invalid"
    DECLINED = "declined"  # the person declined the ringing call
    REFUSED = wire.REFUSED  # the network would not place the call (not the callee)
    UNAUTHORIZED = wire.UNAUTHORIZED  # the trunk refused our credentials (every call fails)


NOT_ANSWERED = {Dialled.BUSY: EndCause.BUSY, Dialled.NO_ANSWER: EndCause.NO_ANSWER,
                Dialled.INVALID: EndCause.INVALID, Dialled.DECLINED: EndCause.DECLINED,
                Dialled.FAILED: EndCause.REFUSED}


@dataclass(frozen=True)
class Digit:
    """A keypad tone received out of band, at `at` samples after the answer."""

    at: int
    key: str


class Line(Protocol):
    paced: bool  # audio arrives by the wall clock (turn latencies mean something)
    echo_delay_s: float

    @property
    def progress(self) -> list[tuple[float, Progress]]: ...

    @property
    def early_media(self) -> bytes: ...

    @property
    def end_cause(self) -> EndCause | None: ...

    @property
    def refusal(self) -> str | None: ...  # a refused call (FAILED): the network's words...

    @property
    def retry_after_s(self) -> float | None: ...  # ...and how long it asked us to wait

    async def dial(self, number: str, ring_timeout_s: float = RING_TIMEOUT_S) -> Dialled: ...

    def play(self, audio: bytes) -> None: ...

    def stop(self) -> None: ...

    def playing_left(self) -> int: ...

    def played(self) -> int: ...

    def elapsed(self) -> int: ...

    async def receive(self, n: int) -> bytes: ...

    def send_digits(self, keys: str) -> None: ...

    def digits(self) -> list[Digit]: ...

    async def hangup(self) -> None: ...

    def now(self) -> float: ...


@runtime_checkable
class Metered(Protocol):
    """A back-end that spends CPU in this process for a call (the simulation does; a real
    line does not): the job adds it to the call's cost."""

    @property
    def cpu_s(self) -> float: ...
