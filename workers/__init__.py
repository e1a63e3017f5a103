"""The queue side: the job functions that build a process's robot and line back-end and
run batches of calls (jobs.py), the embedded worker processes (embedded.py), RQ jobs
and the dispatcher's RQ pool (rqjobs.py, rqpool.py), call fencing (fence.py), the
per-process line host for realtime calls (host.py), `healthdial worker` and its typed
settings (settings.py).

It may import the robot, the line registry and protocol, the policy, the wire messages
and the shared leaves; never the store, the dispatcher, the console or the CLI (a
worker may run on a machine without the store)."""
