"""SDP offer/answer for one audio stream: G.711 (PCMU, PCMA) plus telephone-event."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum

from cti.sip.pyvoip import PayloadType
from cti.sip.wire import family_of, printable


class Codec(IntEnum):
    PCMU = int(PayloadType.PCMU)  # 0
    PCMA = int(PayloadType.PCMA)  # 8


SUPPORTED = {"PCMU": Codec.PCMU, "PCMA": Codec.PCMA}
DEFAULT_EVENT_PT = 101


class SdpError(ValueError):
    """An SDP body we cannot use (the reason goes into the 400/488 response)."""


class NoCommonCodecError(SdpError):
    """The offer has no codec we support: answer 488 Not Acceptable Here."""


class UnsupportedAddressError(NoCommonCodecError):
    """Media on an address family we do not serve: 488, never a silent 200."""


@dataclass(frozen=True, slots=True)
class MediaOffer:
    address: str
    port: int
    codecs: tuple[Codec, ...]  # in the offerer's order of preference
    event_pt: int | None  # telephone-event payload type, if offered
    ptime_ms: int = 20


def parse_offer(body: bytes, family: int = 4) -> MediaOffer:
    """The audio stream of an offer or answer whose media we can serve over IPv``family``."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise SdpError("SDP is not ASCII") from None
    session_addr = media_addr = None
    port: int | None = None
    pts: list[str] = []
    rtpmap: dict[str, str] = {}
    in_audio = False
    seen_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            parts = value.split()
            in_audio = bool(parts) and parts[0] == "audio" and not seen_audio
            if in_audio:
                seen_audio = True
                if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
                    raise SdpError("bad m=audio line")
                port = int(parts[1].split("/")[0])
                pts = parts[3:]
        elif kind == "c":
            parts = value.split()
            if len(parts) < 3:
                raise SdpError("bad c= line")
            addr = parts[2].split("/")[0]
            if in_audio:
                media_addr = addr
            elif not seen_audio:
                session_addr = addr
        elif kind == "a" and in_audio and value.startswith("rtpmap:"):
            pt, _, enc = value[7:].partition(" ")
            rtpmap[pt.strip()] = enc.strip()
    address = media_addr or session_addr
    if port is None or address is None:
        raise SdpError("no m=audio stream with a connection address")
    if port == 0:
        raise NoCommonCodecError("the audio stream is refused (port 0)")
    if port > 65535:
        raise SdpError(f"audio port {port} out of range")
    if family_of(address) not in (4, 6):
        raise SdpError(f"media address {printable(address)!r} is not an IP address")
    if family_of(address) != family:
        raise UnsupportedAddressError(
            f"IPv{family_of(address)} media address {printable(address)} is not served")
    codecs: list[Codec] = []
    event_pt: int | None = None
    for pt in pts:
        enc = rtpmap.get(pt, "")
        name = enc.split("/")[0].upper()
        if pt in ("0", "8") and (not enc or name in SUPPORTED):
            codecs.append(Codec(int(pt)))
        elif name in SUPPORTED and enc.upper().endswith("/8000"):
            codecs.append(SUPPORTED[name])  # G.711 with a non-static payload number is unusual
        elif name == "TELEPHONE-EVENT" and pt.isdigit():
            event_pt = int(pt)
    if not codecs:
        raise NoCommonCodecError(f"no common codec in {pts}")
    return MediaOffer(address, port, tuple(dict.fromkeys(codecs)), event_pt)


def build_sdp(
    address: str,
    port: int,
    codecs: tuple[Codec, ...],
    event_pt: int | None,
    session_id: int | None = None,
) -> bytes:
    sid = session_id if session_id is not None else int(time.time() * 1000) % 10**10
    fmts = [str(int(c)) for c in codecs] + ([str(event_pt)] if event_pt is not None else [])
    lines = [
        "v=0",
        f"o=cti {sid} {sid} IN IP4 {address}",
        "s=cti",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(fmts)}",
    ]
    lines += [f"a=rtpmap:{int(c)} {c.name}/8000" for c in codecs]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-15"]
    lines += ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()


def answer_codec(offer: MediaOffer) -> Codec:
    """The codec we answer with: the offerer's first supported one (defect 9 is about using it)."""
    return offer.codecs[0]
