"""Escalation errors that reach an HTTP client (mapped by the one error middleware)."""

from __future__ import annotations

from cti.errors import Conflict, Forbidden


class NoEscalationContact(Conflict):
    """The service has no contact of the asked kind in the configuration."""

    error_id = "no_escalation_contact"


class WrongReplyToken(Forbidden):
    error_id = "wrong_reply_token"


class AlreadyAnswered(Conflict):
    error_id = "escalation_already_answered"
