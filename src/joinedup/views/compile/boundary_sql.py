"""``lowBoundary()``/``highBoundary()`` in SQL: the rules of ``fhirpath/boundary.py``, spelled
with string functions every dialect has (plus the dialect's last-day-of-month)."""

from __future__ import annotations

from sqlglot import exp

from joinedup.views.dialects import Dialect, call, case, cast, number, text
from joinedup.views.fhirpath.boundary import HIGHEST_OFFSET, LOWEST_OFFSET

_DATE = r"^\d{4}(-\d{2}(-\d{2})?)?$"
_DATETIME = r"^\d{4}(-\d{2}(-\d{2})?)?T[\d:.]*(Z|[+-]\d{2}:\d{2})?$"
_TIME = r"^\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?$"
_ZONE = r"(Z|[+-]\d{2}:\d{2})$"
_DECIMAL = "DECIMAL(38, 18)"


def _concat(*parts: exp.Expression) -> exp.Expression:
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part, safe=True)
    return result


def _length_is(value: exp.Expression, size: int) -> exp.Expression:
    return exp.EQ(this=call("length", value), expression=number(size))


def _matches(value: exp.Expression, pattern: str) -> exp.Expression:
    return exp.RegexpLike(this=value, expression=text(pattern))


def decimal_text(dialect: Dialect, raw: exp.Expression, high: bool) -> exp.Expression:
    """Boundary of a number given as its JSON text (its digits say its precision)."""
    dot = call("instr", raw, text("."))
    digits = case(
        (exp.GT(this=dot, expression=number(0)), exp.Sub(this=call("length", raw), expression=dot)),
        default=number(0),
    )
    # Exact decimal arithmetic: half a unit of the last digit is 0.0…05.
    half = cast(_concat(text("0."), call("repeat", text("0"), digits), text("5")), _DECIMAL)
    value = cast(raw, _DECIMAL)
    moved = exp.Add(this=value, expression=half) if high else exp.Sub(this=value, expression=half)
    digits_only = call("regexp_replace", cast(moved, "VARCHAR"), text("0+$"), text(""))
    return call("regexp_replace", digits_only, text(r"\.$"), text(""))


def date_text(dialect: Dialect, value: exp.Expression, high: bool) -> exp.Expression:
    year_only = _concat(value, text("-12-31" if high else "-01-01"))
    month = (
        _concat(value, text("-"), dialect.last_day(value)) if high else _concat(value, text("-01"))
    )
    return case((_length_is(value, 4), year_only), (_length_is(value, 7), month), default=value)


def time_text(value: exp.Expression, high: bool) -> exp.Expression:
    fill = "9" if high else "0"
    minute = ":59" if high else ":00"
    return case(
        (_length_is(value, 2), _concat(value, text(f"{minute}{minute}.{fill * 3}"))),
        (_length_is(value, 5), _concat(value, text(f"{minute}.{fill * 3}"))),
        (_length_is(value, 8), _concat(value, text(f".{fill * 3}"))),
        default=call("rpad", call("substr", value, number(1), number(12)), number(12), text(fill)),
    )


def datetime_text(dialect: Dialect, value: exp.Expression, high: bool) -> exp.Expression:
    split = call("instr", value, text("T"))
    has_time = exp.GT(this=split, expression=number(0))
    date_part = case(
        (has_time, call("substr", value, number(1), exp.Sub(this=split, expression=number(1)))),
        default=value,
    )
    rest = case(
        (has_time, call("substr", value, exp.Add(this=split, expression=number(1)))),
        default=text(""),
    )
    zone = call("regexp_extract", rest, text(_ZONE), number(1))
    clock = call(
        "substr",
        rest,
        number(1),
        exp.Sub(this=call("length", rest), expression=call("length", zone)),
    )
    clock = case((_length_is(clock, 0), text("23" if high else "00")), default=clock)
    offset = case(
        (_length_is(zone, 0), text(HIGHEST_OFFSET if high else LOWEST_OFFSET)), default=zone
    )
    return _concat(date_text(dialect, date_part, high), text("T"), time_text(clock, high), offset)


def temporal_text(
    dialect: Dialect, value: exp.Expression, kind: str | None, high: bool
) -> exp.Expression:
    """Boundary of a date/dateTime/time string; ``kind`` from the element name, else by shape."""
    if kind == "dateTime":
        return case(
            (
                exp.Or(this=_matches(value, _DATE), expression=_matches(value, _DATETIME)),
                datetime_text(dialect, value, high),
            ),
            default=cast(exp.Null(), "VARCHAR"),
        )
    if kind == "date":
        return case(
            (_matches(value, _DATE), date_text(dialect, value, high)),
            default=cast(exp.Null(), "VARCHAR"),
        )
    if kind == "time":
        return case(
            (_matches(value, _TIME), time_text(value, high)), default=cast(exp.Null(), "VARCHAR")
        )
    return case(
        (_matches(value, _DATE), date_text(dialect, value, high)),
        (_matches(value, _DATETIME), datetime_text(dialect, value, high)),
        (_matches(value, _TIME), time_text(value, high)),
        default=cast(exp.Null(), "VARCHAR"),
    )
