"""`calls`, `purge`, `replay`, `corpus add`: recorded calls, heard again and kept to the rules."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from dialer.commands.common import db_arg, engine_args
from dialer.policy.contacts import mask
from survey_scripts.errors import UsageError
from survey_scripts.vocabulary import Decision


def register(sub: Any) -> None:
    calls = sub.add_parser("calls", help="a campaign's recorded calls (numbers masked)")
    db_arg(calls)
    calls.add_argument("campaign")
    calls.add_argument("--question", help="only calls with a turn of this question")
    calls.add_argument("--decision", choices=[d.value for d in Decision],
                       help="only calls with a turn so decided")
    calls.add_argument("--json", action="store_true")
    calls.set_defaults(func=cmd_calls)
    purge = sub.add_parser("purge", help="delete recordings past their campaign's keep-days")
    db_arg(purge)
    purge.set_defaults(func=cmd_purge)
    replay = sub.add_parser("replay", help="recorded calls again through today's robot")
    db_arg(replay)
    replay.add_argument("recordings", nargs="*", help="recordings (.flac, its .json beside it)")
    replay.add_argument("--campaign", help="every recorded call of this campaign")
    replay.add_argument("--script", help="replay against this survey instead of the "
                                         "campaign's frozen one")
    engine_args(replay)
    replay.add_argument("--check", action="store_true", help="exit 1 if any decision changed")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=cmd_replay)
    corpus = sub.add_parser("corpus", help="labelled recordings: add a recorded turn")
    verbs = corpus.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="cut a turn from a recorded call into a corpus folder")
    db_arg(add)
    add.add_argument("recording", help="the recorded call (.flac)")
    add.add_argument("--turn", type=int, required=True, help="the turn's number (1 = first)")
    add.add_argument("--expected", required=True,
                     help="what should be recorded: yes, no, a number, a choice, repeat, "
                          "dont_know, stop or reject")
    add.add_argument("--to", required=True, help="the corpus folder (manifest.csv inside)")
    add.add_argument("--source", choices=["real", "synthetic"],
                     help="who spoke: a person (real) or a synthetic voice; default: synthetic "
                          "for a simulated campaign's call, else required")
    add.add_argument("--speaker", default="")
    add.set_defaults(func=cmd_corpus_add)


def cmd_calls(args: argparse.Namespace) -> int:
    from dialer.store import Store

    store = Store(args.db, create=False)
    store.campaign(args.campaign)
    rows = store.recordings_of(args.campaign, args.question, args.decision)
    out: list[dict[str, Any]] = [
        {"id": r.id, "attempt": r.attempt_id, "phone": mask(r.e164 or "", r.ext or ""),
            "district": r.district, "started": r.started, "duration_s": r.duration,
            "outcome": r.outcome, "audio": r.audio} for r in rows]
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    for r in out:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["started"] or 0))
        print(f"{r['id']:6d} {r['attempt']:16s} {r['phone']:18s} {when} UTC "
              f"{r['duration_s'] or 0:6.1f} s  {r['outcome'] or '':10s} {r['audio']}")
    print(f"{len(out)} recorded calls")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from dialer.recordings.files import purge_expired
    from dialer.store import Store

    print(purge_expired(Store(args.db, create=False)))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Exit 1 with --check when any decision changed."""
    from dialer.recordings.replay import describe, replay_files

    if args.campaign:
        report = _replay_campaign(args)
    elif args.recordings:
        report = replay_files([Path(p) for p in args.recordings], args.script, args.engine)
    else:
        raise UsageError("give recordings, or --campaign NAME")
    print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else describe(report))
    return 1 if (args.check and report.changed) or report.skipped else 0


def _replay_campaign(args: argparse.Namespace) -> Any:
    from dialer.campaign.admin import frozen_survey
    from dialer.recordings.replay import replay_files
    from dialer.store import Store
    from survey_scripts.loader import load_survey

    store = Store(args.db, create=False)
    c = store.campaign(args.campaign)
    paths = [Path(r.audio) for r in store.recordings_of(args.campaign)]
    if not paths:
        raise UsageError(f"campaign {args.campaign!r} has no recorded calls; record with "
                         f"`healthdial set {args.campaign} --record all`")
    survey = load_survey(args.script) if args.script else frozen_survey(c)
    return replay_files(paths, survey=survey, spec=c.engine, engine=args.engine)


def _source(given: str | None, campaign: Any, audio: Path) -> str:
    """A simulated campaign's callees are synthetic voices, whatever is said."""
    simulated = campaign is not None and campaign.line.kind == "simulated"
    if simulated and given == "real":
        raise UsageError(f"{audio}: a call of the simulated campaign {campaign.name!r}: its "
                         "callee is a synthetic voice, not --source real")
    if given is None and not simulated:
        raise UsageError(f"{audio}: say who spoke: --source real (a person) or synthetic")
    return given or "synthetic"


def cmd_corpus_add(args: argparse.Namespace) -> int:
    from dialer.campaign.admin import frozen_survey
    from dialer.lines.recorded import callee_channel
    from dialer.recordings.corpus import add_item, label_problem
    from dialer.recordings.replay import read_log
    from dialer.store import Store
    from speech.audio import Audio
    from speech.channel import RATE

    audio = Path(args.recording)
    try:
        log = read_log(audio)
    except ValueError as e:
        raise UsageError(f"{audio.with_suffix('.json')}: not a healthdial call log (it lacks"
                         f" or mangles {e})") from e
    if not 1 <= args.turn <= len(log.turns):
        raise UsageError(f"{audio}: turns are 1 to {len(log.turns)}")
    turn = log.turns[args.turn - 1]
    callee = callee_channel(audio)
    lo = max(0, int((turn.listened_from_s - 0.1) * RATE))
    hi = int(turn.ended_s * RATE)
    name = f"{audio.stem}-t{args.turn}"
    question = turn.prompt.question or ""
    store = Store(args.db, create=False) if Path(args.db).exists() else None
    known = store.recordings_of_path(str(audio.resolve())) if store else []
    source = _source(args.source, store.campaign(known[0].campaign) if store and known
                     else None, audio)
    if store and known:
        survey = frozen_survey(store.campaign(known[0].campaign))
        problem = label_problem(survey.question(question), args.expected) \
            if question in {q.id for q in survey.questions} else None
        if problem:
            raise UsageError(f"{audio}: turn {args.turn}: {problem}")
    path = add_item(Path(args.to), Audio(callee[lo:hi], RATE), name, question, args.expected,
                    source, args.speaker)
    if store and known:
        store.add_corpus_copy(str(path.resolve()), known[0].id)  # purged with the call
    print(f"{path}: {question} expected {args.expected}")
    return 0
