"""Months as the contract counts them: calendar months in the helpdesk's zone, fiscal years
April to March."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BadMonth(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text)
        if not match or not 2000 <= int(match.group(1)) <= 2999:
            raise BadMonth(f'a month as "YYYY-MM" (e.g. "2027-04"), got {text[:20]!r}')
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, at: datetime, zone: tzinfo) -> Month:
        local = at.astimezone(zone)
        return cls(local.year, local.month)

    @property
    def text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label_ja(self) -> str:
        return f"{self.year}年{self.month}月"

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def minus_years(self, years: int) -> Month:
        return Month(self.year - years, self.month)

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """[start, end) instants of the month in ``zone``."""
        nxt = self.next()
        return datetime(self.year, self.month, 1, tzinfo=zone), datetime(nxt.year, nxt.month, 1, tzinfo=zone)

    @property
    def fiscal_year(self) -> int:
        """The Japanese fiscal year (年度) the month belongs to: April 2027 .. March 2028 is 2027."""
        return self.year if self.month >= 4 else self.year - 1

    def fiscal_months(self) -> tuple[Month, ...]:
        start = self.fiscal_year
        return tuple(Month(start + (m < 4), m) for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3))

    def __str__(self) -> str:
        return self.text
