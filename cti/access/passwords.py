"""The password policy, NIST SP 800-63B style: long, not common, no composition rules.

A password must have at least ``password_min_length`` characters (default 15, the 800-63B-4 minimum
for a password used alone) and must not be guessable: zxcvbn's estimate, which matches it against
its lists of common passwords, English words and names, keyboard walks, repeats, sequences and dates,
and against the user's own name and the helpdesk's words, must reach ``password_min_score``.
There are no rules about character classes and no forced periodic changes (800-63B §3.1.1.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zxcvbn import zxcvbn

from cti.config.settings import AuthSettings

MAX_LENGTH = 256  # what the login route accepts
SCORED_PREFIX = 100  # zxcvbn's work grows with length; a longer password is judged on its start
CONTEXT_WORDS = ("cti", "helpdesk", "sapporo", "password", "herupudesuku", "shiyakusho")


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    ok: bool
    reason: str  # empty when ok; otherwise for the admin (Japanese first, English second)


def judge(password: str, settings: AuthSettings, *, username: str,
          context: Iterable[str] = ()) -> PolicyVerdict:
    if len(password) < settings.password_min_length:
        return PolicyVerdict(False, f"パスワードは{settings.password_min_length}文字以上 / password "
                                    f"must have at least {settings.password_min_length} characters")
    if len(password) > MAX_LENGTH:
        return PolicyVerdict(False, f"パスワードが長すぎます / password longer than {MAX_LENGTH}")
    if "\x00" in password:
        return PolicyVerdict(False, "NUL 文字は使えません / password contains a NUL character")
    words = [username, *CONTEXT_WORDS, *context]
    result = zxcvbn(password[:SCORED_PREFIX], user_inputs=[w for w in words if w])
    if result["score"] < settings.password_min_score:
        hint = result.get("feedback", {}).get("warning") or "too easy to guess"
        return PolicyVerdict(False, "推測されやすいパスワードです / password is too easy to guess"
                                    f" ({hint}); use a longer passphrase of unrelated words")
    return PolicyVerdict(True, "")
