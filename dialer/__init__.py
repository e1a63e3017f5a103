"""The orchestrator: calls, lines, the simulated callee and the CLI."""
