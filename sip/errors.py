"""Errors raised by CallControl implementations. Each names whose fault it was."""

from __future__ import annotations


class SipError(Exception):
    """Base of the errors of the SIP front door."""

    error_id = "sip_error"
    http_status = 500


class CallNotFoundError(SipError):
    """A command named a call that does not exist or has already ended (caller's fault/race)."""

    error_id = "call_not_found"
    http_status = 404

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        super().__init__(f"no active call {call_id!r}")


class IllegalCallTransitionError(SipError):
    """A command or event is not allowed in the call's current state (programming error)."""

    error_id = "illegal_call_transition"
    http_status = 409

    def __init__(self, call_id: str, state: str, trigger: str) -> None:
        self.call_id = call_id
        self.state = state
        self.trigger = trigger
        super().__init__(f"call {call_id!r}: {trigger!r} is not allowed in state {state!r}")


class UnknownPromptError(SipError):
    """play() named a prompt that is neither a file under the prompt directory nor a tone."""

    error_id = "unknown_prompt"
    http_status = 400

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        super().__init__(f"unknown prompt {prompt!r}")


class IllegalIvrTransitionError(SipError):
    """The IVR was fed an input it cannot take in its current state (programming error)."""

    error_id = "illegal_ivr_transition"
    http_status = 409

    def __init__(self, state: str, trigger: str) -> None:
        self.state = state
        self.trigger = trigger
        super().__init__(f"IVR: {trigger!r} is not allowed in state {state!r}")
