"""Runs of the simulation scored against its hidden truth (synthetic voices only): the
demo province called end to end (demo.py) and simulated calls scored answer by answer
(accuracy.py).

Assemblers: they may import the campaign, the dispatcher's runner, the robot and the
simulated back-end, and read the simulated callees' truth, which nothing else outside
dialer/lines/simulated and the tests may do. Nothing imports them but the CLI."""
