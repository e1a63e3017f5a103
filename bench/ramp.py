"""Lines held on the realtime clock: how many lines one machine carries within 300 ms.

Each worker process holds its share of the lines; a line dials its next number
as soon as a call ends (busy, no answer and voicemail included, as in a
campaign), with the real robot and simulated callee, paced by the wall clock.
Samples are kept from a window that opens once every line is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import queue
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dialer.calllog import CallLog
from dialer.executor import install
from dialer.lines import Line
from dialer.lines.pacing import Pacing
from dialer.lines.recorded import RecordedLine, callee_channel
from dialer.lines.sip.line import SipLine, SipPhone
from dialer.lines.sip.trunk import Trunk
from dialer.meter import Meter, percentiles
from dialer.robot.call import place_call
from dialer.robot.turn import TurnLog
from dialer.store.schema import survey_hash
from dialer.wire import Batch, CallJob, EngineSpec, LineSpec, SimSpec
from workers.jobs import run_job, stack_for

FAR_HOST = "127.0.0.1"
STAGGER_S = 10.0  # lines start spread over this, as a dispatcher's calls-per-second cap does
WARM_S = 25.0  # from the first start to the window: every line busy, calls at every stage
SEED = 17


def ramp(counts: list[int], window_s: float, processes: int, script: str,
         recordings: list[str] | None = None, sip: bool = False) -> list[dict[str, Any]]:
    """With `recordings`, the callees replay recorded calls: the robot's work alone; with
    `sip` too, over SIP and RTP from far-end processes on the same machine."""
    return [hold(n, window_s, processes, script, recordings, sip=sip) for n in counts]


def hold(lines: int, window_s: float, processes: int, script: str,
         recordings: list[str] | None = None,
         started: Callable[[float], None] | None = None, sip: bool = False) -> dict[str, Any]:
    """Hold `lines` lines over `processes` worker processes; what one window measured.
    `started` hears when the lines start (the window opens WARM_S later)."""
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Queue()
    shares = [lines // processes + (i < lines % processes) for i in range(processes)]
    far = far_ends(processes, recordings) if sip else []
    ports: list[int | None] = [port for port, _ in far] or [None] * processes
    procs = [ctx.Process(target=_worker, args=(i, share, window_s, script, ready, go, results,
                                               recordings, ports[i]),
                         daemon=True) for i, share in enumerate(shares)]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            _get(ready, procs)  # models loaded, prompts synthesized
        start = time.time() + 0.5
        for _ in procs:
            go.put(start)
        if started is not None:
            started(start)
        far_cpu = _FarCpu([proc for _, proc in far], start + WARM_S, window_s)
        parts = [_get(results, procs) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        far_cpu.join(5.0)
    finally:
        for _, proc in far:
            proc.terminate()
            proc.wait(10)
    step = _combine(lines, window_s, parts)
    if far:  # the far ends' CPU is the machine's too: counted in, and shown apart
        step["far_end_cpu_use"] = far_cpu.used / (window_s * (os.cpu_count() or 1))
        step["cpu_use"] += step["far_end_cpu_use"]
    return step


def far_ends(n: int, recordings: list[str] | None) -> list[tuple[int, Any]]:
    """`n` far ends replaying the recordings over SIP (bench/sip_farend.py), each on a free
    port, one per worker process: (port, process) once each listens."""
    assert recordings, "the ramp over SIP replays recorded callees"
    out = []
    for _ in range(n):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((FAR_HOST, 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("sip_farend.py")), str(port),
             str(Path(recordings[0]).parent)], stdout=subprocess.PIPE, text=True)
        out.append((port, proc))
    for _, proc in out:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a SIP far end did not start; see its error above")
    return out


class _FarCpu(threading.Thread):
    """The far ends' CPU seconds over the window, read from /proc."""

    def __init__(self, procs: list[Any], opens: float, window_s: float) -> None:
        super().__init__(daemon=True)
        self.procs, self.opens, self.window_s, self.used = procs, opens, window_s, 0.0
        self.start()

    def run(self) -> None:
        time.sleep(max(0.0, self.opens - time.time()))
        before = [proc_cpu(p.pid) for p in self.procs]
        time.sleep(self.window_s)
        self.used = sum(proc_cpu(p.pid) - b for p, b in zip(self.procs, before, strict=True))


