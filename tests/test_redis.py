"""Redis + RQ: a real redis-server on its own port, killed workers, a Redis restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from dialer.campaign import load
from dialer.store import Store
from tests.conftest import EN, ROOT
from tests.test_campaign import write_csv

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

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.dir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([str(REDIS), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
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
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(_free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def _cli(*args: str, db: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEALTHDIAL_DB": str(db), "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "dialer.cli", *args], env=env, cwd=ROOT,
                                stdout=out, stderr=out)


def _wait_for_attempts(db: Path, count: int, dispatcher: subprocess.Popen[bytes]) -> None:
    """Faults keyed to progress, not to sleeps: a faster robot must not finish first."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and dispatcher.poll() is None:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
            if conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] >= count:
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
    load(store, listing, "r", str(EN), "CN", None, seed=5, start_at=1581300000.0)
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
    assert b.rows("SELECT COUNT(*) FROM contacts WHERE status='pending'")[0][0] == 0
    dupes = b.rows("SELECT contact_id, attempt FROM attempts GROUP BY 1, 2 HAVING COUNT(*) > 1")
    assert dupes == []
