"""Job functions: plain synchronous functions that own their event loop.

The same functions run in the embedded worker processes and on RQ workers. A
batch of calls runs concurrently on one asyncio loop; each finished call goes
to `sink` at once, keyed by its attempt id, so a worker killed mid-batch loses
only the calls it had not finished. A call that fails inside healthdial (or a
stack that cannot be built) is reported `dropped` with its reason: it is
retried later without using up the contact's attempts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dialer.answer import answered
from dialer.call import Clock
from dialer.callee import Callee
from dialer.population import machine_greeting, network, persona
from dialer.speechthread import Priority, install, on_speech_thread
from dialer.stack import Stack, build_stack
from dialer.wire import Batch, CallJob, CallOutcome, EngineSpec
from survey_scripts.loader import load_survey_text

log = logging.getLogger(__name__)
SIGNAL_S = {"invalid": 2.0, "busy": 8.0, "no_answer": 30.0}  # line time of unanswered calls
_OUTCOME = {"invalid": "invalid_number", "busy": "busy", "no_answer": "no_answer"}
_stacks: dict[tuple[str, EngineSpec], Stack] = {}
_heard: set[tuple[str, EngineSpec]] = set()
Sink = Callable[[CallOutcome], None]


def stack_for(batch: Batch) -> Stack:
    """Models load once per process and stay warm across batches, one stack per frozen
    survey and engine. On the realtime clock the callees hear every prompt first (7 s),
    so no call waits on it mid-turn."""
    key = (batch.survey_hash, batch.engine)
    if key not in _stacks:
        assert batch.survey_text is not None, "the survey text travels with the first batch"
        survey = load_survey_text(batch.survey_text, f"the survey of {batch.campaign}")
        _stacks[key] = build_stack(survey, batch.engine)
    stack = _stacks[key]
    if batch.realtime and key not in _heard:
        stack.hear_every_prompt()
        _heard.add(key)
    return stack


def has_stack(batch: Batch) -> bool:
    return (batch.survey_hash, batch.engine) in _stacks


def run_batch(batch: Batch, sink: Sink) -> int:
    """Run a batch of calls on one event loop; returns how many finished."""

    async def main() -> int:
        install()  # the process's one speech thread: engines are not thread-safe
        return await run_calls(batch, sink, Clock(batch.realtime))

    return asyncio.run(main())


def dropped(job: CallJob, reason: str) -> CallOutcome:
    return CallOutcome(job.id, job.contact_id, job.attempt, job.started, 0.0, "dropped",
                       reason=reason[:300])


async def run_calls(batch: Batch, sink: Sink, clock: Clock) -> int:
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
        try:
            outcome = await run_job(job, stack, clock)
        except Exception as e:  # a bug must not silence the batch, nor use up an attempt
            log.exception("call %s failed inside healthdial; reported as dropped", job.id)
            outcome = dropped(job, f"{type(e).__name__}: {e}")
        sink(outcome)

    async with asyncio.TaskGroup() as tg:
        for job in batch.calls:
            tg.create_task(one(job), name=f"call {job.id}")
    return len(batch.calls)


async def run_job(job: CallJob, stack: Stack, clock: Clock) -> CallOutcome:
    seed, hour = int(job.line.get("seed", 1)), int(job.line.get("hour", 12))
    status = network(seed, job.contact_id, job.attempt, hour)
    if status in _OUTCOME:
        await clock.sleep(SIGNAL_S[status])
        return CallOutcome(job.id, job.contact_id, job.attempt, job.started, SIGNAL_S[status],
                           _OUTCOME[status])
    callee = machine = None
    if status == "human":
        who = persona(seed, job.contact_id, stack.survey)
        callee = Callee(who, stack.survey, stack.ear, job.attempt)
    else:
        machine = await on_speech_thread(Priority.SIMULATOR, machine_greeting, seed,
                                         job.contact_id, stack.robot.synth)
    kind, record = await answered(stack.robot, callee, machine, clock)
    if kind == "voicemail":
        return CallOutcome(job.id, job.contact_id, job.attempt, job.started, record.audio_s,
                           "voicemail", cpu=record.cpu_s)
    r = record.result
    answers = tuple((q, None if a.value is None else _text(a.value), a.how)
                    for q, a in r.answers.items())
    reason = "; ".join(r.rule_errors) or None
    if reason:
        log.warning("call %s: %s", job.id, reason)
    return CallOutcome(job.id, job.contact_id, job.attempt, job.started, record.audio_s,
                       r.outcome.value, r.risk, answers, record.cpu_s,
                       tuple(round(x, 4) for x in record.latency_s), reason)


def _text(value: str | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