def proc_cpu(pid: int) -> float:
    """A live process's CPU seconds so far (0 once it is gone)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _get(q: Any, procs: list[Any]) -> Any:
    """The next message, or an error as soon as a worker has died without sending it. A
    worker that sent its result and exited cleanly is not dead: its peers may still run."""
    idle = 0
    while True:
        try:
            return q.get(timeout=1.0)
        except queue.Empty as e:
            idle = idle + 1 if all(p.exitcode == 0 for p in procs) else 0
            if any(p.exitcode not in (None, 0) for p in procs) or idle > 5:
                raise RuntimeError("a benchmark worker process died; see its error above") from e


def _worker(index: int, lines: int, window_s: float, script: str, ready: Any, go: Any,
            results: Any, recordings: list[str] | None, sip_port: int | None = None) -> None:
    logging.basicConfig(level=logging.ERROR)
    stack_for(_batch(script))
    # each recording decoded once per process and shared by the lines that replay it (a
    # copy per line held 1.5 GB at 1,000 lines: the harness's memory, not the robot's)
    played = [(callee_channel(Path(p)), CallLog.from_json(Path(p).with_suffix(".json")
                                                          .read_text()))
              for p in recordings or []]
    ready.put(index)
    start = go.get()
    results.put(asyncio.run(_hold(index, lines, start, window_s, script, played, sip_port)))


def _batch(script: str) -> Batch:
    """An empty realtime batch of the survey: what loads the stack, as a campaign's would."""
    text = Path(script).read_text(encoding="utf-8")
    return Batch("bench", survey_hash(text), text, EngineSpec(), True, ())


async def _hold(index: int, lines: int, start: float, window_s: float, script: str,
                played: list[tuple[np.ndarray, CallLog]],
                sip_port: int | None = None) -> dict[str, Any]:
    install()
    stack = stack_for(_batch(script))
    meter = Meter()
    phone = None if sip_port is None else SipPhone(Trunk(
        host=f"{FAR_HOST}:{sip_port}", interface=FAR_HOST, echo_delay_ms=0,
        rtp_ports=(20000 + 10000 * index, 29999 + 10000 * index)))
    if phone is not None:  # over SIP a line's lag is its pacer's: each tick's lateness
        phone.pacer.lateness = _Woke(meter)
    pacing = Pacing(realtime=True, meter=meter)
    opens, closes = start + WARM_S, start + WARM_S + window_s
    outcomes: Counter[str] = Counter()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start - time.time()) + STAGGER_S * i / max(1, lines))
        for k in range(10**6):
            cid = (index * 10_000 + i) * 1_000 + k
            if played:  # a recorded callee: nothing synthesized, nothing heard for them
                which = (i + k) % len(played)
                callee, log = played[which]
                line: Line = RecordedLine(callee, [p.at for p in log.plays], pacing) \
                    if phone is None else SipLine(phone)
                call = await place_call(stack.robot, line,
                                        f"sip:rec-{which}@{FAR_HOST}:{sip_port}", "",
                                        lambda t: _turn(meter, t), notice=log.notice)
                outcome = call.outcome.value
            else:
                job = CallJob(f"bench:{cid}", cid, 1, "", "", time.time(),
                              LineSpec("simulated", cid, 1, "", SimSpec(SEED, 11)))
                outcome = (await run_job(job, stack, pacing, lambda t: _turn(meter, t))).outcome
            if opens <= time.time() < closes:
                outcomes[outcome] += 1

    tasks = [asyncio.create_task(one(i), name=f"line {i}") for i in range(lines)]
    await asyncio.sleep(opens - time.time())
    cpu0 = _cpu()
    await asyncio.sleep(closes - time.time())
    cpu = _cpu() - cpu0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if phone is not None:
        await phone.close()
    return {"latency": Meter.window(meter.latency, opens, closes),
            "lag": Meter.window(meter.lag, opens, closes), "cpu_s": cpu,
            "rss_mb": _rss_mb(), "outcomes": dict(outcomes)}


class _Woke(list[float]):
    """The pacer's tick lateness, into the meter's lag with the time it was taken."""

    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self.meter = meter

    def append(self, late: float) -> None:
        self.meter.woke(late)


def _turn(meter: Meter, log: TurnLog) -> None:
    if log.latency_s is not None:
        meter.turn(log.latency_s)


def _cpu() -> float:
    """This process, its ended children (synthesis commands) and its live ones (the
    decoder process): a child still running is not in RUSAGE_CHILDREN."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = sum(proc_cpu(pid) for pid in _descendants())
    return r.ru_utime + r.ru_stime + kids.ru_utime + kids.ru_stime + live


def _descendants(pid: int | None = None) -> list[int]:
    """Live child processes, and theirs, from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid or os.getpid()}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _rss_mb(children: bool = True) -> float:
    """This process and its live descendants (the decoder process holds its own model)."""
    total = 0.0
    for one in ["self", *map(str, _descendants() if children else [])]:
        with contextlib.suppress(OSError, StopIteration), open(f"/proc/{one}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total / 1024


def _combine(lines: int, window_s: float, parts: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    for p in parts:
        outcomes.update(p["outcomes"])
    latency = percentiles([x for p in parts for x in p["latency"]])
    lag = percentiles([x for p in parts for x in p["lag"]])
    cpu = sum(p["cpu_s"] for p in parts)
    return {"lines": lines, "window_s": window_s, "turn_latency": latency,
            "lag_p99_ms": lag["p99_ms"], "lag_max_ms": lag["max_ms"],
            "outcomes": dict(outcomes),
            "cpu_use": cpu / (window_s * (os.cpu_count() or 1)),
            "rss_mb": sum(p["rss_mb"] for p in parts) + _rss_mb(children=False),
            "within_300ms": latency["p99_ms"] is not None and latency["p99_ms"] <= 300}
