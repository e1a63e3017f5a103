"""Recorded calls and what is learnt from them: the files beside the store (files.py),
replaying them through today's robot (replay.py), labelled corpora heard as on a line
(corpus.py), and one way of scoring right / wrong / unanswered (scoring.py).

files.py and scoring.py sit over the store and the call log; replay.py and corpus.py
are assemblers of the robot and the recorded line. None imports the dispatcher."""
