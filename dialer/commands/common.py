"""Arguments and checks several commands share."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from dialer.policy.settings import cps_problem
from survey_scripts.errors import UsageError


def db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=os.environ.get("HEALTHDIAL_DB", "healthdial.db"),
                   help="the campaign store, a SQLite file (default: healthdial.db, "
                        "or $HEALTHDIAL_DB)")


def redis_arg(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument("--redis", default=os.environ.get("HEALTHDIAL_REDIS_URL"), help=help_text)


def engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["pocketsphinx", "vosk"],
                   help="recognition engine (default: pocketsphinx for English, vosk otherwise)")
    p.add_argument("--vosk-model", help="a Vosk model: a directory, or a name found in "
                                        "$HEALTHDIAL_MODELS or as a Python package")


def script_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--script", help="survey YAML file (default: the English COVID-19 survey)")
    engine_args(p)


def run_args(p: argparse.ArgumentParser, lines: int | None) -> None:
    kept = " (default: the campaign's, 100 at first; given, it is kept)" if lines is None \
        else f" (default {lines})"
    p.add_argument("--lines", type=int, default=lines, help="concurrent lines" + kept)
    p.add_argument("--cps", type=float, default=None if lines is None else 20.0,
                   help="calls started per second, at most" + kept.replace("100", "20"))
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: one per core)")
    p.add_argument("--clock", choices=["fast", "realtime"], default="fast",
                   help="fast: simulated time, nothing waits; realtime: paced by the wall clock")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_params(args: argparse.Namespace) -> Any:
    from dialer.dispatch.dispatcher import RunParams

    check_lines(args.lines)
    check_cps(args.cps)
    if not 1 <= args.processes <= 256:
        raise UsageError(f"--processes {args.processes}: use 1 to 256")
    return RunParams(lines=args.lines or 100, cps=args.cps or 20.0, processes=args.processes,
                     realtime=args.clock == "realtime")


def check_lines(lines: int | None) -> None:
    if lines is not None and not 1 <= lines <= 100_000:
        raise UsageError(f"--lines {lines}: use 1 to 100000")


def check_cps(cps: float | None) -> None:
    problem = None if cps is None else cps_problem(cps)
    if problem:
        raise UsageError(f"--cps {cps:g}: {problem}")


def settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hours", help="calling hours in the callee's local time, START-END "
                                   "(default 9-20)")
    p.add_argument("--retry-minutes", help="waits before attempts 2, 3, ... (default "
                                           "15,45,1440; each at least 5)")
    p.add_argument("--max-attempts", type=int, help="attempts per contact (default 3, at most "
                                                    "10)")
    p.add_argument("--record", help="record calls: none (default), all, failed, sample:PCT; "
                                    "the robot tells callees so")
    p.add_argument("--keep-days", type=float, help="keep recordings this long (default 30)")


def settings_given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings named on the command line, parsed; nothing for what was not given."""
    out: dict[str, Any] = {}
    if args.hours is not None:
        try:
            out["hours_start"], out["hours_end"] = (int(x) for x in args.hours.split("-"))
        except ValueError:
            raise UsageError(f"--hours {args.hours[:20]!r}: give START-END in whole hours, "
                             "e.g. --hours 9-20") from None
    if args.retry_minutes is not None:
        try:
            out["retry_minutes"] = tuple(float(x) for x in args.retry_minutes.split(","))
        except ValueError:
            raise UsageError(f"--retry-minutes {args.retry_minutes[:40]!r}: give minutes "
                             "separated by commas, e.g. --retry-minutes 15,45,1440") from None
    if "retry_minutes" in out and not all(map(math.isfinite, out["retry_minutes"])):
        raise UsageError("--retry-minutes: use numbers of minutes, e.g. 15,45,1440")
    if args.max_attempts is not None:
        out["max_attempts"] = args.max_attempts
    if args.record is not None:
        out["record"] = args.record
    if args.keep_days is not None:
        out["keep_days"] = args.keep_days
    return out


def audit_reveal(store: Any, campaign: str | None, what: str) -> None:
    """Full numbers shown on a terminal are in the audit log, as the console's are."""
    import getpass

    store.audit(f"cli:{getpass.getuser()}", "reveal", campaign, what)
