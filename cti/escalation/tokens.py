"""Per-escalation reply tokens.

A token is HMAC-SHA256 under a key kept outside the database, over the escalation's reference
and creation second; the database stores only the SHA-256 of the token. So the token never sits
in the database (not even while the mail waits in the outbox: the sender derives it again when it
composes the mail), a copy of the database does not let anyone answer in a vendor's name, and a
presented token is checked by comparing hashes in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

MIN_KEY_BYTES = 16


class ReplyTokens:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the reply token key needs at least {MIN_KEY_BYTES} bytes")
        self._key = hmac.new(key, b"cti escalation reply token v1", hashlib.sha256).digest()

    def token(self, reference: str, created_at: datetime) -> str:
        message = f"{reference}|{int(created_at.timestamp())}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def stored_hash(self, reference: str, created_at: datetime) -> str:
        return self.digest(self.token(reference, created_at))

    def matches(self, presented: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.digest(presented).encode(), stored_hash.encode())
