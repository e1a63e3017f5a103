"""The orchestrator, one sub-package per concern (docs/architecture.md draws them):
policy, store, campaign, dispatch, lines, robot, recordings, simulation, console and
commands, over four shared leaves (wire.py, calllog.py, executor.py, meter.py)."""
