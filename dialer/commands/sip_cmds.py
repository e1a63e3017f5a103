"""`healthdial call --line sip --to URI`: one real call through this machine's trunk
(`$HEALTHDIAL_TRUNK`), printed turn by turn, or as one JSON object; `healthdial trunk`:
that trunk checked (read, pinged or registered with) without calling anybody."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from dialer.policy.contacts import mask


def register(sub: Any) -> None:
    trunk = sub.add_parser("trunk", help="check this machine's SIP trunk ($HEALTHDIAL_TRUNK): "
                                         "read, pinged or registered with; nobody is called")
    trunk.set_defaults(func=cmd_trunk)


def cmd_trunk(args: argparse.Namespace) -> int:
    from dialer.lines.registry import backend

    print(backend("sip").check())  # TrunkError (exit 6) or UsageError (exit 2) if not
    return 0


def call_sip(args: argparse.Namespace, robot: Any) -> int:
    from dialer.executor import install
    from dialer.lines.registry import backend
    from dialer.lines.sip.line import SipLine, SipPhone
    from dialer.lines.sip.trunk import read_trunk
    from dialer.robot.call import CallRecord, place_call

    backend("sip").check()  # before anything is dialled: UsageError, TrunkError
    phone = SipPhone(read_trunk())

    async def one() -> CallRecord:
        install()
        try:
            return await place_call(robot, SipLine(phone), args.to,
                                    ring_timeout_s=args.ring_s)
        finally:
            await phone.close()

    record = asyncio.run(one())
    answers = {q: a.value for q, a in record.result.answers.items()}
    shown = args.to if args.to.startswith("sip") else mask(args.to)
    if args.json:
        print(json.dumps({
            "to": shown, "outcome": record.outcome.value,
            "end_cause": record.end_cause.value if record.end_cause else None,
            "answers": answers, "risk": record.result.risk,
            "progress": [[round(at, 3), step.value] for at, step in record.progress],
            "turns": [{"question": t.prompt.question_id, "kind": t.prompt.kind.value,
                       "heard": t.heard.transcript or t.heard.digits or None,
                       "confidence": round(t.heard.confidence, 3),
                       "decision": t.decision.value if t.decision else None}
                      for t in record.turns]}, ensure_ascii=False))
        return 0
    print(f"to {shown}: " + ", ".join(f"{step.value} at {at:.1f} s"
                                       for at, step in record.progress))
    for i, t in enumerate(record.turns, 1):
        h = t.heard
        heard = ("(keypad " + h.digits + ")" if h.digits else "(silence)" if h.silent
                 else "(hung up)" if h.hangup else repr(h.transcript) or "(rejected)")
        print(f"{i:2d}. robot [{t.prompt.kind}:{t.prompt.question_id}] {t.prompt.text}")
        print(f"    robot heard: {heard} confidence {h.confidence:.2f} -> {t.decision}")
    print(f"outcome: {record.outcome.value}; ended: "
          f"{record.end_cause.value if record.end_cause else '-'}; risk: {record.result.risk}")
    for qid, value in answers.items():
        print(f"  {qid:12s} recorded {value!s}")
    return 0
