"""Reporting periods for each grain a measure definition may ask for."""

from __future__ import annotations

from datetime import date

import pytest

from joinedup.measures.compute.periods import Period, periods
from joinedup.measures.definitions import Grain

FIRST, LAST = date(2021, 4, 1), date(2025, 3, 31)


def span(start: tuple[int, int, int], end: tuple[int, int, int]) -> Period:
    return Period(date(*start), date(*end))


@pytest.mark.parametrize(
    ("grain", "count", "first", "last"),
    [
        (Grain.month, 48, span((2021, 4, 1), (2021, 4, 30)), span((2025, 3, 1), (2025, 3, 31))),
        (Grain.quarter, 16, span((2021, 4, 1), (2021, 6, 30)), span((2025, 1, 1), (2025, 3, 31))),
        (Grain.year, 4, span((2021, 4, 1), (2022, 3, 31)), span((2024, 4, 1), (2025, 3, 31))),
        (
            Grain.rolling_12_months,
            37,
            span((2021, 4, 1), (2022, 3, 31)),
            span((2024, 4, 1), (2025, 3, 31)),
        ),
    ],
)
def test_grains_over_four_financial_years(
    grain: Grain, count: int, first: Period, last: Period
) -> None:
    found = periods(grain, FIRST, LAST)
    assert (len(found), found[0], found[-1]) == (count, first, last)


def test_partial_months_and_quarters_are_left_out() -> None:
    found = periods(Grain.quarter, date(2021, 4, 15), date(2022, 2, 10))
    # Whole months May 2021 - January 2022: the July and October quarters are whole.
    assert found == [
        Period(date(2021, 7, 1), date(2021, 9, 30)),
        Period(date(2021, 10, 1), date(2021, 12, 31)),
    ]
    assert periods(Grain.month, date(2021, 4, 2), date(2021, 5, 30)) == []
