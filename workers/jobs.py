"""Job functions: plain synchronous functions that own their event loop.

The same functions run in the embedded worker processes and on RQ workers. They
are the assembler of a call: they build the robot and the line back-end a job
names (the robot itself knows only the Line protocol). A batch of calls runs
concurrently on one asyncio loop; each finished call goes to `sink` at once,
keyed by its attempt id, so a worker killed mid-batch loses only the calls it had
not finished. A call that fails inside healthdial (or a robot that cannot be
built) is reported `dropped` with its reason: retried later without using up the
contact's attempts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from dialer.executor import Priority, on_speech_thread
from dialer.lines import Line
from dialer.lines.pacing import Pacing
from dialer.lines.simulated import build_simulation
from dialer.lines.simulated.line import SimulatedLine, Simulation
from dialer.policy.settings import record_share
from dialer.robot.call import CallRecord, place_call
from dialer.robot.recorder import RecordingLine, call_log, dumps
from dialer.robot.robot import Robot, build_robot
from dialer.robot.turn import TurnLog
from dialer.wire import Batch, CallJob, CallOutcome, EngineSpec
from survey_scripts.loader import load_survey_text
from survey_scripts.vocabulary import Decision, Outcome

log = logging.getLogger(__name__)
Sink = Callable[[CallOutcome], None]
PAUSE_POLL_S = 0.25  # a paused worker looks this often whether it may call again


async def _mine(_job: CallJob) -> bool:
    return True


class Gate:
    """Whether a worker may start its next call: a paused campaign starts none (calls in
    progress finish; batches already taken wait here). `is_open` is the pool's flag: an
    event shared with the embedded pool, or a Redis key over RQ. Over RQ, `claim` fences
    each call (still this job's to make?) and `cut` is told of a call cancelled because it
    no longer is (workers/host.py); False from `cut`: the cancellation is not ours."""

    def __init__(self, is_open: Callable[[], bool] = lambda: True,
                 claim: Callable[[CallJob], Awaitable[bool]] = _mine,
                 cut: Callable[[CallJob], bool] = lambda _job: False) -> None:
        self.is_open, self.claim, self.cut = is_open, claim, cut

    async def wait(self) -> None:
        # the flag lives in another process (or in Redis): nothing here can be awaited on
        while not self.is_open():  # noqa: ASYNC110
            await asyncio.sleep(PAUSE_POLL_S)


OPEN = Gate()


@dataclass
class Stack:
    """A process's robot for one survey and engine, and the simulated callees beside it."""

    robot: Robot
    simulation: Simulation

    def hear_every_prompt(self) -> None:
        """The callees hear each of the robot's prompts now, once per process, so no turn
        waits while a prompt is heard for the first time (seconds in all)."""
        self.simulation.ear.warm(list(self.robot.prompts().values()))


_stacks: dict[tuple[str, EngineSpec], Stack] = {}
_heard: set[tuple[str, EngineSpec]] = set()


def stack_for(batch: Batch) -> Stack:
    """Models load once per process and stay warm across batches, one stack per frozen
    survey and engine. On the realtime clock the callees hear every prompt first, so no
    call waits on it mid-turn."""
    key = (batch.survey_hash, batch.engine)
    if key not in _stacks:
        assert batch.survey_text is not None, "the survey text travels with the first batch"
        survey = load_survey_text(batch.survey_text, f"the survey of {batch.campaign}")
        robot = build_robot(survey, batch.engine)
        _stacks[key] = Stack(robot, build_simulation(survey, batch.engine.engine, robot))
    stack = _stacks[key]
    if batch.realtime and key not in _heard:
        stack.hear_every_prompt()
        _heard.add(key)
    return stack


def has_stack(batch: Batch) -> bool:
    return (batch.survey_hash, batch.engine) in _stacks


def open_line(job: CallJob, stack: Stack, pacing: Pacing) -> Line:
    """The line back-end the job's line data names."""
    kind = job.line.get("kind", "simulated")
    if kind == "simulated":
        return SimulatedLine(stack.simulation, job.line, pacing)
    raise ValueError(f"no line back-end {kind!r} in this worker")


def dropped(job: CallJob, reason: str) -> CallOutcome:
    return CallOutcome(job.id, job.contact_id, job.attempt, job.started, 0.0,
                       Outcome.DROPPED.value, reason=reason[:300])


async def run_calls(batch: Batch, sink: Sink, pacing: Pacing,
                    on_turn: Callable[[TurnLog], None] | None = None, gate: Gate = OPEN) -> int:
    """The calls of one batch, concurrently; each result goes to `sink` as soon as it ends."""
    try:
        # loading models and hearing prompts block for seconds: on the speech thread,
        # which is also the only thread that ever touches the engines
        stack = await on_speech_thread(Priority.ROBOT, stack_for, batch)
    except Exception as e:  # a model missing on this worker: our failure, not the callee's
        log.error("batch of %s cannot run here: %s", batch.campaign, e)
        for job in batch.calls:
            sink(dropped(job, f"worker cannot run the survey: {e}"))
        return 0

    async def one(job: CallJob) -> None:
        await gate.wait()  # checked before each call: a pause holds it here
        if not await gate.claim(job):
            return  # handed to another worker: not ours to make, nor to report
        try:
            outcome = await run_job(job, stack, pacing, on_turn, batch.record)
        except asyncio.CancelledError:
            if gate.cut(job):
                return  # cut short: another worker makes it
            raise
        except Exception as e:  # a bug must not silence the batch, nor use up an attempt
            log.exception("call %s failed inside healthdial; reported as dropped", job.id)
            outcome = dropped(job, f"{type(e).__name__}: {e}")
        sink(outcome)

    async with asyncio.TaskGroup() as tg:
        for job in batch.calls:
            tg.create_task(one(job), name=f"call {job.id}")
    return len(batch.calls)


async def run_job(job: CallJob, stack: Stack, pacing: Pacing,
                  on_turn: Callable[[TurnLog], None] | None = None,
                  record: str = "none") -> CallOutcome:
    """One call; where the campaign records, through a recording line, with the notice."""
    line = open_line(job, stack, pacing)
    if record == "none":
        return outcome_of(job, await place_call(stack.robot, line, job.number, job.ext,
                                                on_turn))
    tap = RecordingLine(line)
    try:
        done = await place_call(stack.robot, tap, job.number, job.ext, on_turn, notice=True)
    except Exception as e:  # keep what the line carried: a drop is worth hearing
        log.exception("call %s failed inside healthdial; reported as dropped", job.id)
        done = CallRecord(Outcome.DROPPED, reason=f"{type(e).__name__}: {e}"[:300])
    outcome = outcome_of(job, done)
    if tap.plays and keeps(record, job.id, done):
        meta = {"attempt_id": job.id, "contact_id": job.contact_id, "attempt": job.attempt,
                "survey": stack.robot.survey.name, "notice": True}
        outcome = replace(outcome, recording=tap.flac(), log=dumps(
            call_log(tap, done, stack.robot.listener.recognizer.name, meta)))
    return outcome


def keeps(policy: str, attempt_id: str, record: CallRecord) -> bool:
    """Whether a recording policy keeps this call: all of them; the failed ones (a
    reprompt, a denied read-back, the keypad, an unanswered question, a drop); or a
    sample, the same calls on every run (by attempt id)."""
    if policy == "all":
        return True
    if policy == "failed":
        failing = {Decision.REPROMPTED, Decision.DENIED, Decision.KEYPAD, Decision.UNANSWERED}
        return record.outcome == Outcome.DROPPED or any(
            t.decision in failing for t in record.turns)
    share = record_share(policy) or 0.0
    digest = hashlib.blake2b(attempt_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < share


def outcome_of(job: CallJob, record: CallRecord) -> CallOutcome:
    r = record.result
    answers = tuple((q, None if a.value is None else _text(a.value), a.how)
                    for q, a in r.answers.items())
    reason = record.reason or "; ".join(r.rule_errors) or None
    if r.rule_errors:
        log.warning("call %s: %s", job.id, reason)
    surveyed = record.outcome not in (Outcome.VOICEMAIL, Outcome.BUSY, Outcome.NO_ANSWER,
                                      Outcome.INVALID_NUMBER, Outcome.DROPPED)
    return CallOutcome(job.id, job.contact_id, job.attempt, job.started, record.audio_s,
                       record.outcome.value, r.risk if surveyed else None,
                       answers if surveyed else (), record.cpu_s,
                       tuple(round(x, 4) for x in record.latency_s), reason,
                       tuple((t.prompt.question_id or "", t.decision.value,
                              bool(t.recognition and t.recognition.rejected),
                              None if t.latency_s is None else round(t.latency_s, 4))
                             for t in record.turns if t.decision is not None))


def _text(value: str | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
