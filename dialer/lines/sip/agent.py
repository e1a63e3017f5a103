"""A worker process's SIP signalling: aiosipua's user agent client over UDP, TCP or TLS,
and what it leaves to its user, written once here.

aiosipua (MIT, asyncio, pure Python) builds and parses the messages, answers digest
challenges (MD5, SHA-256, qop), PRACKs reliable provisionals, acknowledges a 2xx and
keeps registrations fresh. It does not retransmit over UDP, acknowledge a failure
(3xx-6xx), answer the far end's requests (its BYE, a re-INVITE, OPTIONS), expose a
refusal's Retry-After, or clean up a CANCEL that crossed the 200: this module does.
Requests are retransmitted as RFC 3261 17.1 says (timer T1 doubling), an INVITE that no
one answers in INVITE_SILENT_S fails as the trunk's fault, not the callee's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dialer.lines import Progress
from dialer.lines.sip.answers import registration_failure
from dialer.lines.sip.probe import DEFAULT_PORT, TIMEOUTS_S, address, resolve
from dialer.lines.sip.transport import stream, udp
from dialer.lines.sip.trunk import Trunk
from survey_scripts.errors import TrunkError

RETRANSMIT_S = (0.5, 1.0, 2.0, 4.0, 4.0)  # T1 doubling to T2, as long as the request waits
INVITE_SILENT_S = 8.0  # no response at all to an INVITE: the trunk is not answering
USER_AGENT = "healthdial"
# aiosipua logs every INVITE's From and To at INFO: the number called, which must never
# reach a log a person reads. Its warnings (a message it could not parse, a lost TCP
# connection) name no one.
logging.getLogger("aiosipua").setLevel(logging.WARNING)


@dataclass
class Leg:
    """One call's signalling, as its line waits on it."""
    call: Any  # aiosipua's OutgoingCall
    offer: str  # our SDP (answered again to a re-INVITE)
    on_progress: Callable[[Progress], None]
    on_bye: Callable[[], None]
    status: int | None = None  # the final answer: 2xx answered, else refused (0: silence)
    reason: str = ""
    retry_after: str | None = None
    answer: str = ""  # the far end's SDP
    cancelled: bool = False
    responded: bool = False  # any answer to the INVITE (a 100 Trying): no more resending
    done: asyncio.Event = field(default_factory=asyncio.Event)
    steps: set[Progress] = field(default_factory=set)

    def step(self, progress: Progress) -> None:
        if progress not in self.steps:
            self.steps.add(progress)
            self.on_progress(progress)


