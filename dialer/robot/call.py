"""A whole call on a line: dial, pick-up, the survey turn by turn, goodbye, hang-up.

The dialog engine (survey_scripts.dialog) decides; this loop plays its prompts and
hands it what was heard. Nothing here knows what is behind the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.lines import Dialled, Line
from dialer.robot.pickup import dial_extension, drain, leave_message, who_answered
from dialer.robot.robot import Robot
from dialer.robot.turn import TurnLog, take_turn
from survey_scripts.dialog import Dialog, Heard, Result
from survey_scripts.vocabulary import Outcome

_NOT_ANSWERED = {Dialled.BUSY: Outcome.BUSY, Dialled.NO_ANSWER: Outcome.NO_ANSWER,
                 Dialled.INVALID: Outcome.INVALID_NUMBER, Dialled.FAILED: Outcome.DROPPED}


@dataclass
class CallRecord:
    outcome: Outcome = Outcome.PARTIAL
    result: Result = field(default_factory=Result)
    turns: list[TurnLog] = field(default_factory=list)
    audio_s: float = 0.0  # line time from dialling to hang-up
    cpu_s: float = 0.0  # CPU of the robot and of the line's back-end for this call
    reason: str | None = None  # why a call was dropped

    @property
    def latency_s(self) -> list[float]:
        """Paced lines: from the end of each answer to the next prompt."""
        return [t.latency_s for t in self.turns if t.latency_s is not None]


async def place_call(robot: Robot, line: Line, number: str, ext: str = "",
                     on_turn: Callable[[TurnLog], None] | None = None,
                     notice: bool = False) -> CallRecord:
    """Dial, and whoever answers gets what fits: the survey, or a message on a machine."""
    record = CallRecord()
    try:
        dialled = await line.dial(number)
        if dialled != Dialled.ANSWERED:
            record.outcome = _NOT_ANSWERED[dialled]
            record.reason = "the line failed" if dialled == Dialled.FAILED else None
        elif ext and not await dial_extension(line, ext):
            record.outcome = Outcome.NO_ANSWER  # the switchboard hung up on the extension
        else:
            kind = await who_answered(line)
            if kind == "machine":
                await leave_message(robot, line)
                record.outcome = Outcome.VOICEMAIL
            elif kind == "hangup":
                record.outcome = Outcome.NO_ANSWER
            else:  # a person, or silence: the survey (a silent line hears it, says nothing)
                await run_survey(robot, line, record, on_turn, notice)
    finally:  # an error or a cancellation (a call cut short) still hangs up the line
        await line.hangup()
    record.audio_s = line.now()
    record.cpu_s += line.cpu_s
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
