"""A campaign as an official handles it: loading a call list, changing a campaign and the
checks before its first call (admin.py), and what an office acts on (reports.py).

It may import the policy, the store, the wire messages, speech (to check a survey can be
said and heard) and survey_scripts. Nothing here dials."""
