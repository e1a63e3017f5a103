"""Job functions: plain synchronous functions that own their event loop.

The same functions run in the embedded worker processes and, later, on RQ
workers. A batch of calls runs concurrently on one asyncio loop; each finished
call goes to `sink` at once, keyed by its attempt id, so a worker killed
mid-batch loses only the calls it had not finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from dialer.answer import answered
from dialer.call import Clock
from dialer.callee import Callee
from dialer.population import machine_greeting, network, persona
from dialer.speechthread import Priority, install, on_speech_thread
from dialer.stack import EngineChoice, Stack, build_stack
from dialer.store import CallOutcome

log = logging.getLogger(__name__)
SIGNAL_S = {"invalid": 2.0, "busy": 8.0, "no_answer": 30.0}  # line time of unanswered calls
_OUTCOME = {"invalid": "invalid_number", "busy": "busy", "no_answer": "no_answer"}
_stacks: dict[tuple[str, EngineChoice], Stack] = {}
_heard: set[tuple[str, EngineChoice]] = set()


@dataclass(frozen=True)
class CallJob:
    id: str  # attempt id: contact and attempt number
    contact_id: int
    attempt: int
    started: float  # simulated epoch seconds
    local_hour: int  # the callee's local hour of the scheduled attempt
    seed: int
    script: str
    engine: str = "pocketsphinx"
    vosk_model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stack_for(script: str, choice: EngineChoice, realtime: bool = False) -> Stack:
    """Models load once per process and stay warm across batches. On the realtime clock
    the callees hear every prompt first (7 s), so no call waits on it mid-turn."""
    key = (script, choice)
    if key not in _stacks:
        _stacks[key] = build_stack(script, choice)
    stack = _stacks[key]
    if realtime and key not in _heard:
        stack.hear_every_prompt()
        _heard.add(key)
    return stack


def run_batch(jobs: list[dict[str, Any]], sink: Callable[[dict[str, Any]], None],
              realtime: bool = False) -> int:
    """Run a batch of calls on one event loop; returns how many finished."""

    async def main() -> int:
        install()  # the process's one speech thread: engines are not thread-safe
        return await run_calls(jobs, sink, Clock(realtime))

    return asyncio.run(main())


async def run_calls(raw: list[dict[str, Any]], sink: Callable[[dict[str, Any]], None],
                    clock: Clock) -> int:
    """The calls of one batch, concurrently; each result goes to `sink` as soon as it ends."""
    jobs = [CallJob(**j) for j in raw]

    async def one(job: CallJob) -> None:
        try:
            outcome = await run_job(job, clock)
        except Exception:  # a bug must not silence the batch: report the call as dropped
            log.exception("call %s failed inside healthdial; reported as partial", job.id)
            outcome = CallOutcome(job.id, job.contact_id, job.attempt, job.started, 0.0,
                                  "partial")
        sink(outcome.to_dict())

    async with asyncio.TaskGroup() as tg:
        for job in jobs:
            tg.create_task(one(job), name=f"call {job.id}")
    return len(jobs)


async def run_job(job: CallJob, clock: Clock) -> CallOutcome:
    # loading models and hearing prompts block for seconds: on the speech thread, which
    # is also the only thread that ever touches the engines
    stack = await on_speech_thread(Priority.ROBOT, stack_for, job.script,
                                   EngineChoice(job.engine, job.vosk_model), clock.realtime)
    status = network(job.seed, job.contact_id, job.attempt, job.local_hour)
    if status in _OUTCOME:
        await clock.sleep(SIGNAL_S[status])
        return CallOutcome(job.id, job.contact_id, job.attempt, job.started, SIGNAL_S[status],
                           _OUTCOME[status])
    callee = machine = None
    if status == "human":
        who = persona(job.seed, job.contact_id, stack.survey)
        callee = Callee(who, stack.survey, stack.ear, job.attempt)
    else:
        machine = await on_speech_thread(Priority.SIMULATOR, machine_greeting, job.seed,
                                         job.contact_id, stack.robot.synth)
    kind, record = await answered(stack.robot, callee, machine, clock)
    if kind == "voicemail":
        return CallOutcome(job.id, job.contact_id, job.attempt, job.started, record.audio_s,
                           "voicemail", cpu=record.cpu_s)
    r = record.result
    answers = tuple((q, None if a.value is None else _text(a.value), a.how)
                    for q, a in r.answers.items())
    return CallOutcome(job.id, job.contact_id, job.attempt, job.started, record.audio_s,
                       r.outcome.value, r.risk, answers, record.cpu_s,
                       tuple(round(x, 4) for x in record.latency_s))


def _text(value: str | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
