"""Sending one e-mail through the configured SMTP server (aiosmtplib).

Retrying is the outbox's business (``cti.escalation.outbox``). A failed send raises one of:

- ``MailNotSent``: the server certainly does not have the message. ``server_unreachable`` says
  whether the server itself was away (connect, greeting, TLS, login, or a connection lost before
  DATA: try again later and skip the rest of the round) or refused this one message (a reply
  code to MAIL, RCPT or the message data).
- ``MailMaybeSent``: the connection was lost or timed out once the DATA command had been issued
  and before the server's final reply. The server may have stored the message and may deliver it
  (RFC 1047, "Duplicate messages and SMTP"); sending it again blindly is how a vendor gets the
  same escalation four times. The window we call ambiguous starts at the DATA command, a little
  before the content's final "." (aiosmtplib sends both in one call), so it errs on the side of
  no duplicate.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import structlog
from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from cti.config import Settings

log = structlog.get_logger()
SEND_TIMEOUT_S = 30.0
_LOST = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


class MailNotSent(Exception):
    def __init__(self, detail: str, *, server_unreachable: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.server_unreachable = server_unreachable


class MailMaybeSent(Exception):
    """The connection ended between DATA and the server's reply: it may have stored the mail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, timeout=self._timeout_s,
                                 start_tls=self._starttls)
        try:
            try:
                await client.connect()
                if self._username:
                    await client.login(self._username, self._password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise MailNotSent(f"{type(exc).__name__}: {exc}", server_unreachable=True) from exc
            await self._transfer(client, message)
        except _LOST as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}", server_unreachable=True) from exc
        except aiosmtplib.SMTPException as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}", server_unreachable=False) from exc
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()

    async def _transfer(self, client: aiosmtplib.SMTP, message: EmailMessage) -> None:
        """MAIL, RCPT, then DATA; a lost connection from DATA on is ``MailMaybeSent``."""
        sender = extract_sender(message) or ""
        recipients = extract_recipients(message)
        utf8 = any(not text.isascii() for text in (sender, *recipients))
        options = ["SMTPUTF8"] if utf8 else []
        eight_bit = client.supports_extension("8BITMIME")
        if eight_bit:
            options.append("BODY=8BITMIME")
        await client.mail(sender, options=options)
        for recipient in recipients:
            await client.rcpt(recipient)
        data = flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
        try:
            await client.data(data)
        except _LOST as exc:
            raise MailMaybeSent(f"connection lost after DATA ({type(exc).__name__}: {exc}); "
                                "the server may have stored the message") from exc
