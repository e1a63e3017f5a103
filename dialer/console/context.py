"""What every part of the console shares: its settings, the store, the store's thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from dialer.console.snapshot import Snapshots
from dialer.store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleSettings:
    db: str = "healthdial.db"
    redis_url: str | None = None  # to show RQ workers and queue depth
    host: str = "127.0.0.1"  # loopback unless told otherwise: put TLS in front to expose it
    port: int = 8080
    secure_cookies: bool = False  # behind a TLS reverse proxy: cookies only over HTTPS
    snapshot_ttl_s: float = 1.0


SETTINGS = web.AppKey("settings", ConsoleSettings)
STORE = web.AppKey("store", Store)
DB = web.AppKey("db_thread", ThreadPoolExecutor)
SNAPSHOTS = web.AppKey("snapshots", Snapshots)


async def in_store(app: web.Application, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking store work on the store's own thread."""
    return await asyncio.get_running_loop().run_in_executor(app[DB], fn, *args)
