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
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from dialer.executor import Priority, on_speech_thread
from dialer.lines import Line, Metered
from dialer.lines.backend import Backend, Shared
from dialer.lines.pacing import Pacing
from dialer.lines.registry import backend
from dialer.policy.recording import keeps
from dialer.robot.call import CallRecord, place_call
from dialer.robot.outcome import outcome_of
from dialer.robot.recorder import LogMeta, RecordingLine, call_log
from dialer.robot.robot import Robot, build_robot
from dialer.robot.turn import TurnLog
from dialer.wire import Batch, CallJob, CallOutcome, EngineSpec
from speech.decoder_process import DecoderProcess
from survey_scripts.loader import load_survey_text
from survey_scripts.vocabulary import Outcome

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
    """A process's robot for one survey and engine, and its line back-end, prepared."""

    robot: Robot
    backend: Backend
    prepared: object


_stacks: dict[tuple[str, EngineSpec, str], Stack] = {}
_warm: set[tuple[str, EngineSpec, str]] = set()


def _key(batch: Batch) -> tuple[str, EngineSpec, str]:
    return batch.survey_hash, batch.engine, batch.line


def stack_for(batch: Batch) -> Stack:
    """Models load once per process and stay warm across batches, one stack per frozen
    survey, engine and line kind. On the realtime clock the back-end warms first (the
    simulated callees hear every prompt), so no call waits on it mid-turn."""
    key = _key(batch)
    if key not in _stacks:
        assert batch.survey_text is not None, "the survey text travels with the first batch"
        survey = load_survey_text(batch.survey_text, f"the survey of {batch.campaign}")
        robot = build_robot(survey, batch.engine)
        if batch.realtime and batch.engine.engine != "keypad":  # the lines' loop must not
            # wait on a decode (the GIL); a keypad survey decodes nothing
            robot.listener.recognizer = DecoderProcess(batch.engine)
        back = backend(batch.line)
        shared = Shared(survey, batch.engine.engine, robot.synth, robot.prompts())
        _stacks[key] = Stack(robot, back, back.prepare(shared))
    stack = _stacks[key]
    if batch.realtime and key not in _warm:
        stack.backend.warm(stack.prepared)
        _warm.add(key)
        _settled()
    return stack


def _settled() -> None:
    """What the process has built by now (models, prompts, the back-end's callees) is
    kept out of the cyclic collector's scans: on the realtime clock a full collection
    over it held the lines' loop (robot alone, 200 lines, turn p99 461 -> 410 ms,
    medians of 3 pairs; BENCHMARKS.md, levers). What it holds lives as long as the
    process, so freezing it leaks nothing that would have been collected."""
    gc.collect()
    gc.freeze()


async def close_stacks() -> None:
    """The worker process ends: every back-end lets go of its lines (a SIP stack's
    thread is stopped, not left to die with the interpreter)."""
    while _stacks:
        _, stack = _stacks.popitem()
        try:
            await stack.backend.close(stack.prepared)
        except Exception:  # the process ends anyway; say what did not close
            log.exception("a %s line back-end did not close cleanly", stack.backend.kind)
        if isinstance(stack.robot.listener.recognizer, DecoderProcess):
            stack.robot.listener.recognizer.close()
    _warm.clear()


def has_stack(batch: Batch) -> bool:
    return _key(batch) in _stacks


def dropped(job: CallJob, reason: str) -> CallOutcome:
    return CallOutcome(id=job.id, contact_id=job.contact_id, attempt=job.attempt,
                       started=job.started, duration=0.0, outcome=Outcome.DROPPED.value,
                       reason=reason[:300])


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
    line = stack.backend.open(stack.prepared, job.line, pacing)
    if record == "none":
        done = await place_call(stack.robot, line, job.number, job.ext, on_turn)
        return outcome_of(job, _metered(done, line))
    tap = RecordingLine(line)
    try:
        done = await place_call(stack.robot, tap, job.number, job.ext, on_turn, notice=True)
    except Exception as e:  # keep what the line carried: a drop is worth hearing
        log.exception("call %s failed inside healthdial; reported as dropped", job.id)
        done = CallRecord(Outcome.DROPPED, reason=f"{type(e).__name__}: {e}"[:300])
    outcome = outcome_of(job, _metered(done, line))
    if tap.plays and keeps(record, job.id, done.outcome, [t.decision for t in done.turns]):
        meta = LogMeta(job.id, job.contact_id, job.attempt, stack.robot.survey.name)
        outcome = replace(outcome, recording=tap.flac(), log=call_log(
            tap, done, stack.robot.listener.recognizer.name, meta).to_json())
    return outcome


def _metered(record: CallRecord, line: Line) -> CallRecord:
    """A simulated far end spends this process's CPU too: the call's cost includes it."""
    if isinstance(line, Metered):
        record.cpu_s += line.cpu_s
    return record
