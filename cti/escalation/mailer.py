"""Sending one e-mail through the configured SMTP server (aiosmtplib).

Retrying is the outbox's business (``cti.escalation.outbox``); a failed send raises ``MailNotSent``
saying whether the server itself was unreachable (try again later, and skip the rest of the
round) or refused this one message.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import structlog

from cti.config import Settings

log = structlog.get_logger()
SEND_TIMEOUT_S = 30.0


class MailNotSent(Exception):
    def __init__(self, detail: str, *, server_unreachable: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.server_unreachable = server_unreachable


class Mailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        smtp = settings.smtp
        return cls(smtp.host, smtp.port, username=smtp.username, password=smtp.password,
                   starttls=smtp.starttls)

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username or None,
                password=self._password or None,
                start_tls=self._starttls,
                timeout=self._timeout_s,
            )
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}", server_unreachable=True) from exc
        except aiosmtplib.SMTPException as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}", server_unreachable=False) from exc
