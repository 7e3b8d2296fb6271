from __future__ import annotations

from decimal import Decimal

import pytest

from joinedup.views.fhirpath.boundary import boundary


@pytest.mark.parametrize(
    ("value", "kind", "low", "high"),
    [
        (Decimal("1.0"), None, Decimal("0.95"), Decimal("1.05")),
        (Decimal("1.587"), None, Decimal("1.5865"), Decimal("1.5875")),
        (1, None, Decimal("0.5"), Decimal("1.5")),
        ("1970-06", "date", "1970-06-01", "1970-06-30"),
        ("2024-02", "date", "2024-02-01", "2024-02-29"),
        ("1970", None, "1970-01-01", "1970-12-31"),
        (
            "2010-10-10",
            "dateTime",
            "2010-10-10T00:00:00.000+14:00",
            "2010-10-10T23:59:59.999-12:00",
        ),
        ("2010-10-10T10:30Z", None, "2010-10-10T10:30:00.000Z", "2010-10-10T10:30:59.999Z"),
        ("12:34:00", None, "12:34:00.000", "12:34:00.999"),
        ("12:34", "time", "12:34:00.000", "12:34:59.999"),
    ],
)
def test_boundaries(value: object, kind: str | None, low: object, high: object) -> None:
    assert boundary(value, kind, False) == low
    assert boundary(value, kind, True) == high


def test_no_boundary_for_text_or_booleans() -> None:
    assert boundary("hello", None, False) is None
    assert boundary(True, None, True) is None
