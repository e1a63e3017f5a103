"""What each robot voice costs to say a survey's prompts (issue 21): cold (a new process
says every prompt once: the engine loads, nothing is cached) and warm (the prompts
again, from the robot's cache), in CPU and wall time, per prompt.

    python bench/voices.py [--voice espeak:gmw/en-us+klatt3 --voice hibari:heart]
                           [--script survey_scripts/covid19_symptoms.yaml]

Each voice runs in a fresh process. Prints one JSON object per voice.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(voice: str, script: str) -> dict[str, object]:
    from speech.tts import Synthesizer, Voice
    from survey_scripts.loader import load_survey
    from survey_scripts.prompts import every_prompt

    engine, name = voice.split(":", 1)
    survey = load_survey(script)
    texts = [s.text for s in every_prompt(survey, notice=True)]
    synth, v = Synthesizer(), Voice(engine, name, survey.language.rate)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    seconds = sum(synth.speak(t, v).seconds for t in texts)  # cold: the engine loads here
    cold_cpu, cold_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t in texts:
        synth.speak(t, v)
    warm_cpu, warm_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(texts)
    return {"voice": voice, "prompts": n, "audio_s": round(seconds, 1),
            "cold_cpu_s": round(cold_cpu, 2), "cold_wall_s": round(cold_wall, 2),
            "cold_cpu_ms_per_prompt": round(1000 * cold_cpu / n, 1),
            "x_realtime_cold": round(seconds / max(cold_cpu, 1e-9), 1),
            "warm_us_per_prompt": round(1e6 * warm_wall / n, 1),
            "warm_cpu_s": round(warm_cpu, 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voice", action="append")
    ap.add_argument("--script", default=str(ROOT / "survey_scripts" / "covid19_symptoms.yaml"))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.script)))
        return
    for voice in args.voice or ["espeak:gmw/en-us+klatt3", "hibari:heart"]:
        subprocess.run([sys.executable, __file__, "--one", voice, "--script", args.script],
                       check=True)


if __name__ == "__main__":
    main()
