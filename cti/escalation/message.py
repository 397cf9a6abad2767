"""What the escalation e-mail says. Pure: text in, text and ``EmailMessage`` out.

The stored part (``content``) is built once, from text that has already been through the
``Redactor``: the service, the category, the ticket's summary and the operator's note. Nothing
else of the ticket goes out: no caller number or hash, no operator name, not even the ticket's
own reference (the vendor gets the escalation reference only). The reply token is added when the
mail is composed for sending (see ``cti.escalation.tokens``). Japanese first, English second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from cti.storage.escalations import EscalationView


@dataclass(frozen=True, slots=True)
class EscalationContent:
    service_ja: str
    service_en: str
    category: str | None
    summary: str  # redacted
    note: str  # redacted


@dataclass(frozen=True, slots=True)
class MailIdentity:
    sender: str
    helpdesk_ja: str
    helpdesk_en: str
    reply_base_url: str  # e.g. "https://cti.example.invalid"
    zone: ZoneInfo


def content(c: EscalationContent) -> str:
    """The body's middle part, as stored in the escalation's ``message``."""
    lines = [
        f"サービス / Service: {c.service_ja} ({c.service_en})",
        f"分類 / Category: {c.category or '未分類 / not categorised'}",
        "",
        "問い合わせの概要 / Summary of the enquiry:",
        _indented(c.summary or "（なし / none）"),
        "",
        "ヘルプデスクからの連絡事項 / Note from the helpdesk:",
        _indented(c.note or "（なし / none）"),
    ]
    return "\n".join(lines)


def subject(reference: str) -> str:
    return f"[{reference}] エスカレーションのお願い / Escalation request"


def reply_url(identity: MailIdentity, reference: str) -> str:
    return f"{identity.reply_base_url.rstrip('/')}/api/escalations/{reference}/reply"


def compose(view: EscalationView, token: str, identity: MailIdentity) -> EmailMessage:
    due = _local(view.due_at, identity.zone)
    example = json.dumps({"token": token, "answer": "回答 / your answer", "from": "担当 / your team"},
                         ensure_ascii=False)
    body = "\n".join([
        f"{view.contact_name} 御中",
        f"Dear {view.contact_name},",
        "",
        f"{identity.helpdesk_ja}です。次の件について確認と回答をお願いいたします。",
        f"This is the {identity.helpdesk_en}. Please look into the following and answer.",
        "",
        f"参照番号 / Reference: {view.reference}",
        f"回答期限 / Please answer by: {due}",
        "",
        view.message,
        "",
        "回答方法 / How to answer",
        f"1. このメールに返信してください（件名の参照番号 {view.reference} は消さないでください）。",
        f"   Reply to this e-mail, keeping the reference {view.reference} in the subject.",
        "2. または、次の URL に JSON を POST してください。",
        "   Or POST this JSON to the URL below:",
        f"   {reply_url(identity, view.reference)}",
        f"   {example}",
        "",
        "このメールは個人情報を取り除いた内容のみを含みます。",
        "This e-mail carries the enquiry with personal information removed.",
    ])
    mail = EmailMessage()
    mail["Subject"] = subject(view.reference)
    mail["From"] = identity.sender
    mail["To"] = view.contact_email
    mail["Reply-To"] = identity.sender
    domain = identity.sender.rpartition("@")[2] or "localhost"
    # Same id on every attempt: a mail sent twice (crash between send and commit) is one thread.
    mail["Message-ID"] = f"<{view.reference}@{domain}>"
    mail["X-CTI-Escalation"] = view.reference
    mail.set_content(body)
    return mail


def _indented(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines() or [""])


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    if at is None:
        return "-"
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"
