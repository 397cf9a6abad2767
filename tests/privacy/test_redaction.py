"""Redaction of personal information: labelled samples, properties, edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.privacy.redaction import PLACEHOLDERS, Finding, Redactor, fold_width

SAMPLES_FILE = Path(__file__).parents[1] / "data" / "redaction_samples.json"
SAMPLES: list[dict[str, Any]] = json.loads(SAMPLES_FILE.read_text(encoding="utf-8"))["samples"]
REDACTOR = Redactor(internal_extensions=(range(1000, 10000),))

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def _pairs(text: str, found: tuple[Finding, ...]) -> list[list[str]]:
    return [[f.kind, text[f.start : f.end]] for f in found]


def test_sample_set_is_large_and_mixed() -> None:
    near_misses = [s for s in SAMPLES if not s["expect"]]
    english = [s for s in SAMPLES if s["id"].startswith("en-")]
    assert len(SAMPLES) >= 50
    assert len(near_misses) >= 15
    assert english
    assert len({s["id"] for s in SAMPLES}) == len(SAMPLES)
    kinds = {kind for s in SAMPLES for kind, _ in s["expect"]}
    assert kinds <= set(PLACEHOLDERS)  # the newer kinds are in redaction_corpus.txt


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_sample(sample: dict[str, Any]) -> None:
    text = sample["text"]
    result = REDACTOR.redact(text)
    assert _pairs(text, result.found) == sample["expect"]
    for _kind, value in sample["expect"]:
        assert value not in result.text
    expected_text = text
    for kind, value in reversed(sample["expect"]):
        at = expected_text.rindex(value)
        expected_text = expected_text[:at] + PLACEHOLDERS[kind] + expected_text[at + len(value) :]
    assert result.text == expected_text


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_redacting_twice_changes_nothing(sample: dict[str, Any]) -> None:
    once = REDACTOR.redact(sample["text"]).text
    again = REDACTOR.redact(once)
    assert again.text == once
    assert again.found == ()


def test_findings_point_into_the_original_text() -> None:
    text = "ＴＥＬ：０３－５５５５－０１２６　山田　太郎様　〒１００－００１３"
    found = REDACTOR.find(text)
    assert _pairs(text, found) == [
        ["phone", "０３－５５５５－０１２６"],
        ["person_name", "山田　太郎"],
        ["postal_code", "１００－００１３"],
    ]


def test_a_number_glued_to_an_address_is_found_once_the_address_is_gone() -> None:
    # The phone look-behind refuses a digit just before "+81"; after the address
    # is replaced the phone stands alone, so redaction repeats until stable.
    text = "自宅は架空県架空郡見本町大字例999番地の9＋８１９０５５５５０１３９から"
    result = REDACTOR.redact(text)
    assert _pairs(text, result.found) == [
        ["address", "架空県架空郡見本町大字例999番地の9"],
        ["phone", "＋８１９０５５５５０１３９"],
    ]
    assert result.text == "自宅は[住所][電話番号]から"


def test_fold_width_keeps_length_and_turns_only_digit_dashes_into_hyphens() -> None:
    text = "ワークスペース０９０ー１２３４ー５６７８　ｔａｒｏ＠ｅｘ．ｉｎｖａｌｉｄ"
    folded = fold_width(text)
    assert len(folded) == len(text)
    assert folded.startswith("ワークスペース090-1234-5678 taro@ex.invalid")


def test_extension_range_comes_from_configuration() -> None:
    text = "内線1234へ転送"
    assert REDACTOR.find(text) == ()
    narrow = Redactor(internal_extensions=(range(2000, 3000), range(5000, 5100)))
    assert _pairs(text, narrow.find(text)) == [["phone", "1234"]]
    assert narrow.find("内線2999と内線5050") == ()


def test_extension_ranges_must_be_ranges() -> None:
    with pytest.raises(TypeError):
        Redactor(internal_extensions=((1000, 9999),))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["山田 太郎", "Taro Yamada", "ヤマダ タロウ", "[氏名]"])
def test_name_field_is_replaced_whole(value: str) -> None:
    assert REDACTOR.redact_name_field(value) == "[氏名]"


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_name_field_stays_empty(value: str) -> None:
    assert REDACTOR.redact_name_field(value) == value


def test_overlapping_candidates_keep_the_stronger_kind() -> None:
    text = "連絡は0312345678@example.invalid へ"
    assert _pairs(text, REDACTOR.find(text)) == [["email", "0312345678@example.invalid"]]


def test_long_runs_without_personal_data_are_untouched() -> None:
    text = "a" * 5000 + "0" * 5000 + "-" * 2000 + "田" * 3000 + "様"
    result = REDACTOR.redact(text)
    assert [f.kind for f in result.found] == ["person_name"]
    assert result.found[0].end - result.found[0].start <= 6


_mobile = st.tuples(
    st.sampled_from(["070", "080", "090"]),
    st.text("0123456789", min_size=4, max_size=4),
    st.text("0123456789", min_size=4, max_size=4),
)
_separator = st.sampled_from(["-", "", " ", "‐", "−", "ー"])


@settings(max_examples=150, deadline=None)
@given(
    parts=_mobile,
    sep=_separator,
    full_width=st.booleans(),
    before=st.sampled_from(["携帯は", "TEL:", "", "電話 "]),
    after=st.sampled_from(["です", "。", "", " まで"]),
)
def test_any_mobile_number_is_found(
    parts: tuple[str, str, str], sep: str, full_width: bool, before: str, after: str
) -> None:
    number = sep.join(parts)
    if full_width:
        number = number.translate(FULL_WIDTH)
    text = before + number + after
    assert _pairs(text, REDACTOR.find(text)) == [["phone", number]]


_fragments = st.sampled_from([s["text"] for s in SAMPLES] + [" ", "、", "様", "さん", "-", "0", "@"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_fragments, max_size=6).map("".join))
def test_redaction_is_idempotent_and_offsets_are_ordered(text: str) -> None:
    result = REDACTOR.redact(text)
    for earlier, later in zip(result.found, result.found[1:], strict=False):
        assert earlier.end <= later.start
    assert all(0 <= f.start < f.end <= len(text) for f in result.found)
    assert REDACTOR.redact(result.text).text == result.text


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_breaks_redaction(text: str) -> None:
    result = REDACTOR.redact(text)
    assert all(f.kind in PLACEHOLDERS for f in result.found)
    assert REDACTOR.redact(result.text).text == result.text
