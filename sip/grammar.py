"""RFC 3261 25 grammar checks that ``message.parse`` applies to every datagram.

Each check raises ``SipParseError`` (400, or 505 for another SIP version) with a reason; the
RFC 4475 torture messages (tests/sip/rfc4475/) are the test vectors.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cti.sip.message import SipMessage

TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
REQUEST_LINE = re.compile(rf"^({TOKEN}) ([^ \t<>]+) SIP/(\d+)\.(\d+)$")
STATUS_LINE = re.compile(r"^SIP/(\d+)\.(\d+) ([1-6]\d\d)(?: (.*))?$")
HEADER_NAME = re.compile(rf"^{TOKEN}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*:")
_DISPLAY_TOKENS = re.compile(rf"^(?:{TOKEN}(?:[ \t]+{TOKEN})*)?$")
_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")

SINGLE = ("from", "to", "call-id", "cseq", "max-forwards", "content-length", "content-type",
          "expires", "date", "content-encoding", "min-expires", "session-expires", "rack",
          "rseq", "refer-to", "event", "subscription-state")
MAX_CSEQ = 2**31 - 1
MAX_FORWARDS = 255
MAX_EXPIRES = 2**32 - 1


class GrammarError(ValueError):
    """What is wrong; ``message.parse`` turns it into a SipParseError."""


def check(msg: SipMessage) -> None:
    counts: dict[str, int] = {}
    for name, _ in msg.headers:
        counts[name] = counts.get(name, 0) + 1
    for name in SINGLE:
        if counts.get(name, 0) > 1:
            raise GrammarError(f"{name} header given {counts[name]} times")
    number = msg.get("cseq").split(None, 1)[0] if msg.get("cseq") else ""
    if not number.isdigit() or int(number) > MAX_CSEQ:
        raise GrammarError(f"bad CSeq number {number[:24]!r}")
    if msg.has("max-forwards"):
        _bounded(msg.get("max-forwards"), MAX_FORWARDS, "Max-Forwards")
    if msg.has("expires"):
        _bounded(msg.get("expires"), MAX_EXPIRES, "Expires")
    if msg.has("date") and not _DATE.match(msg.get("date")):
        raise GrammarError("Date is not an RFC 1123 date in GMT")
    for name in ("from", "to"):
        _name_addr(msg.get(name), name, params_allowed=True)
    for contact in msg.all("contact"):
        if contact != "*":
            _name_addr(contact, "contact", params_allowed=True)
    for via in msg.all("via"):
        _via(via)
    if msg.uri is not None:
        if not _SCHEME.match(msg.uri):
            raise GrammarError("Request-URI without a scheme")
        scheme = msg.uri.split(":", 1)[0].lower()
        if scheme in ("sip", "sips") and "?" in msg.uri.rsplit("@", 1)[-1]:
            raise GrammarError("headers are not allowed in a Request-URI")


def _bounded(value: str, limit: int, what: str) -> None:
    if not value.isdigit() or len(value) > 12 or int(value) > limit:
        raise GrammarError(f"bad {what} {value[:24]!r}")


def _name_addr(value: str, what: str, *, params_allowed: bool) -> None:
    """name-addr / addr-spec (RFC 3261 20.10, 25.1): balanced quotes and brackets, no LWS in URI."""
    text = value.strip()
    if text.startswith('"'):
        end = _closing_quote(text)
        if end < 0:
            raise GrammarError(f"unterminated quoted display name in {what}")
        rest = text[end + 1 :].lstrip()
        if not rest.startswith("<"):
            raise GrammarError(f"quoted display name without <URI> in {what}")
        text = rest
    elif "<" in text:
        display, _, after = text.partition("<")
        if not _DISPLAY_TOKENS.match(display.strip()):
            raise GrammarError(f"display name in {what} must be tokens or quoted")
        text = "<" + after
    if text.startswith("<"):
        uri, close, _params = text[1:].partition(">")
        if not close:
            raise GrammarError(f"unbalanced <> in {what}")
        if uri != uri.strip() or not uri or " " in uri:
            raise GrammarError(f"whitespace inside <URI> of {what}")
        if not _SCHEME.match(uri):
            raise GrammarError(f"URI without a scheme in {what}")
        return
    uri = text.split(";", 1)[0].strip()
    if not _SCHEME.match(uri) or any(c in uri for c in ' <>"'):
        raise GrammarError(f"bad addr-spec in {what}")
    if "?" in uri or ("," in uri and what == "contact"):
        raise GrammarError(f"addr-spec with '?' or ',' in {what} needs <>")


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def _via(via: str) -> None:
    """Via parameters must be named (the protocol and sent-by are checked by via_sent_by)."""
    _head, _, params = via.partition(";")
    for param in params.split(";") if params else []:
        name = param.split("=", 1)[0].strip()
        if not name or not HEADER_NAME.match(name):
            raise GrammarError("empty or bad Via parameter")
