"""SIP message parsing and building (RFC 3261), hardened against malformed input.

Replaces pyVoIP's ``SIPMessage`` on the receive path: that parser keeps only the first of
repeated headers (losing Record-Route), ignores Content-Length, does not know compact header
forms and raises assorted exceptions (IndexError, ValueError, KeyError) on garbage. Here every
malformed datagram raises one ``SipParseError`` with a reason that goes into the 400 response
and the log. Reason phrases still come from pyVoIP's ``SIPStatus`` table.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from cti.sip import grammar
from cti.sip.pyvoip import SIPStatus
from cti.sip.wire import BadAddressError, checked_host, checked_port, printable

MAX_MESSAGE_BYTES = 16_384  # far above any real SIP-over-UDP message
REQUIRED = ("via", "from", "to", "call-id", "cseq")
COMPACT = {
    "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
    "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding",
    "x": "session-expires",
}
CANONICAL = {
    "via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
    "contact": "Contact", "content-length": "Content-Length", "content-type": "Content-Type",
    "max-forwards": "Max-Forwards", "record-route": "Record-Route", "route": "Route",
    "www-authenticate": "WWW-Authenticate", "authorization": "Authorization",
    "proxy-authenticate": "Proxy-Authenticate", "proxy-authorization": "Proxy-Authorization",
    "user-agent": "User-Agent", "allow": "Allow", "supported": "Supported", "expires": "Expires",
}
_TAG = re.compile(r";\s*tag\s*=\s*([^;>\s]+)", re.IGNORECASE)
_VIA = re.compile(r"^SIP\s*/\s*(\d+\.\d+)\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(.+)$", re.IGNORECASE)
_URI_IN_BRACKETS = re.compile(r"<([^>]*)>")
_HOSTPORT = re.compile(r"^(?:[a-z]+:)?(?:([^@;>]*)@)?([^:;>?]+)(?::(\d+))?", re.IGNORECASE)


class SipParseError(ValueError):
    """A datagram that is not a well-formed SIP message; the message says why.

    ``status`` is the response a request that fails this way gets (400, 513 too large).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def reason_phrase(status: int) -> str:
    try:
        return str(SIPStatus(status).phrase)
    except ValueError:
        return {199: "Early Dialog Terminated", 204: "No Notification"}.get(status, "Unknown")


