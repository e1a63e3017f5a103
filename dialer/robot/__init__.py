"""The robot: its voice and ears (robot.py), one full-duplex turn (turn.py), pick-up and
answering machines (pickup.py), and a whole call (call.py). It knows a Line
(dialer/lines) and nothing of what is behind it: no callee, no simulation."""
