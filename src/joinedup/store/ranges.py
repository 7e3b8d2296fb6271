"""FHIR dates and decimals as the ranges their precision implies.

A FHIR ``date``/``dateTime``/``instant`` stands for an interval (``2020-03`` is all of March
2020); the store keeps every date as ``[low, high]`` in integer microseconds since 1970-01-01
UTC so range comparisons are plain integer comparisons on both dialects. Values without a
time zone are taken as UTC. Decimals likewise imply ``value ± half a unit in the last place``.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from joinedup.fhir.outcome import FHIRError

US = 1_000_000
MIN_US = -(2**62)
MAX_US = 2**62
"""Open ends of periods (``Period`` without ``start``/``end``)."""

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def date_range(text: str) -> tuple[int, int]:
    """``[low, high]`` (inclusive, microseconds) of a FHIR date, dateTime or instant.

    Raises ValueError for text that is not one."""
    match = _DATE.match(text.strip())
    if not match:
        raise ValueError(f"not a FHIR date: {text!r}")
    g = match.groupdict()
    year = int(g["y"])
    tz = timedelta(0)
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        tz = sign * timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6]))
    if g["m"] is None:
        start = datetime(year, 1, 1, tzinfo=UTC)
        end = datetime(year + 1, 1, 1, tzinfo=UTC) if year < 9999 else None
    elif g["d"] is None:
        month = int(g["m"])
        start = datetime(year, month, 1, tzinfo=UTC)
        days = calendar.monthrange(year, month)[1]
        end = start + timedelta(days=days)
    elif g["H"] is None:
        start = datetime(year, int(g["m"]), int(g["d"]), tzinfo=UTC)
        end = start + timedelta(days=1)
    else:
        start = (
            datetime(
                year,
                int(g["m"]),
                int(g["d"]),
                int(g["H"]),
                int(g["M"] or 0),
                int(g["S"] or 0),
                tzinfo=UTC,
            )
            - tz
        )
        if g["f"]:
            digits = g["f"][:6]
            start += timedelta(microseconds=int(digits.ljust(6, "0")))
            end = start + timedelta(microseconds=10 ** (6 - len(digits)))
        elif g["S"] is not None:
            end = start + timedelta(seconds=1)
        else:
            end = start + timedelta(minutes=1)
    low = _micros(start)
    high = _micros(end) - 1 if end is not None else MAX_US
    return low, high


def parse_date_param(name: str, text: str) -> tuple[int, int]:
    """A search value's date range, as a 400 naming the parameter when malformed."""
    try:
        return date_range(text)
    except ValueError:
        raise FHIRError(
            f"search parameter {name}: {text!r} is not a FHIR date; use YYYY, YYYY-MM, "
            "YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)",
            expression=name,
        ) from None


def micros_to_instant(micros: int) -> str:
    """Back from microseconds to an ISO instant (UTC)."""
    return (_EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds")


def now_instant() -> str:
    """The current time as the store writes ``lastUpdated``: UTC with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def decimal_range(name: str, text: str) -> tuple[Decimal, Decimal, Decimal]:
    """``(value, low, high)`` of a search decimal: its implicit precision range (R4 search,
    "number": 100 means [99.5, 100.5))."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FHIRError(
            f"search parameter {name}: {text!r} is not a number", expression=name
        ) from None
    if not value.is_finite():
        raise FHIRError(
            f"search parameter {name}: {text!r} is not a finite number", expression=name
        )
    exponent = value.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1) if isinstance(exponent, int) else Decimal(0)
    return value, value - half, value + half
