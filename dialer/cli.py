"""healthdial's command line. Logging is configured here and only here.

Exit codes: 0 done; 1 done, but some input was unreadable (named in the output);
2 a usage, survey, audio or engine error (nothing was changed); 3 the store
cannot be opened or written; 4 Redis cannot be reached or its URL is wrong;
5 another live `run` holds the campaign; 130 interrupted (Ctrl-C; `run` resumes).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence

from dialer.commands import (
    campaign_cmds,
    console_cmds,
    control_cmds,
    dnc_cmds,
    recording_cmds,
    sip_cmds,
    speech_cmds,
    survey_cmds,
)
from survey_scripts.errors import HealthdialError

log = logging.getLogger("healthdial")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but the newline


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("healthdial")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(prog="healthdial", description=doc.splitlines()[0],
                                 epilog="\n".join(doc.splitlines()[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--version", action="version", version=f"healthdial {_version()}")
    sub = ap.add_subparsers(dest="command", required=True)
    for module in (speech_cmds, campaign_cmds, control_cmds, console_cmds, dnc_cmds,
                   recording_cmds, sip_cmds, survey_cmds):
        module.register(sub)
    _verbose_everywhere(ap)
    return ap


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """`-v` after the command too (`healthdial run c -v`), as users type it; SUPPRESS keeps
    a subcommand that did not get it from undoing the top level's."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.add_argument("-v", "--verbose", action="store_true",
                                   default=argparse.SUPPRESS, help="debug logging")
                _verbose_everywhere(child)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except HealthdialError as e:
        # messages may quote a user's input: never let it drive the terminal
        print(f"healthdial: {_CONTROL.sub('?', str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("healthdial: interrupted; `run` resumes where it stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `healthdial calls X | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
