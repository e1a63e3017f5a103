"""A whole call on a line: dial, pick-up, the survey turn by turn, goodbye, hang-up.

The dialog engine (survey_scripts.dialog) decides; this loop plays its prompts and
hands it what was heard. Nothing here knows what is behind the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.lines import RING_TIMEOUT_S, Dialled, EndCause, Line, Progress
from dialer.robot.pickup import Answered, dial_extension, drain, leave_message, who_answered
from dialer.robot.robot import Robot
from dialer.robot.turn import TurnLog, take_turn
from survey_scripts.dialog import Dialog
from survey_scripts.turns import Heard, Result
from survey_scripts.vocabulary import Outcome

_NOT_ANSWERED = {Dialled.BUSY: Outcome.BUSY, Dialled.NO_ANSWER: Outcome.NO_ANSWER,
                 Dialled.INVALID: Outcome.INVALID_NUMBER, Dialled.FAILED: Outcome.DROPPED,
                 Dialled.DECLINED: Outcome.NO_ANSWER}  # declined: tried again, as unanswered


@dataclass
class CallRecord:
    outcome: Outcome = Outcome.PARTIAL
    result: Result = field(default_factory=Result)
    turns: list[TurnLog] = field(default_factory=list)
    audio_s: float = 0.0  # line time from dialling to hang-up
    cpu_s: float = 0.0  # CPU of the robot (and, added by the job, of a simulated far end)
    reason: str | None = None  # why a call was dropped
    end_cause: EndCause | None = None
    progress: list[tuple[float, Progress]] = field(default_factory=list)
    retry_after_s: float | None = None  # the network refused and asked us to wait

    @property
    def latency_s(self) -> list[float]:
        """Paced lines: from the end of each answer to the next prompt."""
        return [t.latency_s for t in self.turns if t.latency_s is not None]


async def place_call(robot: Robot, line: Line, number: str, ext: str = "",
                     on_turn: Callable[[TurnLog], None] | None = None,
                     notice: bool = False, ring_timeout_s: float = RING_TIMEOUT_S) -> CallRecord:
    """Dial, and whoever answers gets what fits: the survey, or a message on a machine."""
    record = CallRecord()
    try:
        dialled = await line.dial(number, ring_timeout_s)
        if dialled != Dialled.ANSWERED:
            record.outcome = _NOT_ANSWERED[dialled]
            if dialled == Dialled.FAILED:
                record.reason = line.refusal or "the network refused the call"
                record.retry_after_s = line.retry_after_s
        elif ext and not await dial_extension(line, ext):
            record.outcome = Outcome.NO_ANSWER  # the switchboard hung up on the extension
        else:
            kind = await who_answered(line)
            if kind == Answered.MACHINE:
                await leave_message(robot, line)
                record.outcome = Outcome.VOICEMAIL
            elif kind == Answered.HANGUP:
                record.outcome = Outcome.NO_ANSWER
            else:  # a person, or silence: the survey (a silent line hears it, says nothing)
                await run_survey(robot, line, record, on_turn, notice)
    finally:  # an error or a cancellation (a call cut short) still hangs up the line
        await line.hangup()
    record.audio_s = line.now()
    record.progress, record.end_cause = list(line.progress), line.end_cause
    if record.end_cause == EndCause.LINE_LOST:  # nobody's answer: no attempt used
        record.outcome, record.reason = Outcome.DROPPED, "the line was lost mid-call"
    return record


async def run_survey(robot: Robot, line: Line, record: CallRecord | None = None,
                     on_turn: Callable[[TurnLog], None] | None = None,
                     notice: bool = False) -> CallRecord:
    """Drive the dialog engine over the line until it ends; blocking work stays off the loop.
    `notice`: the call is recorded, and the robot says so first."""
    record = record or CallRecord()
    flow = Dialog(robot.survey, notice).run()
    prompt = next(flow)
    while True:
        if prompt.listen is None:  # a goodbye: say it, nothing to hear
            line.play(robot.say(prompt.text))
            await drain(line)
            heard = Heard(hangup=True)
        else:
            log, cpu = await take_turn(robot, line, prompt)
            record.cpu_s += cpu
            record.turns.append(log)
            heard = log.heard
            if on_turn:
                on_turn(log)
        try:
            prompt = flow.send(heard)
        except StopIteration as stop:
            record.result = stop.value
            break
    for log, decided in zip(record.turns, record.result.decisions, strict=False):
        log.decision, log.interpreted = decided.decision, decided.interpreted
    record.outcome = record.result.outcome
    record.audio_s = line.now()
    return record
