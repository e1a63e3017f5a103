"""A worker's SIP trunk: where calls go and as whom, read from its own file.

The file (TOML, `HEALTHDIAL_TRUNK` names it; owner-only, as it holds a credential) is
each worker's: never a command-line argument, a job payload, a log line or the store.
`HEALTHDIAL_TRUNK_PASSWORD` may carry the password instead of the file.

    [trunk]
    host = "sbc.example.org:5060"   # where every INVITE goes
    transport = "udp"               # udp | tcp | tls
    user = "healthdial"             # From user, and the digest user
    password = "..."                # digest password (or the environment)
    register = false                # register the account before calling
    caller_id = "+862787000000"     # From and P-Asserted-Identity
    prefix = ""                     # dial plan: put before every number...
    strip_plus = true               # ...after the E.164 "+" is dropped
    rtp_ports = "20000-29999"       # the RTP port range
    codecs = ["pcmu", "pcma"]       # G.711 only: the robot speaks 8 kHz
    echo_delay_ms = 200             # how late the trunk returns our voice
    interface = ""                  # local address to call from (127.0.0.1 for tests)
    tls_ca = ""                     # TLS: the CA file of a PBX's own certificate
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from survey_scripts.errors import UsageError

CODECS = ("pcmu", "pcma")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")
_PORTS = re.compile(r"^(\d{2,5})-(\d{2,5})$")


@dataclass(frozen=True)
class Trunk:
    host: str
    transport: str = "udp"
    user: str = "healthdial"
    password: str = field(default="", repr=False)
    register: bool = False
    caller_id: str = ""
    prefix: str = ""
    strip_plus: bool = True
    rtp_ports: tuple[int, int] = (20000, 29999)
    codecs: tuple[str, ...] = CODECS
    echo_delay_ms: int = 200
    interface: str = ""  # the local address to call from ("" : the system's choice)
    tls_ca: str = ""  # TLS: a CA file to trust ("": the system's)

    def uri_for(self, number: str) -> str:
        """A number as the trunk's dial plan wants it; a SIP URI is dialled as given."""
        if number.startswith(("sip:", "sips:")):
            return number
        digits = number[1:] if self.strip_plus and number.startswith("+") else number
        return f"sip:{self.prefix}{digits}@{self.host}"


def read_trunk(path: str | None = None) -> Trunk:
    """The trunk of this worker: `path`, or `$HEALTHDIAL_TRUNK`; UsageError naming the
    file and the key that is wrong."""
    where = path or os.environ.get("HEALTHDIAL_TRUNK")
    if not where:
        raise UsageError("no SIP trunk: set HEALTHDIAL_TRUNK to this worker's trunk file "
                         "(README.md, 'Real phone lines: SIP', shows one)")
    p = Path(where)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"{p}: the trunk file cannot be read ({e.strerror})") from e
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{p}: not a TOML trunk file ({e})") from e
    t = data.get("trunk")
    if not isinstance(t, dict):
        raise UsageError(f"{p}: no [trunk] table")
    if t.get("password") and p.stat().st_mode & 0o077:
        raise UsageError(f"{p}: holds the trunk's password but others may read it; "
                         f"chmod 600 {p}")
    return _checked(p, t)


def _checked(p: Path, t: dict[str, object]) -> Trunk:
    known = set(Trunk.__dataclass_fields__)
    problems = [f"unknown key {k!r}" for k in t if k not in known]
    host = str(t.get("host", ""))
    if not host or not _HOST.match(host):
        problems.append("host must be a host or host:port, e.g. \"sbc.example.org:5060\"")
    if t.get("transport", "udp") not in ("udp", "tcp", "tls"):
        problems.append("transport must be udp, tcp or tls")
    ports = _PORTS.match(str(t.get("rtp_ports", "20000-29999")))
    if not ports or not 1024 <= int(ports[1]) < int(ports[2]) <= 65535:
        problems.append("rtp_ports must be a range like \"20000-29999\" within 1024-65535")
    codecs = t.get("codecs", list(CODECS))
    if not isinstance(codecs, list) or not codecs or any(c not in CODECS for c in codecs):
        problems.append("codecs must be a list of pcmu and/or pcma")
    ca = str(t.get("tls_ca", ""))
    if ca and not Path(ca).is_file():
        problems.append(f"tls_ca {ca!r} is not a file")
    if problems:
        raise UsageError(f"{p}: " + "; ".join(problems))
    assert ports is not None and isinstance(codecs, list)
    return Trunk(host=host, transport=str(t.get("transport", "udp")),
                 user=str(t.get("user", "healthdial")),
                 password=str(os.environ.get("HEALTHDIAL_TRUNK_PASSWORD")
                              or t.get("password", "")),
                 register=bool(t.get("register", False)), caller_id=str(t.get("caller_id", "")),
                 prefix=str(t.get("prefix", "")), strip_plus=bool(t.get("strip_plus", True)),
                 rtp_ports=(int(ports[1]), int(ports[2])), codecs=tuple(codecs),
                 echo_delay_ms=int(str(t.get("echo_delay_ms", 200))),
                 interface=str(t.get("interface", "")), tls_ca=str(t.get("tls_ca", "")))
