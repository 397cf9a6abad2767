"""Settings of the SIP front door (the lead maps cti.config onto these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cti.sip.flood import FloodLimits


@dataclass(frozen=True, slots=True)
class RegistrarSettings:
    """Registered mode: register ``user`` with a registrar/PBX using digest auth."""

    host: str
    port: int = 5060
    user: str = "helpdesk"
    password: str = ""
    domain: str = ""  # defaults to host
    expires_s: int = 300
    retry_s: float = 5.0  # first retry after a failure; doubles up to 60 s
    attempt_timeout_s: float = 4.0  # one REGISTER exchange gives up after this


@dataclass(frozen=True, slots=True)
class SipSettings:
    prompt_dir: Path
    bind_host: str = "127.0.0.1"
    bind_port: int = 5060  # 0 = any free port (tests)
    also_bind: tuple[str, int] | None = None  # dual stack: an address of the other IP family
    public_host: str = ""  # address in Contact/SDP; defaults to bind_host
    rtp_ports: range | None = None  # None = any free port
    user: str = "helpdesk"
    allow_from: frozenset[str] = field(default_factory=frozenset)  # empty = accept all peers
    registrar: RegistrarSettings | None = None  # None = direct mode
    outbound_proxy: tuple[str, int] | None = None  # operator legs go here (registered mode)
    tts_cache_dir: Path | None = None
    user_agent: str = "cti-helpdesk/0.1"
    max_digits_per_second: int = 10  # DTMF flood guard per call
    media_timeout_s: float = 60.0  # no RTP from an answered caller for this long: hang up
    t1_s: float = 0.5  # RFC 3261 T1 (round-trip estimate)
    t2_s: float = 4.0  # RFC 3261 T2 (longest non-INVITE retransmit interval)
    rtcp_interval_s: float = 5.0  # RFC 3550 reports on every leg
    min_se_s: int = 90  # RFC 4028 Min-SE: shorter session intervals get 422 (tests go lower)
    flood: FloodLimits = field(default_factory=FloodLimits)  # per-source rate, call cap
    media_workers: int = 1  # processes owning RTP and the media clock; 0 = on the SIP loop
    media_nice: int = -10  # scheduling priority of the media workers (lower: sooner); 0 = as is
    log_format: str = "auto"  # the media workers log like the service

    @property
    def contact_host(self) -> str:
        return self.public_host or self.bind_host
