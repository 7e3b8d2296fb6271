"""``lowBoundary()`` / ``highBoundary()`` of decimals, dates, dateTimes and times.

FHIRPath N2 (§5.9 "Utility functions", boundary): the boundary of an imprecise value is the
smallest/largest value it could stand for. Decimals widen by half a unit of their last digit
(``1.0`` → ``0.95`` … ``1.05``); partial dates fill the missing month/day; dateTimes without a
time zone take the widest offsets (``+14:00`` low, ``-12:00`` high) and milliseconds are always
written out. The SQL engines spell the same rules in SQL (see ``compile/boundary_sql.py``).
"""

from __future__ import annotations

import calendar
import re
from decimal import Decimal

from joinedup.views.fhirpath.ast import Call, Expr, Member

LOWEST_OFFSET = "+14:00"
HIGHEST_OFFSET = "-12:00"

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(r"^(\d{4}(?:-\d{2}(?:-\d{2})?)?)T([\d:.]*)(Z|[+-]\d{2}:\d{2})?$")
_TIME = re.compile(r"^(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")


def temporal_kind(expr: Expr) -> str | None:
    """The temporal type an expression's values have, from the element name FHIR gives it.

    ``valueDateTime``/``effectiveInstant`` (choice elements) and ``birthDate`` carry their type
    in the name; for other elements the engines fall back to the shape of the value.
    """
    if isinstance(expr, Call) and expr.name == "first" and expr.base is not None:
        return temporal_kind(expr.base)
    if not isinstance(expr, Member):
        return None
    name = expr.name
    if name.endswith(("DateTime", "Instant")) or name in {"dateTime", "instant"}:
        return "dateTime"
    if name.endswith("Date") or name == "date":
        return "date"
    if name.endswith("Time") or name == "time":
        return "time"
    return None


def shape_kind(text: str) -> str | None:
    if _DATE.match(text):
        return "date"
    if _DATETIME.match(text):
        return "dateTime"
    if _TIME.match(text):
        return "time"
    return None


def decimal_boundary(value: Decimal | int, high: bool) -> Decimal:
    number = Decimal(value)
    exponent = number.as_tuple().exponent
    digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    half = Decimal(5).scaleb(-(digits + 1))
    return number + half if high else number - half


def date_boundary(text: str, high: bool) -> str | None:
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day = match.groups()
    month = month or ("12" if high else "01")
    if day is None:
        day = f"{calendar.monthrange(int(year), int(month))[1]:02d}" if high else "01"
    return f"{year}-{month}-{day}"


def time_boundary(text: str, high: bool) -> str | None:
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute, second, fraction = match.groups()
    fill = "59" if high else "00"
    millis = (fraction or "")[:3].ljust(3, "9" if high else "0")
    return f"{hour}:{minute or fill}:{second or fill}.{millis}"


def datetime_boundary(text: str, high: bool) -> str | None:
    match = _DATETIME.match(text)
    if match is None:
        date_only = date_boundary(text, high)
        if date_only is None:
            return None
        date_part, time_part, zone = date_only, "", None
    else:
        date_part, time_part, zone = match.groups()
        date_part = date_boundary(date_part, high) or date_part
    clock = time_boundary(time_part or ("23" if high else "00"), high)
    if clock is None:
        return None
    return f"{date_part}T{clock}{zone or (HIGHEST_OFFSET if high else LOWEST_OFFSET)}"


def boundary(value: object, kind: str | None, high: bool) -> object | None:
    """The boundary of one value, or None when it has none (e.g. a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return decimal_boundary(value, high)
    if not isinstance(value, str):
        return None
    kind = kind or shape_kind(value)
    if kind == "date":
        return date_boundary(value, high)
    if kind == "dateTime":
        return datetime_boundary(value, high)
    if kind == "time":
        return time_boundary(value, high)
    return None
