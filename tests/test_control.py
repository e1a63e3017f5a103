"""Campaign control kept in the store: pause, resume, stop, line cap, calls per second, the
circuit breaker; from the command line, taken by a running dispatcher within 2 s."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.dispatch.dispatcher import Dispatcher, RunParams
from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from dialer.wire import Batch, CallJob, CallOutcome
from survey_scripts.errors import UsageError
from tests.helpers import FakePool, campaign_store


class SlowPool(FakePool):
    """Each call takes `seconds` of wall time to report; optionally every call drops."""

    def __init__(self, seconds: float, drop: bool = False) -> None:
        super().__init__(busy_odd=False)
        self.seconds, self.drop = seconds, drop
        self.due: list[tuple[float, CallOutcome]] = []
        self.submitted_at: list[tuple[float, CallJob]] = []
        self.paused_calls: list[bool] = []

    def submit(self, batch: Batch) -> None:
        for job in batch.calls:
            self.jobs.append(job)
            self.submitted_at.append((time.monotonic(), job))
            out = self.outcome(job)
            if self.drop:
                out = CallOutcome(id=job.id, contact_id=job.contact_id, attempt=job.attempt,
                                  started=job.started, duration=0.0,
                                  outcome="dropped", reason="RuntimeError: the line failed")
            self.due.append((time.monotonic() + self.seconds, out))

    def result(self, timeout: float) -> CallOutcome | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [d for d in self.due if d[0] <= time.monotonic()]
            if ready:
                self.due.remove(ready[0])
                return ready[0][1]
            time.sleep(0.01)
        return None

    def set_paused(self, paused: bool) -> None:
        self.paused_calls.append(paused)


def _run(store: Store, pool: FakePool, params: RunParams, act, at: float):  # type: ignore[no-untyped-def]
    """Run a dispatcher; `act(store)` is done from another thread `at` seconds in."""

    async def go():  # type: ignore[no-untyped-def]
        d = Dispatcher(store, store.campaign("c"), params, pool)
        task = asyncio.create_task(d.run(), name="dispatcher")
        await asyncio.sleep(at)
        await asyncio.to_thread(act, Store(store.path, create=False))
        return await asyncio.wait_for(task, 60), d

    return asyncio.run(go())


def test_a_pause_stops_new_calls_within_2_s_and_a_resume_restarts_them(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"] * 30)
    store.update_campaign("c", CampaignSettings(
        hours_start=0, hours_end=24))
    pool = SlowPool(0.3)
    moments: dict[str, float] = {}

    def pause_then_resume(s: Store) -> None:
        moments["paused"] = time.monotonic()
        s.set_control("c", "paused", "paused by a test")
        time.sleep(3.0)
        moments["resumed"] = time.monotonic()
        s.set_control("c", "active")

    stats, _ = _run(store, pool, RunParams(lines=3, cps=10, realtime=True), pause_then_resume,
                    0.8)
    during = [t for t, _ in pool.submitted_at if moments["paused"] + 2.0 < t < moments["resumed"]]
    assert during == []
    assert any(t > moments["resumed"] for t, _ in pool.submitted_at)
    assert stats.attempts == 30 and pool.paused_calls[:2] == [False, True]


def test_a_lowered_line_cap_holds_and_a_stop_ends_the_run(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"] * 40)
    store.update_campaign("c", CampaignSettings(
        hours_start=0, hours_end=24))
    pool = SlowPool(0.4)

    def narrow_then_stop(s: Store) -> None:
        s.set_control("c", line_cap=2, cps=50)
        time.sleep(2.5)
        s.set_control("c", "stopped", "stopped by a test")

    t0 = time.monotonic()
    stats, d = _run(store, pool, RunParams(lines=8, cps=50, realtime=True), narrow_then_stop,
                    0.2)
    assert stats.stopped and stats.attempts < 40
    assert d.cap == 2 and d.cps == 50
    late = sorted(t for t, _ in pool.submitted_at if t > t0 + 1.5)
    window = [sum(1 for u in late if t - 0.4 < u <= t) for t in late]
    assert late and max(window) <= 2  # at most 2 calls in any 0.4 s once the cap is 2


def test_the_circuit_breaker_pauses_a_failing_campaign(tmp_path: Path) -> None:
    store = campaign_store(tmp_path, ["UTC"] * 60)
    store.update_campaign("c", CampaignSettings(
        hours_start=0, hours_end=24, max_attempts=3))
    pool = SlowPool(0.01, drop=True)

    def later_stop(s: Store) -> None:
        time.sleep(1.5)
        s.set_control("c", "stopped", "enough")

    stats, _ = _run(store, pool, RunParams(lines=4, cps=1000, realtime=True), later_stop, 0.0)
    assert stats.outcomes["dropped"] <= 24  # paused after 20; the calls in flight finish
    assert stats.outcomes["dropped"] >= 20
    paused = [r for r in store.audit_log() if r.action == "pause"]
    assert [r.who for r in paused] == ["circuit breaker"]
    assert paused[0].detail.startswith("circuit breaker: 20 of the last 20 calls failed")
    assert store.counts("c").status.get("set_aside", 0) == 0  # no contact burnt


def test_control_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = campaign_store(tmp_path, ["UTC"] * 2)
    db = str(tmp_path / "s.db")
    assert main(["pause", "c", "--db", db]) == 0
    assert store.control("c").state == "paused"
    assert main(["resume", "c", "--db", db]) == 0
    assert main(["set", "c", "--lines", "33", "--cps", "1.5", "--db", db]) == 0
    assert (store.control("c").line_cap, store.control("c").cps) == (33, 1.5)
    assert main(["stop", "c", "--db", db]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["stop", "c", "--db", db, "--yes"]) == 0
    assert main(["run", "c", "--db", db, "--no-progress"]) == 2
    assert "was stopped" in capsys.readouterr().err
    assert [r.action for r in store.audit_log()][::-1] == ["pause", "resume", "set", "stop"]
    assert main(["set", "c", "--cps", "nan", "--db", db]) == 2


def test_run_flags_win_and_are_kept(tmp_path: Path) -> None:
    from dialer.dispatch.runner import run

    store = campaign_store(tmp_path, ["UTC"])
    store.set_control("c", line_cap=50, cps=5.0)
    store.set_control("c", "stopped", "x")
    with pytest.raises(UsageError, match="was stopped"):
        run(store, "c", RunParams(), False, None, (7, None))
    store.set_control("c", "active")
    store.set_control("c", "paused")
    from unittest import mock

    with mock.patch("dialer.dispatch.runner._dispatch", return_value=None) as dispatched:
        run(store, "c", RunParams(), False, None, (7, None))
    params = dispatched.call_args.args[2]
    assert (params.lines, params.cps) == (7, 5.0)
    assert store.control("c").line_cap == 7


def test_the_rq_pause_reaches_the_workers_gate(tmp_path: Path) -> None:
    from tests.test_redis import REDIS, RedisServer, _free_port

    if REDIS is None:
        pytest.skip("apt-get install redis-server")
    from workers.rqjobs import redis_gate
    from workers.rqpool import RQPool
    from workers.settings import QueueSettings

    server = RedisServer(_free_port(), tmp_path)
    server.start()
    try:
        pool = RQPool(QueueSettings.from_url(server.url), "c")
        gate = redis_gate(pool.redis, "c")
        assert gate.is_open()
        pool.set_paused(True)
        assert not gate.is_open()
        pool.set_paused(False)
        assert gate.is_open()
        pool.close()
    finally:
        server.stop()
