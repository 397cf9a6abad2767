"""My Number (個人番号) check digit and detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.privacy.redaction import Redactor, is_my_number, my_number_check_digit

REDACTOR = Redactor()


def test_published_sample_number_is_valid() -> None:
    # The sample used in public documentation of the check-digit rule.
    assert is_my_number("123456789018")
    assert not is_my_number("123456789010")


def test_check_digit_follows_the_weights() -> None:
    # Digit 1 alone in position n (counted from the right) weighs Q(n):
    # n + 1 for n <= 6, n - 5 above.  11 - weight is the check digit (0 if <= 1).
    for n in range(1, 12):
        eleven = "".join("1" if i == 11 - n else "0" for i in range(11))
        weight = n + 1 if n <= 6 else n - 5
        expected = 0 if weight % 11 <= 1 else 11 - weight % 11
        assert my_number_check_digit(eleven) == expected


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=11, max_size=11))
def test_exactly_one_final_digit_is_valid(eleven: str) -> None:
    valid = [d for d in "0123456789" if is_my_number(eleven + d)]
    assert valid == [str(my_number_check_digit(eleven))]


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "12345678901x", "１２３４５６７８９０１８"])
def test_malformed_input_is_not_a_my_number(bad: str) -> None:
    assert not is_my_number(bad)


def test_check_digit_needs_eleven_digits() -> None:
    with pytest.raises(ValueError):
        my_number_check_digit("1234")


@settings(max_examples=100, deadline=None)
@given(eleven=st.text("0123456789", min_size=11, max_size=11), sep=st.sampled_from(["", " ", "-"]))
def test_valid_numbers_are_redacted_and_invalid_ones_kept(eleven: str, sep: str) -> None:
    check = my_number_check_digit(eleven)
    wrong = (check + 1) % 10
    for last, expected in ((check, ["my_number"]), (wrong, [])):
        digits = f"{eleven}{last}"
        number = sep.join((digits[:4], digits[4:8], digits[8:]))
        text = f"番号{number}を入力"
        kinds = [f.kind for f in REDACTOR.find(text)]
        assert kinds == expected, number
