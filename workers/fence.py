"""Fencing: which RQ job owns a call, so a worker that lost its lease makes no call.

The dispatcher writes `hd:<campaign>:owner:<call id>` = the job id when it hands a
call out, and writes the new job's id when it hands it out again (a lost batch).
A worker claims each call atomically before dialling (owner == its job: it becomes
`<job>:started`), and delivers its result only while it still owns the call. A
worker stalled past its lease (kill -STOP, a long GC pause, a frozen VM) therefore
finds on waking that its calls are another worker's: it makes none of them, and its
results, had it any, are not pushed to be applied twice. A call the worker had
started is cut short when its lease is seen lost (workers/host.py).

A result waits in Redis for the dispatcher at most `results_ttl_s` (refreshed with
every push): results nobody takes do not stay forever.
"""

from __future__ import annotations

from redis import Redis

# KEYS[1] owner key; ARGV[1] job id
_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1] .. ':started', 'KEEPTTL')
  return 1
end
return 0
"""
# KEYS[1] owner key, KEYS[2] the alive set; ARGV[1] job id, ARGV[2] call id, ARGV[3]
# the lease's end: renewed only while the call is still this job's
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] .. ':started' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
return 0
"""
# KEYS[1] owner key, KEYS[2] results list, KEYS[3] the alive set; ARGV[1] job id,
# ARGV[2] result, ARGV[3] ttl, ARGV[4] call id. The key then says `<job>:delivered`
# (until it expires), so a stalled job that made the call too delivers nothing after the
# owner did. An owner key gone (a Redis restart) still delivers: the dispatcher has
# handed the call to nobody else, and results are applied once by attempt id. An
# unclaimed call's result is a drop reported before dialling (no model on this
# worker): harmless, and it delivers.
_DELIVER = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] .. ':started' or v == ARGV[1] or v == false then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
  redis.call('SET', KEYS[1], ARGV[1] .. ':delivered', 'KEEPTTL')
  redis.call('ZREM', KEYS[3], ARGV[4])
  return 1
end
return 0
"""


def owner_key(campaign: str, call_id: str) -> str:
    return f"hd:{campaign}:owner:{call_id}"


def assign(redis: Redis, campaign: str, call_ids: list[str], job_id: str, ttl_s: int) -> None:
    """The dispatcher: these calls now belong to `job_id` (and to no earlier job)."""
    pipe = redis.pipeline(transaction=True)
    for cid in call_ids:
        pipe.set(owner_key(campaign, cid), job_id, ex=ttl_s)
    pipe.execute()


def claim(redis: Redis, campaign: str, call_id: str, job_id: str) -> bool:
    """The worker, before dialling: True if the call is still this job's to make."""
    return bool(redis.eval(_CLAIM, 1, owner_key(campaign, call_id), job_id))


def alive_key(campaign: str) -> str:
    """The calls running on some worker: call id -> the end of its lease (epoch s)."""
    return f"hd:{campaign}:alive"


def renew(redis: Redis, campaign: str, call_id: str, job_id: str, until: float) -> bool:
    """The worker, while a call runs: its lease to `until`; False if it is no longer its."""
    return bool(redis.eval(_RENEW, 2, owner_key(campaign, call_id), alive_key(campaign),
                           job_id, call_id, until))


def deliver(redis: Redis, campaign: str, call_id: str, job_id: str, results: str,
            payload: str, ttl_s: int) -> bool:
    """Push a result while the call is still this job's; False if it was handed on."""
    return bool(redis.eval(_DELIVER, 3, owner_key(campaign, call_id), results,
                           alive_key(campaign), job_id, payload, ttl_s, call_id))
