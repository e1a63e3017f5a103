"""The trunk checked before the first call: its name resolves, it answers SIP, and,
where we register, it takes our credentials. A trunk that fails here fails every call;
found now, it costs no contact an attempt and says what to fix.

A registering trunk is checked by registering (agent.py). Otherwise an OPTIONS request
(RFC 3261 11), the usual SIP ping, sent before any stack is started: one request and
one response over UDP, TCP or TLS are a few lines here, not a second SIP stack. Any
response counts as an answer: many trunks challenge or refuse OPTIONS, which still proves
them reachable. Credentials of a trunk that does not register are known only at the
first INVITE: a 401/403 there pauses the campaign at once (EndCause.UNAUTHORIZED).
"""

from __future__ import annotations

import secrets
import socket
import ssl
import time

from dialer.lines.sip.trunk import Trunk
from survey_scripts.errors import TrunkError

TIMEOUTS_S = (0.5, 1.0, 2.0)  # UDP retransmissions (timer T1 doubling), 3.5 s in all
DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}


def address(t: Trunk) -> tuple[str, int]:
    host, _, port = t.host.rpartition(":") if t.host.count(":") == 1 else (t.host, "", "")
    return host or t.host, int(port) if port else DEFAULT_PORT[t.transport]


def resolve(t: Trunk) -> tuple[str, int]:
    host, port = address(t)
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise TrunkError(f"the trunk's host {host!r} cannot be resolved ({e.strerror}); "
                         "check `host` in the trunk file and this machine's DNS") from None
    return str(info[0][4][0]), port


def options(t: Trunk) -> tuple[int, float]:
    """Ping the trunk: (its status code, seconds it took); TrunkError when it is silent."""
    ip, port = resolve(t)
    tag, call_id = secrets.token_hex(6), secrets.token_hex(10)
    t0 = time.monotonic()
    try:
        reply = _udp(t, ip, port, tag, call_id) if t.transport == "udp" \
            else _stream(t, ip, port, tag, call_id)
    except OSError as e:
        raise TrunkError(f"the trunk {t.host} ({t.transport}) cannot be reached: "
                         f"{e.strerror or e}; check `host` and `transport` in the trunk "
                         "file, and the firewall") from None
    if reply is None:
        raise TrunkError(f"the trunk {t.host} ({t.transport}) did not answer a SIP OPTIONS "
                         f"ping within {sum(TIMEOUTS_S):g} s; check `host`, `transport` and "
                         "the firewall (SIP signalling port)")
    return reply, time.monotonic() - t0


def _request(t: Trunk, local: tuple[str, int], tag: str, call_id: str) -> bytes:
    host, port = address(t)
    via = f"SIP/2.0/{t.transport.upper()} {local[0]}:{local[1]};branch=z9hG4bK{tag};rport"
    return (f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n"
            f"From: <sip:{t.user}@{host}>;tag={tag}\r\nTo: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\n"
            "User-Agent: healthdial\r\nContent-Length: 0\r\n\r\n").encode()


def _status(data: bytes, call_id: str) -> int | None:
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    first = head.split("\r\n", 1)[0].split()
    if len(first) < 2 or first[0] != "SIP/2.0" or not first[1].isdigit():
        return None
    if call_id not in head or first[1].startswith("1"):  # not ours, or provisional
        return None
    return int(first[1])


def _udp(t: Trunk, ip: str, port: int, tag: str, call_id: str) -> int | None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((t.interface or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
        s.connect((ip, port))
        message = _request(t, s.getsockname()[:2], tag, call_id)
        for wait in TIMEOUTS_S:
            s.send(message)
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                try:
                    status = _status(s.recv(65535), call_id)
                except TimeoutError:
                    break
                if status is not None:
                    return status
    return None


def _stream(t: Trunk, ip: str, port: int, tag: str, call_id: str) -> int | None:
    raw = socket.create_connection((ip, port), timeout=sum(TIMEOUTS_S),
                                   source_address=(t.interface, 0) if t.interface else None)
    with raw:
        s = ssl.create_default_context(cafile=t.tls_ca or None).wrap_socket(
            raw, server_hostname=address(t)[0]) \
            if t.transport == "tls" else raw
        s.sendall(_request(t, s.getsockname()[:2], tag, call_id))
        data = b""
        while len(data) < 65535:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                return None
            if not chunk:
                return None
            data += chunk
            if b"\r\n\r\n" in data and (status := _status(data, call_id)) is not None:
                return status
            if b"\r\n\r\n" in data:
                data = data.split(b"\r\n\r\n", 1)[1]
    return None


def check(t: Trunk) -> str:
    """A trunk that does not register, pinged; what it answered, for the operator."""
    status, took = options(t)
    return f"the trunk {t.host} ({t.transport}) answers: OPTIONS {status} in " \
           f"{took * 1000:.0f} ms"
