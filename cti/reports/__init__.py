"""The monthly deliverables of contract section 7: 対応履歴票 (response history), 月次報告書
(monthly report) and 業務完了届 (completion notice), as a workbook and PDFs, built on request
or by the service itself after each month end.

period (months, fiscal years) · summary (the per-service text/CSV/JSON report) · history (one row
per ticket) · figures (the monthly report's numbers) · workbook (openpyxl) · pdf (LibreOffice) ·
archive (build, keep with checksums, read back) · mail · schedule (when to build; the task) ·
seed (a realistic month for tests and demos).
"""
