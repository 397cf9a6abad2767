"""Caller-id privacy: keyed hash for "same caller" history, masked display."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.privacy.caller_id import ANONYMOUS_DISPLAY, CallerIdPolicy, NotAPhoneNumber, normalise_number

SECRET = b"test-secret-not-for-production-0001"
POLICY = CallerIdPolicy(SECRET, internal_extensions=(range(1000, 10000),))

SAME_MOBILE = [
    "090-5555-0123",
    "09055550123",
    "０９０－５５５５－０１２３",
    "+81-90-5555-0123",
    "+81 (0)90 5555 0123",
    "0081 90 5555 0123",
    "tel:+81-90-5555-0123",
    "sip:+819055550123@pbx.example.invalid;user=phone",
    "sips:09055550123@pbx.example.invalid",
    "sip:090-5555-0123@203.0.113.5:5060",
    '"Yamada 2" <sip:+81-90-5555-0123@pbx.example.invalid>;tag=a1b2',
]


@pytest.mark.parametrize("spelling", SAME_MOBILE)
def test_every_spelling_normalises_to_one_number(spelling: str) -> None:
    assert normalise_number(spelling) == "09055550123"


def test_every_spelling_gives_the_same_hash() -> None:
    hashes = {POLICY.hash(n) for n in SAME_MOBILE}
    assert len(hashes) == 1


def test_hash_is_hmac_sha256_of_the_normalised_number() -> None:
    expected = hmac.new(SECRET, b"09055550123", hashlib.sha256).hexdigest()
    assert POLICY.hash("090-5555-0123") == expected
    assert "09055550123" not in POLICY.hash("090-5555-0123")


def test_hash_or_none_hashes_real_numbers() -> None:
    assert POLICY.hash_or_none("tel:090-5555-0123") == POLICY.hash("090-5555-0123")


def test_hash_depends_on_the_secret() -> None:
    other = CallerIdPolicy(b"another-secret-for-the-test-0002", (range(1000, 10000),))
    assert other.hash("090-5555-0123") != POLICY.hash("090-5555-0123")


def test_different_numbers_hash_differently() -> None:
    assert POLICY.hash("090-5555-0123") != POLICY.hash("090-5555-0124")


@pytest.mark.parametrize("withheld", ["", "anonymous", "sip:anonymous@anonymous.invalid", "Restricted"])
def test_withheld_numbers_have_no_hash_and_show_as_anonymous(withheld: str) -> None:
    with pytest.raises(NotAPhoneNumber):
        POLICY.hash(withheld)
    assert POLICY.hash_or_none(withheld) is None
    assert POLICY.display(withheld) == ANONYMOUS_DISPLAY


def test_secret_must_be_long_enough() -> None:
    with pytest.raises(ValueError):
        CallerIdPolicy(b"short", (range(1000, 10000),))


def test_repr_never_shows_the_secret() -> None:
    assert SECRET.decode() not in repr(POLICY)


@pytest.mark.parametrize("extension", ["1234", "sip:1234@pbx.example.invalid", "9999", "１２３４"])
def test_internal_extension_is_shown_as_is(extension: str) -> None:
    assert POLICY.display(extension) == normalise_number(extension)
    assert POLICY.is_internal(extension)


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("090-5555-0178", "090-****-**78"),
        ("sip:+818055550199@pbx.example.invalid", "080-****-**99"),
        ("03-5555-0127", "03-****-**27"),
        ("045-555-0130", "045-***-**30"),
        ("0120-555-012", "0120-***-*12"),
        ("0800-555-0123", "0800-***-**23"),
        ("+1 555 0100 1234", "+**********34"),
        ("98765", "***65"),
        ("0123", "****"),
    ],
)
def test_external_numbers_are_masked(number: str, shown: str) -> None:
    assert POLICY.display(number) == shown
    assert not POLICY.is_internal(number)


def test_extension_range_comes_from_configuration() -> None:
    narrow = CallerIdPolicy(SECRET, (range(2000, 3000),))
    assert narrow.display("2500") == "2500"
    assert narrow.display("1234") == "****"


_japanese = st.builds(
    lambda head, rest: head + rest,
    st.sampled_from(["090", "080", "070", "050", "03", "06", "045", "0120"]),
    st.text("0123456789", min_size=6, max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(_japanese)
def test_display_never_reveals_an_external_number(number: str) -> None:
    shown = POLICY.display(number)
    digits_shown = "".join(c for c in shown if c.isdigit())
    assert digits_shown != number
    assert len(digits_shown) <= len(number) - 4
    assert "*" in shown


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+1 (555) 0100-1234", "+155501001234"),
        ("0355550127+", "0355550127"),
        ("*2345#", "*2345#"),
        ("TEL:03-5555-0127", "0355550127"),
    ],
)
def test_normalisation_keeps_only_a_leading_plus(raw: str, normalised: str) -> None:
    assert normalise_number(raw) == normalised
