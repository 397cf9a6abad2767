"""What a UAS checks before acting on a request (RFC 3261 8.2), in the RFC's order.

Sans-IO: ``rejection(request)`` returns the status and headers to answer with, or None when
the request may be processed. Allow and Supported are the service's real capabilities:
reliable provisionals (RFC 3262, ``prack.py``) and session timers (RFC 4028,
``session_timer.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.sip.message import SipMessage, split_header_list, via_transport

# what the UA core really handles (UPDATE and REFER are added by the modules that serve them)
ALLOWED = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE", "REFER", "PRACK")
ALLOW = ", ".join(ALLOWED)
KNOWN_METHODS = frozenset({*ALLOWED, "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE",
                           "PRACK", "PUBLISH"})
SUPPORTED: tuple[str, ...] = ("100rel", "timer")  # option tags we implement
SUPPORTED_HEADER = ", ".join(SUPPORTED)
ACCEPT = "application/sdp"
BODY_TYPES = frozenset({"application/sdp"})  # REFER/NOTIFY bodies are not read
INFO_BODY_TYPES = frozenset({"application/dtmf-relay", "application/dtmf"})


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""


def rejection(msg: SipMessage) -> Rejection | None:
    method = msg.method or ""
    # 8.2.1 method inspection
    if method not in KNOWN_METHODS:
        return Rejection(501, (("Allow", ALLOW),), f"unknown method {method[:32]}")
    if method not in ALLOWED:
        return Rejection(405, (("Allow", ALLOW),), f"method {method} not allowed")
    if method == "ACK":
        return None
    # 8.2.2.1 Request-URI scheme (sips: needs TLS, which this UDP service is not)
    scheme = (msg.uri or "").split(":", 1)[0].lower()
    if scheme not in ("sip", "sips", "tel") or (
            scheme == "sips" and via_transport(msg.all("via")[0]) != "TLS"):
        return Rejection(416, (), f"unsupported URI scheme {scheme[:16]}")
    # 8.2.2.3 Require
    if method != "CANCEL":
        required = [t for v in _values(msg, "require") for t in split_header_list(v)]
        unsupported = [t for t in required if t.lower() not in SUPPORTED]
        if unsupported:
            return Rejection(420, (("Unsupported", ", ".join(unsupported)[:200]),),
                             "unsupported extension required")
    # 8.2.3 content processing
    ctype = msg.get("content-type").split(";", 1)[0].strip().lower()
    allowed_types = INFO_BODY_TYPES if method == "INFO" else BODY_TYPES
    if msg.body and method != "INFO" and ctype and ctype not in allowed_types:
        return Rejection(415, (("Accept", ACCEPT),), f"body type {ctype[:40]} not understood")
    encoding = msg.get("content-encoding").strip().lower()
    if msg.body and encoding and encoding != "identity":
        return Rejection(415, (("Accept-Encoding", "identity"),), "content encoding")
    # 21.4.7: the answer would carry SDP the sender says it does not accept
    if method == "INVITE" and msg.has("accept") and not _accepts_sdp(msg):
        return Rejection(406, (("Accept", ACCEPT),), "no acceptable body type")
    return None


def _values(msg: SipMessage, name: str) -> list[str]:
    return [value for key, value in msg.headers if key == name]


def _accepts_sdp(msg: SipMessage) -> bool:
    for value in _values(msg, "accept"):
        for item in split_header_list(value):
            kind = item.split(";", 1)[0].strip().lower()
            if kind in ("application/sdp", "application/*", "*/*"):
                return True
    return False
