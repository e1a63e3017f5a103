"""What the console costs: `healthdial serve` with 10 live dashboards on a 100-line realtime
campaign, and the API's latency under that load.

    python bench/console.py [--lines 100] [--clients 10] [--window 30]

A realtime campaign runs in its own processes (`healthdial run`), the console in
another (`healthdial serve`); this process holds the dashboards' event streams
and asks the API for the campaign's snapshot twice a second meanwhile. The
console's CPU is read from /proc for its process alone. Goal: under 3% of the
machine, API p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialer.campaign.admin import LoadRequest, load  # noqa: E402
from dialer.console.auth import digest  # noqa: E402
from dialer.meter import percentiles  # noqa: E402
from dialer.policy.settings import CampaignSettings  # noqa: E402
from dialer.store import Store  # noqa: E402
from survey_scripts import DEFAULT_SURVEY  # noqa: E402

WARM_S = 20.0  # lines busy before the window opens
TICKS = os.sysconf("SC_CLK_TCK")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _campaign(work: Path, contacts: int) -> Path:
    listing = work / "l.csv"
    with listing.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phone", "district"])
        for i in range(contacts):
            w.writerow([f"138{i:08d}", ("Wuchang", "Hanyang", "Qiaokou")[i % 3]])
    db = work / "bench.db"
    store = Store(db)
    load(store, LoadRequest(listing, "bench", str(DEFAULT_SURVEY), "CN",
                            settings=CampaignSettings(hours_start=0, hours_end=24)))
    store.add_token("bench", "operator", digest("bench-token"), None)
    store.close()
    return db


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # Ctrl-C as an operator's: a benchmark started in the background (`cmd &`) has
        # SIGINT ignored, and its children would inherit that and never stop
        return subprocess.Popen([sys.executable, "-m", "dialer.cli", *args], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                stderr=out, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


async def _load(port: int, clients: int, window: float) -> dict[str, Any]:
    headers = {"Authorization": "Bearer bench-token"}
    base = f"http://127.0.0.1:{port}"
    events = [0] * clients
    latencies: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as http:

        async def dashboard(i: int) -> None:
            async with http.get(f"{base}/api/campaigns/bench/events") as r:
                async for line in r.content:
                    events[i] += line.startswith(b"event:")

        streams = [asyncio.create_task(dashboard(i), name=f"dashboard {i}")
                   for i in range(clients)]
        await asyncio.sleep(2.0)  # every dashboard connected
        end = time.monotonic() + window
        while time.monotonic() < end:
            t = time.monotonic()
            async with http.get(f"{base}/api/campaigns/bench") as r:
                await r.read()
            latencies.append(time.monotonic() - t)
            await asyncio.sleep(0.5)
        for s in streams:
            s.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    return {"api": percentiles(latencies), "events_per_client": events}


def measure(lines: int = 100, clients: int = 10, window: float = 30.0) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="healthdial-bench-console-"))
    db = _campaign(work, contacts=lines * 4)
    port = _port()
    log = work / "log.txt"
    run = _start("run", "bench", "--db", str(db), "--clock", "realtime", "--lines", str(lines),
                 "--cps", "10", "--no-progress", log=log)
    serve = _start("serve", "--db", str(db), "--port", str(port), log=log)
    try:
        time.sleep(WARM_S)
        cpu0, t0 = _cpu_s(serve.pid), time.monotonic()
        got = asyncio.run(_load(port, clients, window))
        cpu, wall = _cpu_s(serve.pid) - cpu0, time.monotonic() - t0
        live = Store(db, create=False).read_live("bench")
    finally:
        for p in (run, serve):
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=60)
    busy = live[1].lines_busy if live else 0
    return {"lines": lines, "lines_busy_at_end": busy, "clients": clients, "window_s": wall,
            "serve_cpu_s": cpu, "serve_cpu_share": cpu / (wall * (os.cpu_count() or 1)),
            **got}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--window", type=float, default=30.0)
    args = ap.parse_args()
    print(json.dumps(measure(args.lines, args.clients, args.window), indent=1))


if __name__ == "__main__":
    main()
