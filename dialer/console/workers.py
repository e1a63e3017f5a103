"""RQ mode: the workers of a campaign's queue, their heartbeats, and the queue's depth."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Worker

from workers.rqjobs import calls_queue
from workers.settings import QueueSettings


def rq_workers(url: str) -> Callable[[str], dict[str, Any]]:
    """A function giving a campaign's workers as the console shows them."""
    redis = QueueSettings.from_url(url).connect()

    def of(campaign: str) -> dict[str, Any]:
        try:
            queue = Queue(calls_queue(campaign), connection=redis)
            now = time.time()
            return {"queue_depth": queue.count, "workers": [
                {"name": w.name, "state": str(w.get_state()),
                 "heartbeat_s_ago": round(now - w.last_heartbeat.timestamp(), 1)
                 if w.last_heartbeat else None} for w in Worker.all(queue=queue)]}
        except RedisError as e:
            return {"error": f"Redis unreachable: {e}"}

    return of
