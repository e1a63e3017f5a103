"""`pause`, `resume`, `stop`: an operator's control of a campaign, from the command line.

The control is kept with the campaign in the store; a running dispatcher (embedded
or over RQ) reads it within a second, and a restarted `run` finds it there. Every
control action goes to the audit log, with who did it.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from dialer.commands.common import db_arg
from dialer.store import ControlState
from survey_scripts.errors import UsageError

_DONE = {"pause": "paused", "resume": "resumed", "stop": "stopped"}

def register(sub: Any) -> None:
    for name, text in (("pause", "no new call starts; calls in progress finish"),
                       ("resume", "calls start again"),
                       ("stop", "end the campaign for good (needs --yes)")):
        p = sub.add_parser(name, help=text)
        db_arg(p)
        p.add_argument("campaign")
        if name == "stop":
            p.add_argument("--yes", action="store_true", help="confirm: a stop is permanent")
        p.set_defaults(func=cmd_control, action=name)


def cmd_control(args: argparse.Namespace) -> int:
    from dialer.store import Store

    store = Store(args.db, create=False)
    control = store.campaign(args.campaign).control
    if control.state == ControlState.STOPPED:
        raise UsageError(f"campaign {args.campaign!r} is stopped; it cannot be "
                         f"{_DONE[args.action]}")
    if args.action == "stop" and not args.yes:
        raise UsageError(f"stopping {args.campaign!r} is permanent: run again with --yes")
    state = {"pause": ControlState.PAUSED, "resume": ControlState.ACTIVE,
             "stop": ControlState.STOPPED}[args.action]
    who = f"cli:{getpass.getuser()}"
    store.set_control(args.campaign, state, f"{_DONE[args.action]} by {who}"
                      if state != ControlState.ACTIVE else None)
    store.audit(who, args.action, args.campaign)
    print(f"campaign {args.campaign}: {state}")
    return 0
