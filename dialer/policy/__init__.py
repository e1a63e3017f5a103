"""What a campaign allows, as pure rules: call lists and do-not-call lists (contacts.py),
calling hours in every zone a number may be in (hours.py), the campaign's settings with
their defaults (settings.py), and which calls a recording policy keeps (recording.py).

A leaf of the dialer: it imports the wire messages and survey_scripts, nothing else of
healthdial, so the store, the dispatcher and the line back-ends can all read it."""