@dataclass(slots=True)
class SipMessage:
    """A parsed request (``method`` set) or response (``status`` set)."""

    method: str | None
    uri: str | None
    status: int | None
    reason: str
    headers: list[tuple[str, str]]  # (lower-case full name, value), in order
    body: bytes
    source: tuple[str, int] | None = field(default=None)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def has(self, name: str) -> bool:
        name = name.lower()
        return any(key == name for key, _ in self.headers)

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def all(self, name: str) -> list[str]:
        """Every value of a header, comma-separated lists split (Via, Route, Record-Route)."""
        name = name.lower()
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(split_header_list(value))
        return out

    @property
    def call_id(self) -> str:
        return self.get("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = self.get("cseq").split(None, 1)
        return int(number), method.strip().upper()

    @property
    def from_tag(self) -> str:
        return header_tag(self.get("from"))

    @property
    def to_tag(self) -> str:
        return header_tag(self.get("to"))

    @property
    def top_via_branch(self) -> str:
        return via_param(self.all("via")[0], "branch") or ""


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, respecting <...> and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0 and not quoted:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def header_tag(value: str) -> str:
    m = _TAG.search(value.split(">", 1)[-1] if ">" in value else value)
    return m.group(1) if m else ""


def header_uri(value: str) -> str:
    """The URI of a From/To/Contact/Route header value."""
    m = _URI_IN_BRACKETS.search(value)
    if m:
        return m.group(1).strip()
    return value.split(";", 1)[0].strip()


def uri_key(uri: str) -> tuple[str, str, int]:
    """(user, host, port) of a SIP URI, to compare two URIs for the same phone."""
    try:
        host, port = uri_hostport(uri)
    except SipParseError:
        return (uri_user(uri), "", 0)
    return (uri_user(uri), host.lower(), port)


def uri_user(uri: str) -> str:
    m = _HOSTPORT.match(uri.strip())
    return (m.group(1) or "") if m else ""


def uri_hostport(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """The checked (host, port) a request for ``uri`` goes to (SipParseError if unusable)."""
    text = uri.strip()
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme.isalpha():
        raise SipParseError(f"bad URI {printable(uri)!r}")
    rest = rest.rsplit("@", 1)[-1] if "@" in rest.split(";", 1)[0].split("?", 1)[0] else rest
    hostport = re.split(r"[;?>]", rest, maxsplit=1)[0]
    return split_hostport(hostport, f"bad URI host {printable(uri)!r}", default_port)


def via_param(via: str, name: str) -> str | None:
    for part in via.split(";")[1:]:
        key, eq, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip() if eq else ""
    return None


def via_transport(via: str) -> str:
    m = _VIA.match(via.split(";")[0].strip())
    return m.group(2).upper() if m else ""


def via_sent_by(via: str) -> tuple[str, int]:
    """The sent-by host and port of a Via; a host or port no socket could use is a parse error."""
    m = _VIA.match(via.split(";")[0].strip())
    if m is None:
        raise SipParseError(f"bad Via {printable(via)!r}")
    sent_by = m.group(3).strip()
    if " " in sent_by or "\t" in sent_by:
        sent_by = re.sub(r"\s*:\s*", ":", sent_by)
    try:
        return split_hostport(sent_by, "")
    except SipParseError:  # the message only now: printable() on every Via was 1/3 of the cost
        raise SipParseError(f"bad Via sent-by {printable(sent_by)!r}") from None


def split_hostport(text: str, what: str, default_port: int = 5060) -> tuple[str, int]:
    """``host[:port]`` / ``[v6][:port]`` -> checked (host, port); SipParseError(what) if not."""
    if text.startswith("["):
        host, close, rest = text.partition("]")
        host += close
        if not close or (rest and not rest.startswith(":")):
            raise SipParseError(what)
        port = rest[1:]
    else:
        host, _, port = text.partition(":")
    try:
        if port and not (port.isascii() and port.strip().isdigit()):
            raise BadAddressError(what)
        number = int(port) if port else default_port
        if len(port.strip()) > 5:
            raise BadAddressError(what)
        return checked_host(host.strip()), checked_port(number)
    except BadAddressError:
        raise SipParseError(what) from None


def parse(data: bytes, source: tuple[str, int] | None = None) -> SipMessage:
    """Parse one datagram; raise SipParseError on anything malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message too large ({len(data)} bytes)", 513)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError("no blank line after headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = text.split("\r\n")
    first = lines[0]
    method = uri = None
    status = None
    reason = ""
    if m := grammar.REQUEST_LINE.match(first):
        method, uri = m.group(1).upper(), m.group(2)
        if (m.group(3), m.group(4)) != ("2", "0"):
            raise SipParseError(f"SIP version {m.group(3)}.{m.group(4)}", 505)
    elif m := grammar.STATUS_LINE.match(first):
        if (m.group(1), m.group(2)) != ("2", "0"):
            raise SipParseError("response of another SIP version")
        status, reason = int(m.group(3)), m.group(4) or ""
    else:
        raise SipParseError(f"bad start line {printable(first, 60)!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not grammar.HEADER_NAME.match(name):
            raise SipParseError(f"bad header line {printable(line, 60)!r}")
        headers.append((COMPACT.get(name, name), value.strip()))
    msg = SipMessage(method, uri, status, reason, headers, body, source)
    for name in REQUIRED:
        if not msg.get(name):
            raise SipParseError(f"missing {CANONICAL[name]} header")
    try:
        _number, cseq_method = msg.cseq
    except ValueError:
        raise SipParseError(f"bad CSeq {msg.get('cseq')!r}") from None
    if not cseq_method or (method is not None and cseq_method != method):
        raise SipParseError("CSeq method does not match the request method")
    try:
        grammar.check(msg)
    except grammar.GrammarError as exc:
        raise SipParseError(str(exc)) from None
    for via in msg.all("via"):
        via_sent_by(via)
    length = msg.get("content-length")
    if length:
        if not length.isdigit():
            raise SipParseError(f"bad Content-Length {length!r}")
        n = int(length)
        if n > len(body):
            raise SipParseError(f"Content-Length {n} exceeds the {len(body)} body bytes received")
        msg.body = body[:n]
    return msg


def new_call_id(host: str) -> str:
    """Globally unique Call-ID (defect 7: pyVoIP's counter restarts at 1 in every process)."""
    return f"{uuid.uuid4().hex}@{host}"


def new_branch() -> str:
    """Unique RFC 3261 branch (defect 7)."""
    return "z9hG4bK" + uuid.uuid4().hex


def new_tag() -> str:
    return uuid.uuid4().hex[:16]


def build_request(
    method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def build_response(
    request: SipMessage,
    status: int,
    *,
    to_tag: str = "",
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    reason: str | None = None,
) -> bytes:
    """A response copying Via (all, with received/rport), From, To (+tag), Call-ID, CSeq."""
    lines = [f"SIP/2.0 {status} {reason or reason_phrase(status)}"]
    vias = request.all("via")
    for i, via in enumerate(vias):
        if i == 0 and request.source is not None:
            via = _stamp_via(via, request.source)
        lines.append(f"Via: {via}")
    if status != 100:  # 100 Trying never establishes a dialog
        for rr in request.all("record-route"):
            lines.append(f"Record-Route: {rr}")
    lines.append(f"From: {request.get('from')}")
    to = request.get("to")
    if to_tag and not header_tag(to):
        to = f"{to};tag={to_tag}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.call_id}")
    lines.append(f"CSeq: {request.get('cseq')}")
    lines += [f"{name}: {value}" for name, value in (extra or [])]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _stamp_via(via: str, source: tuple[str, int]) -> str:
    try:
        host, _ = via_sent_by(via)
    except SipParseError:
        host = ""  # a 400 for an unusable sent-by still says where the request came from
    params = via.split(";")
    out = [params[0]]
    for p in params[1:]:
        key = p.strip().split("=", 1)[0].lower()
        if key == "rport":
            out.append(f"rport={source[1]}")
        elif key != "received":
            out.append(p)
    if host != source[0] or via_param(via, "rport") is not None:
        out.append(f"received={source[0]}")
    return ";".join(out)


def peer_host(msg: SipMessage) -> str | None:
    """The IP address a message came from (None for one we built)."""
    return msg.source[0] if msg.source else None


def response_address(request: SipMessage) -> tuple[str, int]:
    """Where a response goes (RFC 3261 18.2.2 + RFC 3581 rport).

    The host is always the packet's source address (what 18.2.2 calls ``received``): a
    ``received=`` parameter arriving on the wire was written by the sender itself and would let
    it aim our responses at a third host. With ``rport`` the source port too, else the sent-by
    port of the top Via.
    """
    via = request.all("via")[0]
    host, port = via_sent_by(via)
    if request.source is not None:
        if via_param(via, "rport") is not None:
            return request.source[0], request.source[1]
        return request.source[0], port
    return host, port


def parse_lenient(head: str, source: tuple[str, int] | None) -> SipMessage:
    """Best-effort parse of a malformed request's headers, only to address a 400 to it."""
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            key = name.strip().lower()
            headers.append((COMPACT.get(key, key), value.strip()))
    msg = SipMessage(parts[0].upper(), parts[1] if len(parts) > 1 else "", None, "", headers,
                     b"", source)
    if not msg.all("via"):
        raise SipParseError("no Via to answer to")
    if not msg.get("cseq"):
        msg.headers.append(("cseq", f"1 {msg.method}"))
    for name in ("from", "to", "call-id"):
        if not msg.get(name):
            msg.headers.append((name, "<sip:invalid@invalid>" if name != "call-id" else "invalid"))
    return msg
