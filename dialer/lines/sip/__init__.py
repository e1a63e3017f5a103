"""The SIP line back-end: real phone lines through a SIP trunk (a carrier's, or an
office's PBX): signalling on aiosipua, every call's RTP on one pacer per process.

trunk.py    the worker's trunk file: host, credentials, caller ID, dial plan, RTP ports
answers.py  SIP's final answers as the Line protocol's outcomes and end causes
probe.py    the trunk checked before the first call (OPTIONS ping, or registration)
agent.py    the process's SIP user agent: aiosipua, and what it leaves to its user
transport.py  UDP, TCP and TLS under it (aiosipua's, mended where it needs)
offer.py    the SDP offered and what the answer chose
rtp.py      RTP packets, G.711 in both laws, RFC 4733 keypad events
media.py    a call's RTP stream (jitter buffer, keys) and the process's one pacer
line.py     the Line: progress, ring timeout, the pacer's tick as its clock
backend.py  the back-end the registry names: plan, prepare, check, open

Why this design (measured, bench/sip_libraries.py, docs/architecture.md): a library
that paces each call on its own threads or timers spends most of a call's cost waking
up (baresip-python 0.75-0.88% of a core per call, aiosipua + aiortp 0.89%); one tick
for every call costs a fifth of that. Decoding runs in the decoder processes, so no
decode holds this process's GIL across a tick.

This file imports nothing, so the modules import one another without a circle through
the package. Like every back-end it imports nothing of the robot, the store, the
dispatcher or the workers; aiosipua is imported only when a call is placed.
"""
