"""Generated near misses: identifiers that look like numbers but are not personal data."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.privacy.redaction import Redactor

REDACTOR = Redactor(internal_extensions=(range(2000, 5000),))
CONTEXTS = st.sampled_from(["{}", "{}の件", "エラー {} が出る", "see {}.", "（{}）", "番号:{}です"])

_digits = st.integers
dates = st.builds(
    lambda y, m, d, sep: f"{y}{sep}{m:02d}{sep}{d:02d}" if sep == "-" else f"{y}{sep}{m}{sep}{d}",
    _digits(2000, 2099),
    _digits(1, 12),
    _digits(1, 28),
    st.sampled_from(["-", "/", "."]),
)
versions = st.lists(_digits(0, 99999), min_size=3, max_size=4).map(lambda p: ".".join(map(str, p)))
ipv4 = st.lists(_digits(0, 255), min_size=4, max_size=4).map(lambda p: ".".join(map(str, p)))
tickets = st.builds(lambda y, n: f"HD-{y}-{n:06d}", _digits(2020, 2030), _digits(0, 999999))
assets = st.builds(
    lambda p, n: f"{p}-{n:06d}", st.sampled_from(["PC", "NB", "PRN", "MON"]), _digits(0, 999999)
)
kb_numbers = _digits(1_000_000, 9_999_999).map(lambda n: f"KB{n}")
hex_codes = _digits(0, 0xFFFFFFFF).map(lambda n: f"0x{n:08X}")
extensions = st.builds(
    lambda n, label: f"{label}{n}",
    _digits(2000, 4999),
    st.sampled_from(["内線", "内線 ", "ext. ", "内線番号："]),
)
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", _digits(0, 23), _digits(0, 59))
amounts = _digits(0, 99_999_999).map(lambda n: f"{n:,}円")

NEAR_MISSES = st.one_of(
    dates, versions, ipv4, tickets, assets, kb_numbers, hex_codes, extensions, times, amounts
)


@settings(max_examples=400, deadline=None)
@given(value=NEAR_MISSES, context=CONTEXTS)
def test_near_misses_are_never_redacted(value: str, context: str) -> None:
    text = context.format(value)
    assert REDACTOR.find(text) == (), text


_landline = st.builds(
    lambda area, rest, seps: (area, rest, seps),
    st.sampled_from(["3", "6", "45", "52", "466", "995", "4992"]),
    st.text("123456789", min_size=1, max_size=1).flatmap(
        lambda first: st.text("0123456789", min_size=8, max_size=8).map(lambda more: first + more)
    ),
    st.sampled_from(["-", " ", "‐", "－"]),
)


@settings(max_examples=200, deadline=None)
@given(_landline)
def test_any_ten_digit_landline_is_found(parts: tuple[str, str, str]) -> None:
    area, rest, sep = parts
    local = rest[: 9 - len(area)]
    subscriber = local[-4:]
    exchange = local[:-4]
    number = sep.join(p for p in ("0" + area, exchange, subscriber) if p)
    text = f"電話{number}まで"
    assert [(f.kind, text[f.start : f.end]) for f in REDACTOR.find(text)] == [("phone", number)]
