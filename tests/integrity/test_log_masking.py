"""The one masking processor: numbers and mail addresses never reach a log line in the clear."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from cti.logging import mask_text

MASKED = [  # (as written, what the log shows)
    ("09012345678", "*********78"),
    ("caller=09012345678", "caller=*********78"),
    ("+81-90-1234-5678", "+**-**-****-**78"),
    ("+81 90 1234 5678", "+** ** **** **78"),
    ("+14155550123", "+*********23"),
    ("+1 (415) 555-0123", "+* (***) ***-**23"),
    ("０９０１２３４５６７８", "*********７８"),
    ("＋８１ー９０ー１２３４ー５６７８", "＋**ー**ー****ー**７８"),
    ("090 1234 5678", "*** **** **78"),
    ("(03) 1234-5678", "(**) ****-**78"),
    ("0120-123-456", "****-***-*56"),
    ("電話09012345678です", "電話*********78です"),
    ("1234567890123456789012345678901234567890", "*" * 38 + "90"),
    ("taro.yamada@example.invalid", "***@example.invalid"),
    ("連絡先: hanako+cti@city.example.jp まで", "連絡先: ***@city.example.jp まで"),
]
KEPT = [
    "1234", "5060", "99999", "127.0.0.1:5060", "192.168.100.200", "10000 20000",
    "2026-11-26T09:02:00.123456+00:00", "2026-11-26 09:00:27", "HD-2026-000123",
    "a84b4c76-e667-4f9b-a8b4-0f2c9b1d7e55@pbx.example.invalid", "backlog 4580 bytes",
    "ffffffffff1234567890a", "090-****-**78",
]


@pytest.mark.parametrize(("raw", "shown"), MASKED)
def test_numbers_and_addresses_are_masked(raw: str, shown: str) -> None:
    assert mask_text(raw) == shown


@pytest.mark.parametrize("kept", KEPT)
def test_extensions_ports_times_references_and_call_ids_stay_readable(kept: str) -> None:
    assert mask_text(kept) == kept


def test_a_call_id_value_keeps_its_host_and_control_characters_go() -> None:
    assert mask_text("Zl2nC~yK@pbx.example.invalid", call_id=True) == "Zl2nC~yK@pbx.example.invalid"
    assert mask_text("evil\x1b[2Jcall\x00id") == "evil[2Jcallid"
    assert len(mask_text("x" * 100_000)) == 2000


def test_every_value_of_every_line_is_masked_ours_and_the_libraries(json_logs: io.StringIO) -> None:
    log = structlog.get_logger()
    structlog.contextvars.bind_contextvars(call_id="a84b4c76-e667-4f9b-a8b4-0f2c9b1d7e55@pbx")
    try:
        log.info("sip.offered", caller="+81-90-1234-5678", port=5060, extension="1234",
                 nested={"to": ["taro.yamada@example.invalid", "０９０１２３４５６７８"]})
        try:
            raise ValueError("no route for 09012345678")
        except ValueError:
            log.exception("call_center.job_failed")
    finally:
        structlog.contextvars.unbind_contextvars("call_id")
    logging.getLogger("aiohttp.server").error("bad request from +14155550123")
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert lines[0]["caller"] == "+**-**-****-**78" and lines[0]["port"] == 5060
    assert lines[0]["extension"] == "1234"
    assert lines[0]["call_id"] == "a84b4c76-e667-4f9b-a8b4-0f2c9b1d7e55@pbx"
    assert lines[0]["nested"] == {"to": ["***@example.invalid", "*********７８"]}
    assert "*********78" in lines[1]["exception"] and "09012345678" not in lines[1]["exception"]
    assert lines[2]["event"] == "bad request from +*********23"
