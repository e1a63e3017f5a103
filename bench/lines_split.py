"""One realtime ramp step, and how its CPU splits between the processes holding the
lines and the decoder processes (issue 20: what is not decoding).

    python bench/recording.py --keep /tmp/recs          # or any folder of recordings
    python bench/lines_split.py 150 --recordings /tmp/recs [--window 20]

Prints one JSON object: turn latency p50/p99, the machine's CPU in the window (as
bench/ramp.py measures it), and the cores each kind of process used over the same
window, read from /proc. For before/after, run it from two trees under
`farm-bench --vs` (the same recordings for both).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ramp  # noqa: E402
from survey_scripts import DEFAULT_SURVEY  # noqa: E402


def _cores_by_kind() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each live descendant, named decoder or lines."""
    out = {}
    for pid in ramp._descendants():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_text()
        except OSError:
            continue
        kind = "decoder" if "decoder_process" in cmd else \
            "far end" if "sip_farend" in cmd else "lines"
        out[pid] = (kind, ramp.proc_cpu(pid))
    return out


def _sample(start: float, window_s: float, into: dict[str, float]) -> None:
    """The cores used from a second after the window opens to a second before it ends."""
    time.sleep(max(0.0, start + ramp.WARM_S + 1.0 - time.time()))
    a, t0 = _cores_by_kind(), time.monotonic()
    time.sleep(window_s - 2.0)
    b, dt = _cores_by_kind(), time.monotonic() - t0
    for pid, (kind, cpu) in b.items():
        if pid in a:
            into[kind] = into.get(kind, 0.0) + (cpu - a[pid][1]) / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lines", type=int)
    ap.add_argument("--recordings", type=Path, help="robot alone: callees replay these")
    ap.add_argument("--sip", action="store_true",
                    help="over SIP and RTP: far ends on this machine replay the recordings")
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    recordings = (sorted(str(p) for p in args.recordings.glob("*.flac"))
                  if args.recordings else None)
    split: dict[str, float] = {}
    samplers: list[threading.Thread] = []

    def started(start: float) -> None:
        samplers.append(threading.Thread(target=_sample, args=(start, args.window, split),
                                         daemon=True))
        samplers[0].start()

    step = ramp.hold(args.lines, args.window, args.processes, str(DEFAULT_SURVEY), recordings,
                     started, sip=args.sip)
    for t in samplers:
        t.join(5.0)
    print(json.dumps({"lines": args.lines, "p50_ms": step["turn_latency"]["p50_ms"],
                      "p99_ms": step["turn_latency"]["p99_ms"], "cpu_use": step["cpu_use"],
                      "lag_p99_ms": step["lag_p99_ms"], "lag_max_ms": step["lag_max_ms"],
                      "outcomes": step["outcomes"],
                      "cores": {k: round(v, 3) for k, v in split.items()}}))


if __name__ == "__main__":
    main()
