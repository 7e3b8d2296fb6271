"""Dates and decimals as ranges; typed search values and their errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from joinedup.fhir.outcome import FHIRError
from joinedup.store.ranges import date_range, decimal_range, micros_to_instant
from joinedup.store.search.values import (
    DateValue,
    NumberValue,
    ReferenceValue,
    TokenValue,
    parse_value,
    split_escaped,
    unescape,
)
from joinedup.store.text import normalize


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2020", "2020-01-01T00:00:00.000000+00:00", "2020-12-31T23:59:59.999999+00:00"),
        ("2024-02", "2024-02-01T00:00:00.000000+00:00", "2024-02-29T23:59:59.999999+00:00"),
        ("2020-03-04", "2020-03-04T00:00:00.000000+00:00", "2020-03-04T23:59:59.999999+00:00"),
        (
            "2020-03-04T10:00:00+01:00",
            "2020-03-04T09:00:00.000000+00:00",
            "2020-03-04T09:00:00.999999+00:00",
        ),
        (
            "2020-03-04T10:00:00.25Z",
            "2020-03-04T10:00:00.250000+00:00",
            "2020-03-04T10:00:00.259999+00:00",
        ),
    ],
)
def test_date_precision_gives_the_range(text: str, low: str, high: str) -> None:
    start, end = date_range(text)
    assert (micros_to_instant(start), micros_to_instant(end)) == (low, high)


@pytest.mark.parametrize("text", ["", "20", "2020-13", "2020-01-01T25:00", "yesterday"])
def test_bad_dates_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        date_range(text)


def test_decimal_precision() -> None:
    assert decimal_range("x", "100") == (Decimal(100), Decimal("99.5"), Decimal("100.5"))
    assert decimal_range("x", "5.40")[1:] == (Decimal("5.395"), Decimal("5.405"))
    with pytest.raises(FHIRError):
        decimal_range("x", "NaN")


def test_escapes() -> None:
    assert split_escaped(r"a\,b,c", ",") == [r"a\,b", "c"]
    assert unescape(r"a\,b\|c\$d\\e") == "a,b|c$d\\e"


def test_typed_values() -> None:
    assert parse_value("code", "token", "http://loinc.org|1", None) == TokenValue(
        "http://loinc.org", "1"
    )
    assert parse_value("code", "token", "|1", None) == TokenValue("", "1")
    assert parse_value("code", "token", "sys|", None) == TokenValue("sys", None)
    assert parse_value("date", "date", "ge2020", None) == DateValue("ge", *date_range("2020"))
    quantity = parse_value("v", "quantity", "lt5.4|http://unitsofmeasure.org|mg", None)
    assert isinstance(quantity, NumberValue)
    assert (quantity.prefix, quantity.value, quantity.code) == ("lt", Decimal("5.4"), "mg")
    assert parse_value("s", "reference", "Patient/1", None) == ReferenceValue("Patient", "1", None)
    assert parse_value("s", "reference", "1", None) == ReferenceValue(None, "1", None)
    absolute = parse_value("s", "reference", "https://x.org/fhir/Patient/1", None)
    assert absolute == ReferenceValue("Patient", "1", "https://x.org/fhir/Patient/1")


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("date", "xx2020"),
        ("date", "2020-99"),
        ("number", "5|a|b"),
        ("quantity", "five"),
        ("token", "a|b|c"),
        ("string", ""),
    ],
)
def test_bad_values_name_the_parameter(kind: str, text: str) -> None:
    with pytest.raises(FHIRError) as raised:
        parse_value("the-param", kind, text, None)
    assert "the-param" in raised.value.diagnostics


def test_normalize_folds_case_accents_and_spaces() -> None:
    assert normalize("  Zoë   BRONTË ") == "zoe bronte"
