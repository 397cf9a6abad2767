"""Maps the configuration onto the settings objects of routing/, the IVR and sip/."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from cti.config import Operator, Settings
from cti.routing import OperatorProfile, RoutingRules, ServiceRules, Strategy
from cti.sip import ivr
from cti.sip.flood import FloodLimits
from cti.sip.settings import RegistrarSettings, SipSettings
from cti.storage.operators import OperatorRecord

ROUTING_RING_GRACE_S = 5.0


def routing_rules(settings: Settings, caller_tags: frozenset[str] = frozenset(),
                  operators: Iterable[Operator | OperatorRecord] | None = None) -> RoutingRules:
    """``operators``: the ones the service runs with (the roster); the config's by default."""
    r = settings.routing
    working = settings.operators if operators is None else tuple(operators)
    return RoutingRules(
        services=tuple(
            ServiceRules(
                service_id=s.id,
                strategy=Strategy(s.strategy),
                wrap_up_s=float(s.wrap_up_seconds),
                overflow_after_s=float(r.overflow_after_seconds),
                overflow_any_after_s=float(r.overflow_any_after_seconds),
                max_wait_s=float(r.max_wait_seconds),
            )
            for s in settings.services
        ),
        operators=tuple(OperatorProfile(o.id, dict(o.skills)) for o in working),
        # The SIP leg's own ring timeout (CANCEL, then "no answer") decides; routing's timer is
        # the safety net for a leg that never reports back.
        ring_timeout_s=float(r.ring_timeout_seconds) + ROUTING_RING_GRACE_S,
        max_missed_offers=r.max_missed_offers,
        announce_interval_s=float(r.announce_interval_seconds),
        priority_callers=caller_tags,
    )


def ivr_settings(settings: Settings) -> ivr.IvrSettings:
    fallback = "other" if any(s.id == "other" for s in settings.services) else settings.services[-1].id
    return ivr.IvrSettings(
        entries=tuple(ivr.MenuEntry(s.digit, s.id, s.name_ja, s.name_en) for s in settings.services),
        fallback_service=fallback,
        max_repeats=settings.routing.ivr_max_repeats,
        digit_timeout_s=float(settings.routing.ivr_digit_timeout_seconds),
    )


def prompt_dir() -> Path:
    return Path(str(resources.files("cti.config").joinpath("prompts")))


def sip_settings(settings: Settings) -> SipSettings:
    s = settings.sip
    registrar = None
    if s.mode == "registered" and s.registrar is not None:
        registrar = RegistrarSettings(host=s.registrar.host, port=s.registrar.port,
                                      user=s.username, password=s.password)
    return SipSettings(
        prompt_dir=prompt_dir(),
        bind_host=s.listen.host,
        bind_port=s.listen.port,
        also_bind=(s.also_listen.host, s.also_listen.port) if s.also_listen else None,
        public_host=s.public_address,
        rtp_ports=range(s.rtp_ports[0], s.rtp_ports[1] + 1),
        user=s.username,
        allow_from=frozenset(s.allowed_peers),
        registrar=registrar,
        outbound_proxy=(s.registrar.host, s.registrar.port) if registrar and s.registrar else None,
        t1_s=s.t1_ms / 1000,
        t2_s=s.t2_ms / 1000,
        flood=FloodLimits(invites_per_second=s.invites_per_second, burst=s.invite_burst,
                          max_calls=s.max_calls, retry_after_s=s.retry_after_seconds,
                          max_lag_s=s.max_answer_delay_ms / 1000),
        media_workers=s.media_workers,
        media_nice=s.media_nice,
        log_format=settings.log_format,
    )
