"""Recorded calls and what is learnt from them: the files beside the store (files.py),
replaying them through today's robot (replay.py), labelled corpora (corpus.py), one way
of scoring (scoring.py), and simulated calls scored against their hidden truth
(accuracy.py, synthetic voices only).

files.py and scoring.py are leaves over the store; replay, corpus and accuracy are
assemblers of the robot and a line back-end."""
