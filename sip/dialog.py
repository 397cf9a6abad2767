"""A SIP dialog (RFC 3261 12): enough state to send in-dialog requests correctly.

Defect 2: pyVoIP builds its BYE by copying the INVITE's Via headers (so the 200 for the BYE
is routed to the caller, who aborts) and ignores Record-Route. Here every request we send
carries one fresh Via of our own with a new branch, a Route set taken from Record-Route, and
is sent to the first Route (loose routing) or the remote target (Contact).
Defect 3: the ACK for a 2xx carries the To-tag of that 2xx (pyVoIP invents a random one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cti.sip import message as sipmsg
from cti.sip.message import SipMessage
from cti.sip.wire import host_for_uri


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_uri: str  # full From/To value of our side, with our tag
    remote_uri: str  # full From/To value of their side, with their tag
    remote_target: str  # Contact URI of the peer
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = field(default_factory=lambda: random.randint(1, 10_000))
    remote_cseq: int | None = None  # highest CSeq seen from the peer (12.2.2)

    @property
    def local_tag(self) -> str:
        return sipmsg.header_tag(self.local_uri)

    @property
    def remote_tag(self) -> str:
        return sipmsg.header_tag(self.remote_uri)

    def matches(self, request: SipMessage) -> bool:
        """12.2.2: Call-ID, To-tag = our tag, From-tag = their tag (tags parsed with LWS)."""
        return (request.call_id == self.call_id and request.to_tag == self.local_tag
                and request.from_tag == self.remote_tag)

    def in_order(self, request: SipMessage) -> bool:
        """12.2.2: a CSeq lower than the last one seen is out of order (answered 500)."""
        number = request.cseq[0]
        if self.remote_cseq is not None and number <= self.remote_cseq:
            return number == self.remote_cseq and request.method in ("ACK", "CANCEL")
        self.remote_cseq = number
        return True

    @classmethod
    def as_uas(cls, invite: SipMessage, local_tag: str) -> Dialog:
        contact = invite.get("contact")
        target = sipmsg.header_uri(contact) if contact else sipmsg.header_uri(invite.get("from"))
        return cls(
            call_id=invite.call_id,
            local_uri=f"{invite.get('to')};tag={local_tag}",
            remote_uri=invite.get("from"),
            remote_target=target,
            route_set=invite.all("record-route"),  # UAS keeps Record-Route order
            remote_cseq=invite.cseq[0],
        )

    @classmethod
    def as_uac(cls, invite_from: str, invite_to: str, call_id: str, response: SipMessage,
               cseq: int) -> Dialog:
        contact = response.get("contact")
        return cls(
            call_id=call_id,
            local_uri=invite_from,
            remote_uri=response.get("to"),  # carries the remote tag (defect 3)
            remote_target=sipmsg.header_uri(contact) if contact else sipmsg.header_uri(invite_to),
            route_set=list(reversed(response.all("record-route"))),  # UAC reverses
            local_cseq=cseq,
        )

    def next_hop(self) -> tuple[str, int]:
        if self.route_set:
            return sipmsg.uri_hostport(sipmsg.header_uri(self.route_set[0]))
        return sipmsg.uri_hostport(self.remote_target)

    def request(
        self,
        method: str,
        local: tuple[str, int],
        contact: str,
        *,
        cseq: int | None = None,
        branch: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> tuple[bytes, str]:
        """An in-dialog request and its branch. ACK for a 2xx passes the INVITE's cseq."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        branch = branch or sipmsg.new_branch()
        headers = [
            ("Via", f"SIP/2.0/UDP {host_for_uri(local[0])}:{local[1]};branch={branch};rport"),
            ("Max-Forwards", "70"),
        ]
        headers += [("Route", route) for route in self.route_set]
        headers += [
            ("From", self.local_uri),
            ("To", self.remote_uri),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<{contact}>"),
            *(extra or []),
        ]
        return sipmsg.build_request(method, self.remote_target, headers, body), branch
