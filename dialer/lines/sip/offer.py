"""The SDP of a call: what we offer (G.711 in the trunk's order, keypad events) and what
the far end's answer chose (aiosipua parses it)."""

from __future__ import annotations

import secrets

from dialer.lines.sip import rtp
from dialer.lines.sip.media import Negotiated
from survey_scripts.errors import TrunkError

PT = {"pcmu": rtp.PCMU, "pcma": rtp.PCMA}
NAME = {rtp.PCMU: "PCMU", rtp.PCMA: "PCMA"}


def offer(ip: str, port: int, codecs: tuple[str, ...]) -> str:
    pts = [PT[c] for c in codecs]
    session = secrets.randbelow(10**9)
    family = "IP6" if ":" in ip else "IP4"
    lines = ["v=0", f"o=healthdial {session} {session} IN {family} {ip}", "s=healthdial",
             f"c=IN {family} {ip}", "t=0 0",
             f"m=audio {port} RTP/AVP {' '.join(map(str, pts))} {rtp.EVENT_PT}",
             *(f"a=rtpmap:{pt} {NAME[pt]}/8000" for pt in pts),
             f"a=rtpmap:{rtp.EVENT_PT} telephone-event/8000", f"a=fmtp:{rtp.EVENT_PT} 0-15",
             "a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"


def chosen(answer: str, codecs: tuple[str, ...]) -> Negotiated:
    """The far end's choice: the first G.711 law it lists that we offered, its address,
    and its keypad events' payload type (None: it takes no RFC 4733, keys go in band).
    TrunkError when it chose nothing we speak."""
    from aiosipua.sdp import parse_sdp

    sdp = parse_sdp(answer)
    audio, address = sdp.audio, sdp.rtp_address
    if audio is None or address is None or audio.port == 0:
        raise TrunkError("the far end's SDP answer has no audio stream we can use")
    ours = {PT[c] for c in codecs}
    pts = [int(f) for f in audio.formats if f.isdigit()]
    law = next((pt for pt in pts if pt in ours), None)
    if law is None:
        raise TrunkError(f"the far end answered with codecs {audio.formats}, none of "
                         f"{list(codecs)}: check `codecs` in the trunk file")
    events = next((c.payload_type for c in audio.codecs
                   if c.encoding_name.lower() == "telephone-event"), None)
    return Negotiated(address, law, events)
