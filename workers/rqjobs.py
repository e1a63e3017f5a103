"""The same call batches as RQ jobs on Redis, for campaigns spread over many machines.

Keys are namespaced per campaign: jobs go on the `hd:<campaign>:calls` queue, and
each finished call is pushed at once to the `hd:<campaign>:results` list. A result
that cannot be delivered (Redis restarting) is kept in the worker and delivered
with backoff, so nothing a worker finished is lost.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from workers.jobs import run_batch

log = logging.getLogger(__name__)
DELIVERY_DEADLINE_S = 600.0  # keep retrying a result this long before giving up the job


def calls_queue(campaign: str) -> str:
    return f"hd:{campaign}:calls"


def results_key(campaign: str) -> str:
    return f"hd:{campaign}:results"


def connect(url: str) -> Redis:
    """A client that reconnects with backoff, as a Redis restart needs."""
    return Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=5.0), 8),
                          retry_on_error=[RedisConnectionError, RedisTimeoutError],
                          socket_connect_timeout=5, health_check_interval=10)


def call_batch(jobs: list[dict[str, Any]], campaign: str, url: str,
               realtime: bool = False) -> int:
    """RQ job: run a batch of calls; push each result the moment its call ends."""
    redis = connect(url)
    spool: list[str] = []

    def deliver(result: dict[str, Any]) -> None:
        spool.append(json.dumps(result))
        _flush(redis, campaign, spool, deadline=0.0)

    done = run_batch(jobs, deliver, realtime)
    _flush(redis, campaign, spool, deadline=time.monotonic() + DELIVERY_DEADLINE_S)
    return done


def _flush(redis: Redis, campaign: str, spool: list[str], deadline: float) -> None:
    """Push what is kept; with a deadline, wait out a Redis outage with backoff."""
    wait = 0.5
    while spool:
        try:
            redis.rpush(results_key(campaign), spool[0])
            spool.pop(0)
        except (RedisConnectionError, RedisTimeoutError):
            if time.monotonic() >= deadline:
                return  # kept; the next delivery or the end of the batch tries again
            log.warning("Redis unreachable; %d results kept, retrying in %.1f s", len(spool),
                        wait)
            time.sleep(wait)
            wait = min(wait * 2, 10.0)