class SipAgent:
    """The process's SIP user agent on its trunk: one socket (UDP) or one connection per
    far end (TCP, TLS), every call's dialog."""

    def __init__(self, trunk: Trunk) -> None:
        self.trunk = trunk
        self.uac: Any = None
        self.local: tuple[str, int] = ("", 0)
        self._legs: dict[str, Leg] = {}
        self._waiting: dict[tuple[str, int, str], asyncio.Task[None]] = {}
        self._registration: Any = None

    async def start(self) -> None:
        from aiosipua import SipUAC

        ip = self.trunk.interface or _route_to(resolve(self.trunk))
        transport = udp(ip) if self.trunk.transport == "udp" else stream(ip, self.trunk)
        await transport.start()
        self.local = (ip, transport.port())
        self.uac = SipUAC(transport, advertised_addr=self.local)
        transport.on_message = self._on_message

    # calls --------------------------------------------------------------------------
    async def invite(self, uri: str, offer: str, headers: dict[str, str],
                     on_progress: Callable[[Progress], None], on_bye: Callable[[], None]) -> Leg:
        """Send the INVITE (over TCP or TLS, on a connection made first: TrunkError when
        it cannot be)."""
        from aiosipua.auth import SipDigestAuth
        from aiosipua.sdp import parse_sdp

        t = self.trunk
        host, to = address(t)[0], _destination(uri, t)
        await self.connected(to)
        auth = SipDigestAuth(t.user, t.password) if t.password else None
        call = self.uac.send_invite(f"sip:{t.caller_id or t.user}@{host}", uri, to,
                                    parse_sdp(offer),
                                    extra_headers=headers, user_agent=USER_AGENT, auth=auth)
        leg = Leg(call, offer, on_progress, on_bye)
        self._legs[call.call_id] = leg
        self._retransmit(call.invite, call.remote_addr, INVITE_SILENT_S)
        return leg

    async def connected(self, to: tuple[str, int]) -> None:
        """A stream transport's connection to `to`, made once and kept."""
        transport = self.uac.transport
        if transport.reliable and to not in transport._connections:
            try:
                await asyncio.wait_for(transport.connect(to), sum(TIMEOUTS_S))
            except (OSError, TimeoutError) as e:
                raise TrunkError(f"the trunk {self.trunk.host} ({self.trunk.transport}) "
                                 f"cannot be reached: {getattr(e, 'strerror', None) or e}"
                                 ) from None

    async def cancel(self, leg: Leg, within_s: float = 5.0) -> None:
        """CANCEL a call still ringing, and wait for its 487 (acknowledged): a call left
        before then keeps the far end retransmitting."""
        from aiosipua.dialog import DialogState

        leg.cancelled = True
        if leg.call.dialog.state == DialogState.EARLY and leg.responded:
            self._retransmit(self.uac.send_cancel(leg.call), leg.call.remote_addr)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leg.done.wait(), within_s)
        self.forget(leg)

    def bye(self, leg: Leg) -> None:
        from aiosipua.dialog import DialogState

        if leg.call.dialog.state == DialogState.CONFIRMED:
            self._retransmit(self.uac.send_bye(leg.call.dialog, leg.call.remote_addr),
                             leg.call.remote_addr)
        self.forget(leg)

    def forget(self, leg: Leg) -> None:
        """The call is over: its dialog kept a while (timer H) for retransmissions of
        its last answers, then let go here and in aiosipua."""
        asyncio.get_running_loop().call_later(32, self._let_go, leg.call.call_id)

    def _let_go(self, call_id: str) -> None:
        self._legs.pop(call_id, None)
        self.uac.remove_call(call_id)

    # what comes in ------------------------------------------------------------------
    def _on_message(self, msg: Any, addr: tuple[str, int]) -> None:
        if hasattr(msg, "method"):
            self._on_request(msg)
            return
        cseq, call_id = msg.cseq, msg.call_id or ""
        if cseq is not None:
            waiting = self._waiting.pop((call_id, cseq.seq, cseq.method.upper()), None)
            if waiting is not None:
                waiting.cancel()
        leg = self._legs.get(call_id)
        if leg is None or cseq is None or cseq.method.upper() != "INVITE":
            self.uac.handle_response(msg, addr)
            return
        invite, leg.responded = leg.call.invite, True
        self._heard(leg, msg)
        if not (leg.cancelled and 200 <= msg.status_code < 300):
            self.uac.handle_response(msg, addr)
        if leg.call.invite is not invite:  # answered a digest challenge: a new INVITE
            self._retransmit(leg.call.invite, leg.call.remote_addr, INVITE_SILENT_S)
        if 200 <= msg.status_code < 300 and leg.status is None:
            leg.status, leg.answer = msg.status_code, msg.text
            leg.done.set()

    def _heard(self, leg: Leg, msg: Any) -> None:
        status = msg.status_code
        if status in (180, 183):
            leg.step(Progress.EARLY_MEDIA if msg.body else Progress.RINGING)
        elif 200 <= status < 300:
            if leg.cancelled:  # our CANCEL crossed their 200: acknowledge it, then BYE
                self._end_crossed(leg, msg)
            elif contact := msg.contact:
                from aiosipua.header_codec import stringify_uri

                leg.call.dialog.remote_target = stringify_uri(contact[0].uri)
                leg.call.dialog.route_set = list(reversed(msg.headers.get("record-route")))
        elif status >= 300:
            self._ack_failure(leg, msg)
            challenge = status in (401, 407) and leg.call._auth is not None \
                and leg.call._auth_attempts == 0
            if not challenge and leg.status is None:
                leg.status, leg.reason = status, msg.reason_phrase
                leg.retry_after = msg.get_header("retry-after")
                leg.done.set()

    def _ack_failure(self, leg: Leg, msg: Any) -> None:
        """The ACK of a failure answer: part of the INVITE's own transaction."""
        from aiosipua.message import SipRequest

        invite = leg.call.invite
        ack = SipRequest(method="ACK", uri=invite.uri)
        ack.headers.append("Via", invite.headers.get_first("via") or "")
        for name in ("From", "Call-ID", "Max-Forwards"):
            ack.headers.set_single(name, invite.headers.get_first(name) or "70")
        ack.headers.set_single("To", msg.headers.get_first("to") or "")
        ack.headers.set_single("CSeq", f"{msg.cseq.seq} ACK")
        for route in invite.headers.get("route"):
            ack.headers.append("Route", route)
        self.uac.transport.send(ack, leg.call.remote_addr)

    def _end_crossed(self, leg: Leg, msg: Any) -> None:
        from aiosipua.dialog import DialogState
        from aiosipua.uac_responses import _send_ack

        _send_ack(self.uac, leg.call, msg)
        leg.call.dialog.state = DialogState.CONFIRMED
        self.bye(leg)
        leg.status = leg.status or 487
        leg.done.set()

    def _on_request(self, req: Any) -> None:
        """The far end's requests: a BYE ends the call; a re-INVITE (hold, a session
        refresh) is answered with the same offer; anything else in a call is accepted."""
        from aiosipua.dialog import Dialog
        from aiosipua.sdp import parse_sdp, serialize_sdp

        if req.method == "ACK":
            return
        leg = self._legs.get(req.call_id or "")
        dialog = leg.call.dialog if leg is not None else Dialog(call_id=req.call_id or "")
        status = 200 if leg is not None or req.method == "OPTIONS" else \
            403 if req.method == "INVITE" else 481  # we take no calls; not ours
        response = dialog.create_response(req, status)
        if status == 200 and req.method == "INVITE" and leg is not None:
            response.text = serialize_sdp(parse_sdp(leg.offer))
            response.headers.set_single("Content-Type", "application/sdp")
            response.headers.set_single("Contact", f"<sip:{self.local[0]}:{self.local[1]}>")
        self.uac.transport.send_reply(response)
        if leg is not None and req.method in ("BYE", "CANCEL"):
            leg.call.dialog.terminate()
            leg.on_bye()
            self.forget(leg)

    # retransmission -----------------------------------------------------------------
    def _retransmit(self, request: Any, to: tuple[str, int], silent_s: float = 0) -> None:
        """Send again until answered (timer T1 doubling); an INVITE given `silent_s`
        without a word ends its call as the trunk's failure."""
        cseq = request.cseq
        key = (request.call_id or "", cseq.seq, cseq.method.upper())
        self._waiting[key] = asyncio.create_task(self._again(key, request, to, silent_s),
                                                 name="sip retransmit")

    async def _again(self, key: tuple[str, int, str], request: Any, to: tuple[str, int],
                     silent_s: float) -> None:
        waited = 0.0
        for wait in RETRANSMIT_S:
            wait = min(wait, silent_s - waited) if silent_s else wait
            await asyncio.sleep(wait)
            waited += wait
            if silent_s and waited >= silent_s:
                break
            if not self.uac.transport.reliable:  # TCP and TLS deliver, or fail
                self.uac.transport.send(request, to)
        self._waiting.pop(key, None)
        leg = self._legs.get(key[0])
        if silent_s and leg is not None and leg.status is None and not leg.responded:
            leg.status, leg.reason = 0, f"no answer to the INVITE in {silent_s:g} s"
            leg.done.set()

    # registration and the end -------------------------------------------------------
    async def register(self) -> None:
        """Register with the trunk; TrunkError saying why it would not have us."""
        from aiosipua.auth import SipDigestAuth
        from aiosipua.registration import Registration

        t = self.trunk
        host, port = address(t)
        await self.connected(resolve(t))
        reg = Registration(self.uac, f"sip:{t.user}@{host}", resolve(t), expires=600,
                           auth=SipDigestAuth(t.user, t.password), user_agent=USER_AGENT,
                           registrar_uri=f"sip:{host}:{port}")
        result: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()

        def answered(code: int, why: str) -> None:
            if not result.done():
                result.set_result((code, why))

        reg.on_registered = lambda r: answered(200, "OK")
        reg.on_failed = lambda r, code, why: answered(code, why)
        for wait in TIMEOUTS_S:
            reg.register()
            with contextlib.suppress(TimeoutError):
                code, why = await asyncio.wait_for(asyncio.shield(result), wait)
                if code >= 300:
                    raise TrunkError(registration_failure(host, t.user, code, f"{code} {why}"))
                self._registration = reg
                return
        raise TrunkError(registration_failure(host, t.user, None, "no answer to REGISTER"))

    async def close(self) -> None:
        for task in list(self._waiting.values()):
            task.cancel()
        if self._registration is not None:
            with contextlib.suppress(Exception):
                self._registration.unregister()
        if self.uac is not None:
            self.uac.close()
            await self.uac.transport.stop()


def _destination(uri: str, t: Trunk) -> tuple[str, int]:
    """Where the INVITE goes: the trunk, or the host of a SIP URI dialled as given."""
    from aiosipua.headers import parse_uri

    target = parse_uri(uri)
    if not target.host:
        return resolve(t)
    return socket.gethostbyname(target.host.strip("[]")), \
        target.port or DEFAULT_PORT[t.transport]


def _route_to(far: tuple[str, int]) -> str:
    """The local address this machine reaches the trunk from (what goes in SDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(far)
        return str(s.getsockname()[0])
