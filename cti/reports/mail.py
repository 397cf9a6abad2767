"""The mail that takes a month's set to the city: the PDFs and the workbook attached.

Sent with the escalation mailer (``cti.escalation.mailer.Mailer``, aiosmtplib); retrying is the
schedule's business (an unmailed set is tried again at each check, a bounded number of times).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from cti.config import Settings
from cti.reports.archive import kept_file
from cti.reports.period import Month
from cti.storage.reports import ProducedReport

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def compose(settings: Settings, report: ProducedReport) -> EmailMessage:
    r = settings.reports
    month = Month.parse(report.month)
    message = EmailMessage()
    message["From"] = settings.smtp.sender
    message["To"] = ", ".join(r.recipients)
    message["Subject"] = (f"【{r.contract_name}】{month.label_ja}分 月次報告書類の送付"
                          f" / Monthly reports {month.text}")
    message["Message-ID"] = make_msgid(domain=settings.smtp.sender.rpartition("@")[2] or None)
    names = sorted(report.files, key=lambda n: (not n.endswith(".pdf"), n))
    listing = "\n".join(f"  - {name}（SHA-256: {report.files[name]['sha256']}）" for name in names)
    message.set_content(
        f"{r.addressee} ご担当者様\n\n"
        f"{r.contract_name}の{month.label_ja}分の月次報告書類（ヘルプデスク対応履歴票、月次報告書、"
        f"業務完了届）を送付いたします。\n"
        f"受付件数: {report.received}件\n\n添付ファイル:\n{listing}\n\n"
        f"業務完了届は押印の上、別途提出いたします。\n\n"
        f"{r.contractor}\n{r.responsible_person}\n\n"
        f"----\nEnglish: the monthly documents of {month.text} (response history, monthly report, "
        f"completion notice) are attached as PDF and as an Excel workbook. Calls received: "
        f"{report.received}. Set checksum (SHA-256): {report.checksum}\n")
    for name in names:
        data = kept_file(settings, report, name)
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"{name} is larger than {MAX_ATTACHMENT_BYTES} bytes")
        main, sub = str(report.files[name]["content_type"]).split("/", 1)
        message.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return message
