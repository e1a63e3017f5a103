"""A campaign as an official handles it: loading a call list and changing a campaign
(admin.py), what an office acts on (reports.py), and the demo province (demo.py).

It may import the policy, the store and the wire messages; the demo, an assembler, also
runs a campaign (dialer.dispatch.runner). Nothing here dials."""
