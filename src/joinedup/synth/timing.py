"""When random events happen: Poisson counts and Poisson-process event dates."""

from __future__ import annotations

import random
from datetime import date, timedelta


def event_dates(rng: random.Random, per_year: float, start: date, end: date) -> list[date]:
    """Event dates of a Poisson process with ``per_year`` events a year, in [start, end]."""
    days: list[date] = []
    if per_year <= 0:
        return days
    span = (end - start).days
    # Offsets stay floats until known to fall inside the span (a rare event's first gap can
    # be longer than any date can hold).
    offset = 0.0
    while True:
        offset += rng.expovariate(per_year / 365.25)
        if offset > span:
            return days
        days.append(start + timedelta(days=offset))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count, by summing exponential gaps (the means here are small)."""
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count
