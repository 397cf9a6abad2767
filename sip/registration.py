"""Registered mode: REGISTER with digest auth, refresh, and recovery (defect 11).

pyVoIP 1.6.8 blocks ``start()`` 30 s when the registrar is unreachable, ends in FAILED at
120 s and never recovers; a wrong password is FAILED in ~50 ms with no retry; it answers 401
only and with MD5 without qop. Here registration runs as one task on the event loop: every
attempt is bounded (``attempt_timeout_s``), failures are retried with exponential back-off
(``retry_s`` doubling to 60 s) for as long as the service runs, 401 and 407 challenges are
answered (MD5, with or without ``qop=auth``), the binding is refreshed before it expires, and
every state change is an event (``RegistrationChanged``) visible in /healthz.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from typing import TYPE_CHECKING

import structlog

from cti.sip import message as sipmsg
from cti.sip.events import RegistrationChanged, RegistrationState
from cti.sip.message import SipMessage
from cti.sip.settings import RegistrarSettings

if TYPE_CHECKING:
    from cti.sip.adapter import SipFrontDoor

log = structlog.get_logger("cti.sip.registration")

MAX_RETRY_S = 60.0
_PARAM = re.compile(r'(\w+)\s*=\s*("([^"]*)"|[^\s,]+)')


class RegistrationError(Exception):
    """One registration attempt failed; the message says why."""


def parse_challenge(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise RegistrationError(f"unsupported auth scheme {scheme!r}")
    return {m.group(1).lower(): m.group(3) if m.group(3) is not None else m.group(2)
            for m in _PARAM.finditer(rest)}


def digest_authorization(challenge: dict[str, str], method: str, uri: str, user: str,
                         password: str, nc: int = 1, cnonce: str | None = None) -> str:
    """RFC 2617 / 3261 digest response (MD5; qop=auth when offered)."""
    algorithm = challenge.get("algorithm", "MD5")
    if algorithm.upper() != "MD5":
        raise RegistrationError(f"unsupported digest algorithm {algorithm}")
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # SIP digest is MD5 (RFC 3261)

    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = cnonce or uuid.uuid4().hex[:16]
        response = md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    parts += [f'response="{response}"', "algorithm=MD5"]
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


class Registration:
    def __init__(self, door: SipFrontDoor, settings: RegistrarSettings) -> None:
        self.door = door
        self.settings = settings
        self.domain = settings.domain or settings.host
        self.aor = f"sip:{settings.user}@{self.domain}"
        self.call_id = sipmsg.new_call_id(door.settings.contact_host)  # defect 7: unique
        self.tag = sipmsg.new_tag()
        self.cseq = 0
        self.state = RegistrationState.UNREGISTERED
        self.attempts = 0
        self.last_error = ""

    async def run(self) -> None:
        delay = self.settings.retry_s
        try:
            while True:
                if self.state is RegistrationState.UNREGISTERED:
                    self._set(RegistrationState.REGISTERING)
                try:
                    expires = await self.register(self.settings.expires_s)
                except RegistrationError as exc:
                    self.last_error = str(exc)
                    log.warning("sip.registration_failed", registrar=self.settings.host,
                                error=str(exc), retry_in_s=delay)
                    self._set(RegistrationState.FAILED, str(exc))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_S)
                    continue
                delay = self.settings.retry_s
                self._set(RegistrationState.REGISTERED, f"expires {expires} s")
                await asyncio.sleep(max(1.0, expires * 0.5))  # refresh at half-time
        except asyncio.CancelledError:
            if self.state is RegistrationState.REGISTERED:
                try:
                    await asyncio.wait_for(self.register(0), 1.0)
                except (RegistrationError, TimeoutError):
                    pass
            self._set(RegistrationState.UNREGISTERED)
            raise

    async def register(self, expires: int) -> int:
        """One REGISTER exchange (with one auth round); returns the granted expiry."""
        self.attempts += 1
        response = await self._send(expires, None)
        status = response.status or 0
        if status in (401, 407):
            header = "www-authenticate" if status == 401 else "proxy-authenticate"
            challenge = parse_challenge(response.get(header))
            auth = digest_authorization(challenge, "REGISTER", f"sip:{self.domain}",
                                        self.settings.user, self.settings.password)
            name = "Authorization" if status == 401 else "Proxy-Authorization"
            response = await self._send(expires, (name, auth))
            status = response.status or 0
            if status in (401, 407, 403):
                raise RegistrationError(f"credentials rejected ({status})")
        if not 200 <= status < 300:
            raise RegistrationError(f"registrar answered {status} {response.reason}")
        return self._granted(response, expires)

    def _granted(self, response: SipMessage, asked: int) -> int:
        contact_uri = sipmsg.header_uri(f"<{self.door.contact}>")
        for contact in response.all("contact"):
            if sipmsg.header_uri(contact) == contact_uri:
                m = re.search(r";\s*expires=(\d+)", contact)
                if m:
                    return int(m.group(1))
        value = response.get("expires")
        return int(value) if value.isdigit() else asked

    async def _send(self, expires: int, auth: tuple[str, str] | None) -> SipMessage:
        door = self.door
        if door.transport is None:
            raise RegistrationError("transport closed")
        self.cseq += 1
        branch = sipmsg.new_branch()
        host, port = door.local
        headers = [
            ("Via", f"SIP/2.0/UDP {host}:{port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<{self.aor}>;tag={self.tag}"),
            ("To", f"<{self.aor}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", f"<{door.contact}>;expires={expires}"),
            ("Expires", str(expires)),
            ("User-Agent", door.settings.user_agent),
            *([auth] if auth else []),
        ]
        data = sipmsg.build_request("REGISTER", f"sip:{self.domain}", headers)
        tx = door.transport.start_client("REGISTER", data, branch,
                                         (self.settings.host, self.settings.port))
        try:
            return await asyncio.wait_for(asyncio.shield(tx.final), self.settings.attempt_timeout_s)
        except TimeoutError as exc:  # includes TransactionTimeoutError
            door.transport.abandon(tx)
            raise RegistrationError(f"no answer from registrar ({type(exc).__name__})") from None

    def _set(self, state: RegistrationState, detail: str = "") -> None:
        if state is self.state:
            return
        self.state = state
        self.door.registration_state = state
        log.info("sip.registration", state=state.value, detail=detail)
        self.door.emit(RegistrationChanged(state, self.door.now(), detail))
