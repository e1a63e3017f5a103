"""The same call batches as RQ jobs on Redis, for campaigns spread over many machines.

Keys are namespaced per campaign: jobs go on the `hd:<campaign>:calls` queue, and
each finished call is pushed at once to the `hd:<campaign>:results` list. A job
carries its calls and the hash of the campaign's frozen survey, never the survey
text (it waits under `hd:survey:<hash>`) nor the Redis URL (the worker uses its
own connection). Which job owns a call is fenced (workers/fence.py): a worker stalled
past its lease makes none of the calls handed on. Results are pushed by a delivery
thread, so a Redis outage never stalls the calls on the event loop; the client's one
retry policy waits the outage out.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace

from redis import ConnectionPool, Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import get_current_job

from dialer.wire import Batch, CallOutcome
from workers import fence
from workers.host import host
from workers.jobs import Gate, has_stack
from workers.settings import QueueSettings

log = logging.getLogger(__name__)


def calls_queue(campaign: str) -> str:
    return f"hd:{campaign}:calls"


def results_key(campaign: str) -> str:
    return f"hd:{campaign}:results"


def survey_key(survey_hash: str) -> str:
    return f"hd:survey:{survey_hash}"


def paused_key(campaign: str) -> str:
    return f"hd:{campaign}:paused"


def redis_gate(redis: Redis, campaign: str) -> Gate:
    """Open unless the dispatcher has set the campaign's paused key; Redis unreachable
    counts as open (the dispatcher cannot take results then anyway)."""

    def is_open() -> bool:
        try:
            return not redis.exists(paused_key(campaign))
        except RedisError:
            return True

    return Gate(is_open)


class Delivery:
    """One thread per worker process pushing results; they wait in memory meanwhile.

    Its client retries each push with exponential backoff for as long as the delivery
    deadline (one retry policy, the client's own); a result still undeliverable after
    that is logged and dropped from memory, and the dispatcher, which never got it,
    dispatches the call again."""

    def __init__(self, redis: Redis, settings: QueueSettings) -> None:
        pool = redis.connection_pool
        tries = max(1, int(settings.delivery_deadline_s / settings.retry_cap_s))
        retry = Retry(ExponentialBackoff(cap=settings.retry_cap_s), tries)
        self.redis = Redis(connection_pool=ConnectionPool(
            connection_class=pool.connection_class, **{**pool.connection_kwargs, "retry": retry}))
        self._items: queue.Queue[tuple[str, str, str, str]] = queue.Queue()
        self._ttl = settings.results_ttl_s
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)
        self._thread.start()

    def put(self, campaign: str, job_id: str, outcome: CallOutcome) -> None:
        self._idle.clear()
        self._items.put((campaign, job_id, outcome.id, outcome.to_json()))

    def wait(self, timeout: float) -> bool:
        """Until everything put so far is delivered (or given up on), or `timeout`."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            campaign, job_id, call_id, text = self._items.get()
            try:
                if not fence.deliver(self.redis, campaign, call_id, job_id,
                                     results_key(campaign), text, self._ttl):
                    log.warning("call %s was handed to another worker while this one was "
                                "stalled; its result here is not delivered", call_id)
            except RedisError as e:
                log.error("a result could not be delivered (%s); its call will be made again",
                          e)
            if self._items.empty():
                self._idle.set()


_delivery: Delivery | None = None


def _deliverer(redis: Redis) -> Delivery:
    global _delivery
    if _delivery is None:
        _delivery = Delivery(redis, QueueSettings.from_env())
    return _delivery


def call_batch(batch: Batch) -> int:
    """RQ job: run a batch of calls; each result is delivered the moment its call ends."""
    job = get_current_job()
    assert job is not None, "call_batch runs as an RQ job"
    redis = job.connection
    if batch.survey_text is None and not has_stack(batch):
        text = redis.get(survey_key(batch.survey_hash))
        if text is None:
            raise RuntimeError(f"survey {batch.survey_hash[:12]} is not in Redis; the "
                               "dispatcher puts it back when it hands the batch out again")
        batch = replace(batch, survey_text=text.decode("utf-8") if isinstance(text, bytes)
                        else str(text))
    delivery = _deliverer(redis)
    settings = QueueSettings.from_env()
    done = host(redis).run(batch, job.id, redis_gate(redis, batch.campaign),
                           lambda outcome: delivery.put(batch.campaign, job.id, outcome),
                           max(1.0, settings.job_timeout(len(batch.calls), batch.realtime) - 30))
    if batch.realtime:
        return done  # its calls go on on the host; the next job may come
    started = time.monotonic()
    if not delivery.wait(settings.delivery_deadline_s):
        log.error("results still undelivered after %.0f s", time.monotonic() - started)
    return done
