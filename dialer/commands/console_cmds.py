"""`serve` (the console) and `token` (who may use it)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from dialer.commands.common import db_arg, redis_arg
from dialer.policy.contacts import printable
from survey_scripts.errors import UsageError


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="the operator's web console (dashboard, control, "
                                         "results, /metrics)")
    db_arg(serve)
    redis_arg(serve, "Redis URL, to show RQ workers and queue depth (default: "
                     "$HEALTHDIAL_REDIS_URL)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: put a TLS reverse proxy "
                            "in front to reach it from elsewhere)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--secure-cookies", action="store_true",
                       help="behind TLS: send the session cookie over HTTPS only")
    serve.set_defaults(func=cmd_serve)
    token = sub.add_parser("token", help="make, list or revoke console access tokens")
    db_arg(token)
    token.add_argument("name", nargs="?", help="who the token is for (a person or a system)")
    token.add_argument("--role", choices=["operator", "official"], default="operator")
    token.add_argument("--days", type=float, help="expires after this many days (default: "
                                                  "never)")
    token.add_argument("--list", action="store_true", help="list tokens (never their secrets)")
    token.add_argument("--revoke", action="store_true", help="revoke NAME's token")
    token.set_defaults(func=cmd_token)


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web

    from dialer.console.app import make_app
    from dialer.console.context import ConsoleSettings
    from dialer.store import Store

    Store(args.db, create=False).close()  # a wrong --db is a message now, not later
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: use 1 to 65535")
    settings = ConsoleSettings(args.db, args.redis, args.host, args.port, args.secure_cookies)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        shown = f"healthdial console on http://{args.host}:{args.port}/ (store {args.db})"
        web.run_app(make_app(settings), host=args.host, port=args.port,
                    print=lambda _: print(shown, flush=True))  # once it is listening
    except OSError as e:  # the port is taken, or the host is not this machine's
        raise UsageError(f"cannot serve on {args.host}:{args.port} ({e.strerror}); another "
                         "program (or another `healthdial serve`) has that port: give "
                         "--port another number") from e
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """The token is printed alone on stdout, once; only its hash is kept."""
    from dialer.console.auth import digest, new_token
    from dialer.store import Store

    store = Store(args.db, create=False)
    if args.list:
        for t in store.tokens():
            state = "revoked" if t.revoked else "expired" if t.expires and \
                t.expires < time.time() else "active"
            until = time.strftime("%Y-%m-%d", time.localtime(t.expires)) \
                if t.expires else "never"
            print(f"{printable(t.name):24s} {t.role:9s} {state:8s} expires {until}")
        return 0
    if not args.name:
        raise UsageError("give the token's NAME (or --list)")
    if args.revoke:
        if not store.revoke_token(args.name):
            raise UsageError(f"no active token named {args.name!r}")
        store.audit("cli", "revoke token", None, args.name)
        print(f"revoked {args.name}")
        return 0
    if args.days is not None and not 0 < args.days <= 3650:
        raise UsageError("--days: use a number of days above 0, at most 3650")
    secret = new_token()
    expires = time.time() + args.days * 86400 if args.days else None
    store.add_token(args.name, args.role, digest(secret), expires)
    store.audit("cli", "make token", None, f"{args.name} ({args.role})")
    print(secret)
    return 0
