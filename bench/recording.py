"""What recording a call costs: CPU per call and disk per call-minute; and recorded calls
for the robot-alone ramp (callees replayed, nothing synthesized for them).

    python bench/recording.py [--calls 30]

The same simulated calls are made twice in one process, back to back: through the
line as it is, and through the recording line (both directions kept). The
difference is the tap's cost; encoding the stereo FLAC and the turn log is timed
apart. Disk is the FLAC and JSON bytes over the calls' line time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialer.lines.simulated import build_simulation  # noqa: E402
from dialer.lines.simulated.line import SimulatedLine  # noqa: E402
from dialer.lines.simulated.population import persona  # noqa: E402
from dialer.robot.call import run_survey  # noqa: E402
from dialer.robot.recorder import LogMeta, RecordingLine, call_log  # noqa: E402
from dialer.robot.robot import build_robot  # noqa: E402
from dialer.wire import EngineSpec  # noqa: E402
from survey_scripts import DEFAULT_SURVEY  # noqa: E402
from survey_scripts.loader import load_survey  # noqa: E402


def recording_cost(calls: int = 30, keep: Path | None = None) -> dict[str, Any]:
    survey = load_survey(DEFAULT_SURVEY)
    robot = build_robot(survey, EngineSpec())
    sim = build_simulation(survey, "pocketsphinx", robot.synth, robot.prompts())
    sim.ear.warm(list(robot.prompts().values()))
    plain = tapped = encode = 0.0
    size = line_s = 0.0
    for cid in range(1, calls + 1):
        who = persona(23, cid, survey)
        t = time.process_time()
        asyncio.run(run_survey(robot, SimulatedLine.with_person(sim, who)))
        plain += time.process_time() - t
        tap = RecordingLine(SimulatedLine.with_person(sim, who))
        t = time.process_time()
        record = asyncio.run(run_survey(robot, tap))
        tapped += time.process_time() - t
        t = time.process_time()
        flac = tap.flac()
        log = call_log(tap, record, "pocketsphinx",
                       LogMeta(f"bench:{cid}", cid, 1, survey.name, notice=False)).to_json()
        encode += time.process_time() - t
        size += len(flac) + len(log)
        line_s += tap.now()
        if keep is not None:
            (keep / f"call-{cid}.flac").write_bytes(flac)
            (keep / f"call-{cid}.json").write_text(log, encoding="utf-8")
    return {"calls": calls, "cpu_s_per_call": plain / calls,
            "tap_cpu_s_per_call": (tapped - plain) / calls,
            "encode_cpu_s_per_call": encode / calls,
            "recording_share_of_call_cpu": ((tapped - plain) + encode) / plain,
            "kb_per_call_minute": size / 1000 / (line_s / 60), "line_minutes": line_s / 60}


def recorded_calls(calls: int = 30) -> tuple[dict[str, Any], list[str]]:
    """The cost, and the recordings kept for the robot-alone ramp."""
    keep = Path(tempfile.mkdtemp(prefix="healthdial-bench-recordings-"))
    cost = recording_cost(calls, keep)
    return cost, sorted(str(p) for p in keep.glob("*.flac"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--keep", type=Path, help="keep the recordings here (bench/lines_split.py)")
    args = ap.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    print(json.dumps(recording_cost(args.calls, args.keep), indent=1))


if __name__ == "__main__":
    main()
