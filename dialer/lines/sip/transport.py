"""The SIP transports the agent runs on: aiosipua's, with what they need here.

UDP: the socket opened here, as aiosipua's own protocol asserts a transport type
Python 3.11's datagram transport does not have (an error logged at every start).
TCP and TLS: aiosipua's TCP transport, its requests marked with the transport they go
on (it writes UDP in Via whatever it runs on), TLS connected with the trunk file's CA
or the system's, every connection closed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from dialer.lines.sip.probe import address
from dialer.lines.sip.trunk import Trunk

log = logging.getLogger(__name__)


def udp(ip: str, port: int = 0) -> Any:
    """aiosipua's UDP transport, its socket opened here: its own protocol asserts a type
    Python 3.11's datagram transport does not have (logged as an error at every start)."""
    from aiosipua.transport import UdpSipTransport

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            owner._dispatch(data, (str(addr[0]), int(addr[1])))

    class Transport(UdpSipTransport):
        async def start(self) -> None:
            loop = asyncio.get_running_loop()
            self._udp_transport, _ = await loop.create_datagram_endpoint(
                Protocol, local_addr=self.local_addr)

        def port(self) -> int:
            assert self._udp_transport is not None
            return int(self._udp_transport.get_extra_info("sockname")[1])

    owner = Transport(local_addr=(ip, port))
    return owner


def stream(ip: str, t: Trunk) -> Any:
    """aiosipua's TCP transport, for TCP or TLS: its requests say so in Via and Contact
    (it writes UDP there whatever it runs on), TLS connects with the trunk's CA file
    or the system's, and a message for a connection gone is dropped, not raised."""
    from aiosipua.transport import TcpSipTransport

    kind = t.transport.upper()

    class Transport(TcpSipTransport):
        async def start(self) -> None:
            if kind == "TCP":  # the far end may open a connection of its own for a BYE
                await super().start()

        def port(self) -> int:
            return int(self._server.sockets[0].getsockname()[1]) if self._server else 5061

        def send(self, message: Any, addr: tuple[str, int]) -> None:
            if hasattr(message, "method"):
                _marked(message, kind)
            try:
                super().send(message, addr)
            except RuntimeError:  # no connection: the call's timers decide
                log.info("SIP over %s: no connection to %s for %s", kind, addr,
                         getattr(message, "method", "a response"))

        async def stop(self) -> None:
            """Every connection closed first: aiosipua cancels its readers first, and a
            cancelled reader forgets its connection unclosed."""
            writers = [w for _, w in self._connections.values()]
            for w in writers:
                w.close()
            await super().stop()
            for w in writers:
                with contextlib.suppress(Exception):
                    await w.wait_closed()

        async def connect(self, remote: tuple[str, int]) -> Any:
            if kind == "TCP":
                return await super().connect(remote)
            context = ssl.create_default_context(cafile=t.tls_ca or None)
            reader, writer = await asyncio.open_connection(
                remote[0], remote[1], ssl=context, server_hostname=address(t)[0])
            self._connections[remote] = (reader, writer)
            self._spawn(self._handle_incoming(reader, writer, remote))
            return reader, writer

    return Transport(local_addr=(ip, 0))


def _marked(request: Any, kind: str) -> None:
    """The request's own Via and Contact name the transport it goes on."""
    vias = request.headers.get("via")
    if vias and vias[0].startswith("SIP/2.0/UDP "):
        request.headers.remove("Via")
        request.headers.append("Via", vias[0].replace("SIP/2.0/UDP", f"SIP/2.0/{kind}", 1))
        for via in vias[1:]:
            request.headers.append("Via", via)
    contact = request.headers.get_first("contact")
    if contact and "transport=" not in contact and ">" in contact:
        request.headers.set_single("Contact", contact.replace(
            ">", f";transport={kind.lower()}>", 1))
