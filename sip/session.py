"""RFC 3264 offer/answer for one leg, sans-IO: every offered stream, hold, stable o= line.

- An answer has one m-line per offered stream, in order; the one audio stream we serve gets
  our port, the chosen codec (the offerer's first G.711) and telephone-event if offered; every
  other stream is refused with port 0 (RFC 3264 6).
- Direction (RFC 3264 6.1): sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive,
  sendrecv -> sendrecv (``a=`` at media level wins over session level; c=0.0.0.0 is the old
  RFC 2543 hold and means sendonly).
- ``LocalSession`` keeps the o= session id for the whole dialog and increments the version only
  when what we describe changes (RFC 3264 8).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cti.sip.sdp import SUPPORTED, Codec, NoCommonCodecError, SdpError, UnsupportedAddressError
from cti.sip.wire import family_of, printable

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                    "inactive": "inactive"}


@dataclass(frozen=True, slots=True)
class Stream:
    media: str
    port: int
    proto: str
    fmts: tuple[str, ...]
    address: str
    direction: str
    rtpmap: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What the answer agreed for the audio stream (applied to the leg's RTP session)."""

    address: str
    port: int
    codec: Codec
    event_pt: int | None
    remote_direction: str  # what the peer offered


def parse_streams(body: bytes) -> list[Stream]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise SdpError("SDP is not ASCII") from None
    session_addr = ""
    session_dir = "sendrecv"
    streams: list[dict[str, object]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        current = streams[-1] if streams else None
        if kind == "m":
            parts = value.split()
            if len(parts) < 3 or not parts[1].split("/")[0].isdigit():
                raise SdpError("bad m= line")
            port = int(parts[1].split("/")[0])
            if port > 65535:
                raise SdpError(f"media port {port} out of range")
            streams.append({"media": parts[0], "port": port, "proto": parts[2],
                            "fmts": tuple(parts[3:]), "address": "", "direction": "",
                            "rtpmap": []})
        elif kind == "c":
            parts = value.split()
            if len(parts) < 3:
                raise SdpError("bad c= line")
            addr = parts[2].split("/")[0]
            if current is None:
                session_addr = addr
            else:
                current["address"] = addr
        elif kind == "a" and value in DIRECTIONS:
            if current is None:
                session_dir = value
            else:
                current["direction"] = value
        elif kind == "a" and value.startswith("rtpmap:") and current is not None:
            pt, _, enc = value[7:].partition(" ")
            rtpmap = current["rtpmap"]
            assert isinstance(rtpmap, list)
            rtpmap.append((pt.strip(), enc.strip()))
    out = []
    for s in streams:
        rtpmap = s["rtpmap"]
        assert isinstance(rtpmap, list)
        out.append(Stream(str(s["media"]), int(str(s["port"])), str(s["proto"]),
                          tuple(s["fmts"]),  # type: ignore[arg-type]
                          str(s["address"] or session_addr),
                          str(s["direction"] or session_dir), tuple(rtpmap)))
    if not out:
        raise SdpError("no m= line")
    return out


def _codecs(stream: Stream) -> tuple[list[Codec], int | None]:
    rtpmap = dict(stream.rtpmap)
    codecs: list[Codec] = []
    event_pt: int | None = None
    for pt in stream.fmts:
        enc = rtpmap.get(pt, "")
        name = enc.split("/")[0].upper()
        if pt in ("0", "8") and (not enc or name in SUPPORTED):
            codecs.append(Codec(int(pt)))
        elif name == "TELEPHONE-EVENT" and pt.isdigit():
            event_pt = int(pt)
    return list(dict.fromkeys(codecs)), event_pt


def choose(streams: list[Stream], local_family: int = 4) -> tuple[int, Negotiated]:
    """The index of the audio stream we serve and what it agrees; 488-type errors otherwise."""
    refused = ""
    for i, s in enumerate(streams):
        if s.media != "audio" or s.port == 0 or s.proto.upper() != "RTP/AVP":
            continue
        codecs, event_pt = _codecs(s)
        if not codecs:
            refused = f"no common codec in {list(s.fmts)[:8]}"
            continue
        family = family_of(s.address)
        if family not in (4, 6):
            raise SdpError(f"media address {printable(s.address)!r} is not an IP address")
        if family != local_family:
            raise UnsupportedAddressError(f"IPv{family} media is not served on this socket")
        direction = s.direction
        if s.address in ("0.0.0.0", "::"):
            direction = "sendonly" if direction == "sendrecv" else direction
        return i, Negotiated(s.address, s.port, codecs[0], event_pt, direction)
    raise NoCommonCodecError(refused or "no RTP/AVP audio stream")


@dataclass(slots=True)
class LocalSession:
    """Our side's SDP for one dialog: stable session id, version bumped on every change."""

    address: str
    session_id: int = field(default_factory=lambda: random.randint(10**6, 10**9))
    version: int = 0
    _last: tuple[str, ...] | None = None

    def render(self, media_lines: list[str]) -> bytes:
        key = tuple(media_lines)
        if key != self._last:
            self.version += 1 if self._last is not None else 0
            self._last = key
        ip = "IP6" if ":" in self.address else "IP4"
        lines = ["v=0", f"o=cti {self.session_id} {self.version} IN {ip} {self.address}",
                 "s=cti", f"c=IN {ip} {self.address}", "t=0 0", *media_lines]
        return ("\r\n".join(lines) + "\r\n").encode()

    def offer(self, port: int, codecs: tuple[Codec, ...], event_pt: int | None,
              direction: str = "sendrecv") -> bytes:
        return self.render(audio_lines(port, codecs, event_pt, direction))

    def answer(self, streams: list[Stream], chosen: int, port: int, negotiated: Negotiated,
               *, hold: bool = False) -> bytes:
        lines: list[str] = []
        for i, s in enumerate(streams):
            if i == chosen:
                direction = ANSWER_DIRECTION[negotiated.remote_direction]
                if hold:  # we hold this leg ourselves: never more than sendonly
                    direction = {"sendrecv": "sendonly", "recvonly": "inactive"}.get(
                        direction, direction)
                lines += audio_lines(port, (negotiated.codec,), negotiated.event_pt, direction)
            else:
                lines.append(f"m={s.media} 0 {s.proto} {' '.join(s.fmts) or '0'}")
        return self.render(lines)


def audio_lines(port: int, codecs: tuple[Codec, ...], event_pt: int | None,
                direction: str) -> list[str]:
    fmts = [str(int(c)) for c in codecs] + ([str(event_pt)] if event_pt is not None else [])
    lines = [f"m=audio {port} RTP/AVP {' '.join(fmts)}"]
    lines += [f"a=rtpmap:{int(c)} {c.name}/8000" for c in codecs]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-15"]
    return [*lines, "a=ptime:20", f"a={direction}"]
