"""The robot: its voice and ears (robot.py), one full-duplex turn (turn.py), pick-up and
answering machines (pickup.py), a whole call (call.py), recording what the line carried
(recorder.py) and the call's result as the dispatcher applies it (outcome.py).

It may import the Line protocol (dialer.lines itself: never a back-end, nor the
registry), the policy, the wire messages, the call log, the speech thread, speech and
survey_scripts. Nothing here knows what is behind a line: no callee, no simulation."""
