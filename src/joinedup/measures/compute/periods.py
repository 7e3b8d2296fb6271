"""Reporting periods for a grain over the months of recorded activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from joinedup.measures.definitions import Grain


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    """inclusive"""


def _month_start(day: date, months_ahead: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def full_months(first: date, last: date) -> list[date]:
    """First days of the calendar months wholly inside ``first``..``last``."""
    start = first if first.day == 1 else _month_start(first, 1)
    months = []
    while _month_start(start, 1) - timedelta(days=1) <= last:
        months.append(start)
        start = _month_start(start, 1)
    return months


def periods(grain: Grain, first: date, last: date) -> list[Period]:
    """Periods of ``grain`` covering whole months of ``first``..``last``; quarters and years are
    financial (April to March), as the NHS reports them; partial quarters/years are left out."""
    months = full_months(first, last)
    if not months:
        return []
    if grain is Grain.month:
        return [Period(m, _month_start(m, 1) - timedelta(days=1)) for m in months]
    if grain is Grain.rolling_12_months:
        return [
            Period(months[i - 11], _month_start(months[i], 1) - timedelta(days=1))
            for i in range(11, len(months))
        ]
    size = 3 if grain is Grain.quarter else 12
    # Financial quarters start in April, July, October and January; years in April.
    starts = [m for m in months if (m.month - 4) % size == 0]
    result = []
    for start in starts:
        end = _month_start(start, size) - timedelta(days=1)
        if end <= _month_start(months[-1], 1) - timedelta(days=1):
            result.append(Period(start, end))
    return result
