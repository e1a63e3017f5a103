"""Dispatching: the dispatcher (line budget, cps, calling hours, results applied as they
arrive, the breaker), the spool of results the store could not take, the one-dispatcher
lock, and the runner, the assembler that joins the dispatcher to a worker pool.

It may import the policy, the store, the line registry (to plan a call) and the wire
messages; only runner.py imports `workers`."""
