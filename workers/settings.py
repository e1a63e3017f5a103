"""Settings of the distributed side, with their defaults documented in one place.

Like arq's RedisSettings and rq's defaults.py: one frozen object, built from a
URL (`QueueSettings.from_url`), with every timing the dispatcher, the RQ pool
and the workers share. Environment variables HEALTHDIAL_RQ_<FIELD> override a
field (the fault tests shorten the heartbeat so a killed worker is found in
seconds, not minutes). The URL, which may hold a password, stays here: it is
never put in a job payload or a log (`shown` masks it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from survey_scripts.errors import QueueError


@dataclass(frozen=True)
class QueueSettings:
    url: str = "redis://127.0.0.1:6379/0"
    connect_timeout_s: float = 5.0  # to open a connection
    retries: int = 8  # a failed command is retried this often, with exponential backoff...
    retry_cap_s: float = 5.0  # ...of at most this long between tries
    health_check_s: int = 10  # idle connections are pinged before use after this long
    result_ttl_s: int = 600  # RQ keeps a finished job this long
    failure_ttl_s: int = 3600  # and a failed one this long
    survey_ttl_s: int = 30 * 24 * 3600  # a campaign's frozen survey, fetched by hash
    job_timeout_s: int = 60  # a fast-clock batch may run this long, plus...
    job_timeout_per_call_s: int = 30  # ...this per call
    realtime_job_timeout_s: int = 1800  # a realtime batch may run this long
    heartbeat_s: float = 10.0  # a worker renews a running job's lease this often...
    lease_s: int = 45  # ...for this long: a killed worker's job is found abandoned after it
    check_every_s: float = 5.0  # the dispatcher looks for lost batches this often
    finished_grace_s: float = 30.0  # a finished job's results must have arrived by then
    delivery_deadline_s: float = 600.0  # a worker keeps retrying a result this long
    results_ttl_s: int = 24 * 3600  # results nobody takes (no dispatcher) expire after this
    lines_per_process: int = 250  # realtime calls one worker process runs at once, at most

    @classmethod
    def from_env(cls) -> QueueSettings:
        """The defaults, with HEALTHDIAL_RQ_<FIELD> from the environment over them (a
        worker's timings, where the URL is its own connection's)."""
        env: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"HEALTHDIAL_RQ_{f.name.upper()}")
            if raw is not None and f.name != "url":
                env[f.name] = float(raw) if f.type == "float" else int(raw)
        return replace(cls(), **env)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> QueueSettings:
        """Settings for `url`: the environment's, then `overrides`; QueueError if the URL
        is not one."""
        settings = replace(cls.from_env(), url=url, **overrides)
        settings.check_url()
        return settings

    def check_url(self) -> None:
        try:
            parts = urlsplit(self.url)
            ok = parts.scheme in ("redis", "rediss", "unix") and (parts.hostname or parts.path)
            _ = parts.port  # raises on a port that is not a number
        except ValueError:
            ok = False
        if not ok:
            raise QueueError(f"--redis {self.shown!r} is not a Redis URL; write it as "
                             "redis://HOST:PORT/DB (or rediss:// for TLS)")

    @property
    def shown(self) -> str:
        """The URL without its password, for messages and logs."""
        try:
            parts = urlsplit(self.url)
        except ValueError:
            return "(unparseable URL)"
        if parts.password is None:
            return self.url
        user = f"{parts.username}:***@" if parts.username else ":***@"
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=user + host))

    def connect(self, check: bool = False) -> Redis:
        """A client that retries with backoff, as a Redis restart needs; with `check`, a
        QueueError now if Redis cannot be reached, rather than a traceback later."""
        try:
            redis = Redis.from_url(self.url, retry=Retry(ExponentialBackoff(cap=self.retry_cap_s),
                                                         self.retries),
                                   retry_on_error=[RedisConnectionError, RedisTimeoutError],
                                   socket_connect_timeout=self.connect_timeout_s,
                                   health_check_interval=self.health_check_s)
        except ValueError as e:
            raise QueueError(f"--redis {self.shown!r}: {e}") from e
        if check:  # one quick try, not the retry policy: a wrong URL should not wait a minute
            try:
                Redis.from_url(self.url, socket_connect_timeout=self.connect_timeout_s,
                               socket_timeout=self.connect_timeout_s,
                               retry=Retry(NoBackoff(), 0)).ping()
            except RedisError as e:
                raise QueueError(f"cannot reach Redis at {self.shown} ({e}); start it, or check "
                                 "--redis / $HEALTHDIAL_REDIS_URL") from e
        return redis

    def job_timeout(self, calls: int, realtime: bool) -> int:
        if realtime:
            return self.realtime_job_timeout_s
        return self.job_timeout_s + self.job_timeout_per_call_s * calls
