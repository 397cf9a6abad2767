"""Typed, frozen settings: one TOML file plus ``CTI_*`` environment variables.

``load_settings()`` is the only way in. Environment variables override the file: ``CTI_HTTP`` sets
``http.listen``; any other ``CTI_<SECTION>_<KEY>`` sets ``<key>`` of ``[<section>]`` (for example
``CTI_DATABASE_URL``, ``CTI_SIP_PASSWORD``, ``CTI_HOURS_OVERRIDE``). A wrong value raises
:class:`ConfigError` naming the key and what was expected.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .reader import FromEnv, Table, parse_host_port

SERVICE_STRATEGIES = ("longest_idle", "proficiency_then_idle", "round_robin", "ring_all")
ROLES = ("operator", "supervisor", "manager", "admin")
# 5,000 even/odd RTP+RTCP pairs: 2,000 callers on hold plus their operator legs (issue 14).
DEFAULT_RTP_PORTS = "10000-19999"
OVERRIDE_MODES = ("auto", "open", "closed")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Sections whose scalar keys may be set from the environment as CTI_<SECTION>_<KEY>.
ENV_SECTIONS = (
    "http", "auth", "database", "sip", "hours", "routing", "privacy", "smtp", "escalation", "metrics",
    "log", "reports", "ha",
)
SECRET_KEYS = frozenset({"password", "caller_hash_secret", "secret", "token"})


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Contact:
    kind: Literal["city", "vendor"]
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    digit: str
    name_ja: str
    name_en: str
    strategy: str
    wrap_up_seconds: int
    categories: tuple[str, ...]
    contacts: tuple[Contact, ...]


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    uri: str
    skills: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    listen: HostPort
    session_hours: int
    secure_cookie: bool  # served over HTTPS (directly or behind a TLS proxy): Secure cookie, HSTS
    allowed_origins: tuple[str, ...]  # besides the request's own; e.g. the proxy's public origin
    header_timeout_seconds: float  # a connection must send a whole request head within this
    trusted_proxies: tuple[str, ...]  # addresses whose X-Forwarded-For names the real client


@dataclass(frozen=True, slots=True)
class AuthSettings:
    password_min_length: int
    password_min_score: int  # zxcvbn score 0..4 the password must reach (common, guessable: low)
    token_days: int  # default lifetime of `cti token create`; 0 = no expiry unless --expires
    max_failures_per_user: int  # failed logins within failure_window before the name is locked
    max_failures_per_address: int  # failed logins from one address within the window
    failure_window_minutes: int
    lockout_minutes: int


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str
    journal: str  # on-disk journal of call events that are not yet in the database


@dataclass(frozen=True, slots=True)
class HaSettings:
    """Active/standby pair sharing one PostgreSQL (issue 15); ignored on SQLite (one node)."""

    node_id: str = ""  # "" = one node, no pair (PostgreSQL or not)
    lease_seconds: float = 3.0  # a holder that cannot renew within this is fenced
    renew_seconds: float = 0.5  # renew (active) and try to take over (standby) this often
    url: str = ""  # this node's console URL as the other node reaches it; "" = http://<http.listen>


@dataclass(frozen=True, slots=True)
class SipSettings:
    mode: Literal["direct", "registered", "off"]
    listen: HostPort
    public_address: str
    registrar: HostPort | None
    username: str
    password: str
    rtp_ports: tuple[int, int]
    allowed_peers: tuple[str, ...]
    t1_ms: int = 500  # RFC 3261 T1
    t2_ms: int = 4000  # RFC 3261 T2
    invites_per_second: float = 0.0  # per source IP; 0 = off
    invite_burst: int = 20
    max_calls: int = 200  # concurrent calls; 0 = no cap
    retry_after_seconds: int = 5
    also_listen: HostPort | None = None  # dual stack: an address of the other IP family
    max_answer_delay_ms: int = 300  # back-pressure: running this late, new INVITEs get 503
    media_workers: int = 1  # processes owning RTP and the media clock; 0 = the SIP loop's own
    media_nice: int = -10  # their scheduling priority (nice); 0 = the service's own


@dataclass(frozen=True, slots=True)
class HoursSettings:
    timezone: ZoneInfo
    days: frozenset[int]
    open: time
    close: time
    closed_dates: tuple[tuple[int, int], ...]
    national_holidays: bool
    override: Literal["auto", "open", "closed"]


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    ring_timeout_seconds: int
    max_missed_offers: int
    announce_interval_seconds: int
    overflow_after_seconds: int
    overflow_any_after_seconds: int
    max_wait_seconds: int
    ivr_digit_timeout_seconds: int
    ivr_max_repeats: int
    priority_callers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    caller_hash_secret: str
    caller_hash_secret_file: str  # used (and created once) when caller_hash_secret is empty
    internal_extensions: tuple[range, ...]


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str
    password: str
    starttls: bool


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    overdue_business_hours: int
    reply_base_url: str  # the service's URL as vendors reach it (in the mail's reply link)


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    service_level_seconds: int
    service_level_target: float
    abandon_rate_per_second: float  # Erlang A patience (1 / mean patience); 0 = Erlang C


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """The monthly deliverables (contract section 7): who gets them and whose name is on them."""

    contract_name: str  # 統合型庁内コールセンター業務
    addressee: str  # whom the completion notice is addressed to (札幌市長)
    contractor: str  # the company that runs the helpdesk (受注者)
    responsible_person: str  # its 業務責任者, printed on the completion notice
    recipients: tuple[str, ...]  # the city's 業務主任 / 管理担当者 (mail addresses)
    folder: str  # where produced reports are kept (under the data folder)
    soffice: str  # LibreOffice binary for the PDF conversion
    convert_timeout_seconds: int
    automatic: bool  # build and mail last month's set by itself


@dataclass(frozen=True, slots=True)
class Settings:
    source: str
    helpdesk_name_ja: str
    helpdesk_name_en: str
    http: HttpSettings
    auth: AuthSettings
    database: DatabaseSettings
    sip: SipSettings
    hours: HoursSettings
    routing: RoutingSettings
    privacy: PrivacySettings
    smtp: SmtpSettings
    escalation: EscalationSettings
    metrics: MetricsSettings
    baseline: tuple[int, ...]
    services: tuple[Service, ...]
    operators: tuple[Operator, ...]
    reports: ReportSettings
    log_format: Literal["auto", "json", "console"] = field(default="auto")
    ha: HaSettings = field(default=HaSettings())

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)


def default_config_path() -> Path:
    """``config/helpdesk.toml`` as shipped inside the package."""
    return Path(str(resources.files("cti.config").joinpath("helpdesk.toml")))


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (``path``, else ``CTI_CONFIG``, else the shipped default) and the env."""
    env = os.environ if environ is None else environ
    chosen = Path(path or env.get("CTI_CONFIG") or default_config_path())
    source = str(chosen)
    try:
        raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("CTI_CONFIG", "a readable TOML file", source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", f"valid TOML ({exc})", source=source) from None
    _apply_env(raw, env)
    return _parse(Table(raw, "", source), source)


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    if "CTI_HTTP" in env:
        raw.setdefault("http", {})["listen"] = FromEnv(env["CTI_HTTP"])
    for name, value in env.items():
        if not name.startswith("CTI_") or name == "CTI_HTTP":
            continue
        rest = name[4:].lower()
        section = next((s for s in ENV_SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            continue  # CTI_CONFIG, CTI_PASSWORD and test switches are not config keys
        key = rest[len(section) + 1:]
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(section, "a table", target)
        target[key] = FromEnv(value)


def _parse(root: Table, source: str) -> Settings:
    helpdesk = root.table("helpdesk")
    services = tuple(_service(t) for t in root.tables("services"))
    _check_services(root, services)
    service_ids = {s.id for s in services}
    operators = tuple(_operator(t, service_ids) for t in root.tables("operators"))
    _check_unique(root, "operators", [o.id for o in operators], "id")
    _check_unique(root, "operators", [o.uri for o in operators], "uri")
    log = root.table("log")
    settings = Settings(
        source=source,
        helpdesk_name_ja=helpdesk.text("name_ja", "庁内ITヘルプデスク"),
        helpdesk_name_en=helpdesk.text("name_en", "City IT Helpdesk"),
        http=_http(root.table("http")),
        auth=_auth(root.table("auth")),
        database=_database(root.table("database")),
        sip=_sip(root.table("sip")),
        hours=_hours(root.table("hours")),
        routing=_routing(root.table("routing")),
        privacy=_privacy(root.table("privacy")),
        smtp=_smtp(root.table("smtp")),
        escalation=_escalation(root.table("escalation")),
        metrics=_metrics(root.table("metrics")),
        baseline=_baseline(root.table("baseline")),
        services=services,
        operators=operators,
        reports=_reports(root.table("reports")),
        log_format=log.choice("format", ("auto", "json", "console"), "auto"),  # type: ignore[arg-type]
        ha=_ha(root.table("ha")),
    )
    for table in (helpdesk, log):
        table.finish()
    root.finish()
    return settings


def _http(t: Table) -> HttpSettings:
    host, port = t.host_port("listen", "127.0.0.1:8080")
    origins = t.str_list("allowed_origins", [])
    for origin in origins:
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise t.error("allowed_origins", 'origins such as "https://cti.example.invalid" '
                          "(scheme and host, no path)", origin)
    result = HttpSettings(
        HostPort(host, port),
        session_hours=t.integer("session_hours", 10, min=1, max=24 * 30),
        secure_cookie=t.flag("secure_cookie", False),
        allowed_origins=tuple(o.lower() for o in origins),
        header_timeout_seconds=t.number("header_timeout_seconds", 15.0, min=1.0, max=300.0),
        trusted_proxies=_addresses(t, "trusted_proxies"),
    )
    t.finish()
    return result


def _addresses(t: Table, key: str) -> tuple[str, ...]:
    found = t.str_list(key, [])
    for text in found:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise t.error(key, "IP addresses such as 127.0.0.1", text) from None
    return found


def _auth(t: Table) -> AuthSettings:
    result = AuthSettings(
        password_min_length=t.integer("password_min_length", 15, min=8, max=64),
        password_min_score=t.integer("password_min_score", 3, min=0, max=4),
        token_days=t.integer("token_days", 90, min=0, max=3650),
        max_failures_per_user=t.integer("max_failures_per_user", 10, min=3, max=100),
        max_failures_per_address=t.integer("max_failures_per_address", 20, min=5, max=1000),
        failure_window_minutes=t.integer("failure_window_minutes", 15, min=1, max=24 * 60),
        lockout_minutes=t.integer("lockout_minutes", 15, min=1, max=24 * 60),
    )
    t.finish()
    return result


def _database(t: Table) -> DatabaseSettings:
    url = t.text("url", "sqlite+aiosqlite:///var/cti.db", allow_empty=False)
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise t.error("url", 'a "sqlite+aiosqlite:///PATH" or "postgresql+asyncpg://..." URL', url)
    result = DatabaseSettings(url, t.text("journal", "var/call-events.jsonl", allow_empty=False))
    t.finish()
    return result


def _ha(t: Table) -> HaSettings:
    node_id = t.text("node_id", "")
    if node_id and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", node_id):
        raise t.error("node_id", "1-32 letters, digits, '.', '_' or '-'", node_id)
    lease = t.number("lease_seconds", 3.0, min=1.0, max=60.0)
    renew = t.number("renew_seconds", 0.5, min=0.1, max=20.0)
    if renew * 2 > lease:
        raise t.error("renew_seconds", f"at most half of lease_seconds ({lease})", renew)
    url = t.text("url", "")
    if url and not re.fullmatch(r"https?://[^/\s]+", url):
        raise t.error("url", 'a console URL such as "http://10.0.0.11:8080" (no path)', url)
    result = HaSettings(node_id, lease, renew, url)
    t.finish()
    return result


def _sip(t: Table) -> SipSettings:
    mode = t.choice("mode", ("direct", "registered", "off"), "direct")
    host, port = t.host_port("listen", "127.0.0.1:5060")
    registrar_text = t.text("registrar", "")
    registrar = None
    if registrar_text:
        r_host, r_port = parse_host_port(
            registrar_text, lambda: t.error("registrar", '"HOST:PORT"', registrar_text)
        )
        registrar = HostPort(r_host, r_port)
    elif mode == "registered":
        raise t.error("registrar", '"HOST:PORT" of the PBX when mode = "registered"', "")
    also_listen = None
    if also_text := t.text("also_listen", ""):
        a_host, a_port = t.host_port("also_listen")
        families = {_ip_family(host), _ip_family(a_host)}
        if families != {4, 6}:
            raise t.error("also_listen", "an IP address of the other family than listen "
                          '(e.g. "[::1]:5060" next to "127.0.0.1:5060")', also_text)
        also_listen = HostPort(a_host, a_port)
    low_high = t.text("rtp_ports", DEFAULT_RTP_PORTS)
    try:
        low, high = (int(p) for p in low_high.split("-"))
    except ValueError:
        raise t.error("rtp_ports", f'"LOW-HIGH", e.g. "{DEFAULT_RTP_PORTS}"', low_high) from None
    if not 1024 <= low < high <= 65535:
        raise t.error("rtp_ports", "1024 <= LOW < HIGH <= 65535", low_high)
    result = SipSettings(
        mode=mode,  # type: ignore[arg-type]
        listen=HostPort(host, port),
        public_address=t.text("public_address", "") or host,
        registrar=registrar,
        username=t.text("username", "5000"),
        password=t.text("password", ""),
        rtp_ports=(low, high),
        allowed_peers=t.str_list("allowed_peers", []),
        t1_ms=t.integer("t1_ms", 500, min=50, max=5000),
        t2_ms=t.integer("t2_ms", 4000, min=500, max=32000),
        invites_per_second=t.number("invites_per_second", 0.0, min=0.0, max=10000.0),
        invite_burst=t.integer("invite_burst", 20, min=1, max=100000),
        max_calls=t.integer("max_calls", 200, min=0, max=100000),
        retry_after_seconds=t.integer("retry_after_seconds", 5, min=1, max=3600),
        also_listen=also_listen,
        max_answer_delay_ms=t.integer("max_answer_delay_ms", 300, min=0, max=60000),
        media_workers=t.integer("media_workers", 1, min=0, max=16),
        media_nice=t.integer("media_nice", -10, min=-20, max=19),
    )
    t.finish()
    return result


def _ip_family(host: str) -> int:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return 0


def _hours(t: Table) -> HoursSettings:
    zone_name = t.text("timezone", "Asia/Tokyo")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise t.error("timezone", "an IANA time zone such as Asia/Tokyo", zone_name) from None
    day_names = t.str_list("days", ["mon", "tue", "wed", "thu", "fri"])
    for day in day_names:
        if day not in WEEKDAYS:
            raise t.error("days", "weekday names from " + ", ".join(WEEKDAYS), day)
    opens, closes = t.clock("open", "08:45"), t.clock("close", "17:15")
    if not opens < closes:
        raise t.error("close", f"a time after open ({opens:%H:%M})", f"{closes:%H:%M}")
    closed: list[tuple[int, int]] = []
    for text in t.str_list("closed_dates", ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"]):
        try:
            month, day_of_month = (int(p) for p in text.split("-"))
            if not (1 <= month <= 12 and 1 <= day_of_month <= 31):
                raise ValueError
        except ValueError:
            raise t.error("closed_dates", 'dates as "MM-DD"', text) from None
        closed.append((month, day_of_month))
    result = HoursSettings(
        timezone=zone,
        days=frozenset(WEEKDAYS.index(d) for d in day_names),
        open=opens,
        close=closes,
        closed_dates=tuple(closed),
        national_holidays=t.flag("national_holidays", True),
        override=t.choice("override", OVERRIDE_MODES, "auto"),  # type: ignore[arg-type]
    )
    t.finish()
    return result


def _routing(t: Table) -> RoutingSettings:
    result = RoutingSettings(
        ring_timeout_seconds=t.integer("ring_timeout_seconds", 20, min=5, max=120),
        max_missed_offers=t.integer("max_missed_offers", 2, min=1, max=10),
        announce_interval_seconds=t.integer("announce_interval_seconds", 60, min=10, max=600),
        overflow_after_seconds=t.integer("overflow_after_seconds", 90, min=0),
        overflow_any_after_seconds=t.integer("overflow_any_after_seconds", 180, min=0),
        max_wait_seconds=t.integer("max_wait_seconds", 600, min=30),
        ivr_digit_timeout_seconds=t.integer("ivr_digit_timeout_seconds", 6, min=2, max=30),
        ivr_max_repeats=t.integer("ivr_max_repeats", 2, min=0, max=5),
        priority_callers=t.str_list("priority_callers", []),
    )
    t.finish()
    return result


def _privacy(t: Table) -> PrivacySettings:
    ranges: list[range] = []
    for text in t.str_list("internal_extensions", ["2000-4999"]):
        try:
            low, high = (int(p) for p in text.split("-"))
            if low > high:
                raise ValueError
        except ValueError:
            raise t.error("internal_extensions", 'ranges as "LOW-HIGH"', text) from None
        ranges.append(range(low, high + 1))
    result = PrivacySettings(
        caller_hash_secret=t.text("caller_hash_secret", ""),
        caller_hash_secret_file=t.text("caller_hash_secret_file", "var/caller_hash.secret"),
        internal_extensions=tuple(ranges),
    )
    t.finish()
    return result


def _smtp(t: Table) -> SmtpSettings:
    result = SmtpSettings(
        host=t.text("host", "127.0.0.1", allow_empty=False),
        port=t.integer("port", 25, min=1, max=65535),
        sender=t.text("sender", "helpdesk@example.invalid", allow_empty=False),
        username=t.text("username", ""),
        password=t.text("password", ""),
        starttls=t.flag("starttls", False),
    )
    t.finish()
    return result


def _escalation(t: Table) -> EscalationSettings:
    base = t.text("reply_base_url", "")
    if base and not base.startswith(("http://", "https://")):
        raise t.error("reply_base_url", "an http:// or https:// URL", base)
    result = EscalationSettings(t.integer("overdue_business_hours", 16, min=1, max=24 * 30),
                                base.rstrip("/"))
    t.finish()
    return result


def _metrics(t: Table) -> MetricsSettings:
    result = MetricsSettings(
        service_level_seconds=t.integer("service_level_seconds", 20, min=1, max=3600),
        service_level_target=t.number("service_level_target", 0.8, min=0.0, max=1.0),
        abandon_rate_per_second=t.number("abandon_rate_per_second", 0.0, min=0.0, max=1.0),
    )
    t.finish()
    return result


def _reports(t: Table) -> ReportSettings:
    recipients = t.str_list("recipients", [])
    for address in recipients:
        if "@" not in address or len(address) > 254:
            raise t.error("recipients", "e-mail addresses", address)
    result = ReportSettings(
        contract_name=t.text("contract_name", "統合型庁内コールセンター業務", allow_empty=False),
        addressee=t.text("addressee", "札幌市長", allow_empty=False),
        contractor=t.text("contractor", "", allow_empty=True),
        responsible_person=t.text("responsible_person", ""),
        recipients=recipients,
        folder=t.text("folder", "var/reports", allow_empty=False),
        soffice=t.text("soffice", "soffice", allow_empty=False),
        convert_timeout_seconds=t.integer("convert_timeout_seconds", 120, min=5, max=3600),
        automatic=t.flag("automatic", True),
    )
    t.finish()
    return result


def _baseline(t: Table) -> tuple[int, ...]:
    counts = t.int_list("monthly_calls")
    if len(counts) != 12 or any(c < 0 for c in counts):
        raise t.error("monthly_calls", "12 non-negative monthly counts, January to December", counts)
    t.finish()
    return counts


def _service(t: Table) -> Service:
    service_id = t.text("id", allow_empty=False)
    if not service_id.isidentifier() or not service_id.isascii():
        raise t.error("id", "a short ASCII identifier such as 'skysea'", service_id)
    digit = t.text("digit")
    if digit not in tuple("123456789"):
        raise t.error("digit", "one DTMF digit from 1 to 9", digit)
    contacts = []
    for c in t.tables("contacts"):
        contact = Contact(
            kind=c.choice("kind", ("city", "vendor")),  # type: ignore[arg-type]
            name=c.text("name", allow_empty=False),
            email=c.text("email", allow_empty=False),
        )
        if "@" not in contact.email:
            raise c.error("email", "an e-mail address", contact.email)
        c.finish()
        contacts.append(contact)
    result = Service(
        id=service_id,
        digit=digit,
        name_ja=t.text("name_ja", allow_empty=False),
        name_en=t.text("name_en", allow_empty=False),
        strategy=t.choice("strategy", SERVICE_STRATEGIES, "longest_idle"),
        wrap_up_seconds=t.integer("wrap_up_seconds", 60, min=0, max=3600),
        categories=t.str_list("categories", []),
        contacts=tuple(contacts),
    )
    t.finish()
    return result


def _check_services(root: Table, services: tuple[Service, ...]) -> None:
    if not services:
        raise root.error("services", "at least one [[services]] entry")
    _check_unique(root, "services", [s.id for s in services], "id")
    _check_unique(root, "services", [s.digit for s in services], "digit")


def _check_unique(root: Table, name: str, values: list[str], key: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(
                f"{name}[{index}].{key}",
                f"a value not already used by {name}[{seen[value]}]",
                value,
                source=root.source,
            )
        seen[value] = index


def _operator(t: Table, service_ids: set[str]) -> Operator:
    operator_id = t.text("id", allow_empty=False)
    skills_table = t.table("skills")
    skills: dict[str, int] = {}
    for service_id in skills_table.mapping_keys():
        if service_id not in service_ids:
            raise skills_table.error(
                service_id, "a service id from [[services]] (" + ", ".join(sorted(service_ids)) + ")"
            )
        skills[service_id] = skills_table.integer(service_id, min=1, max=5)
    if not skills:
        raise t.error("skills", "at least one skill, e.g. { isolation = 3 }")
    uri = t.text("uri", allow_empty=False)
    if not uri.startswith(("sip:", "sips:")):
        raise t.error("uri", 'a SIP URI such as "sip:2101@127.0.0.1"', uri)
    result = Operator(id=operator_id, name=t.text("name", operator_id), uri=uri, skills=skills)
    t.finish()
    return result
