"""The UCUM table converts by exact factors within one dimension, and nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from joinedup.fhir.ucum import canonical


@pytest.mark.parametrize(
    ("value", "code", "expected"),
    [
        ("5400", "umol/L", ("0.0054", "mol/L")),
        ("5.4", "mmol/L", ("0.0054", "mol/L")),
        ("97", "mg/dL", ("0.97", "g/L")),
        ("1.5", "kg", ("1500", "g")),
        ("250", "mg", ("0.25", "g")),
        ("180", "cm", ("1.8", "m")),
        ("500", "mL", ("0.5", "L")),
        ("2", "h", ("7200", "s")),
        ("90", "min", ("5400", "s")),
        ("120", "mm[Hg]", ("15998.640", "Pa")),
        ("16", "kPa", ("16000", "Pa")),
    ],
)
def test_exact_factors(value: str, code: str, expected: tuple[str, str]) -> None:
    converted = canonical(Decimal(value), code)
    assert converted is not None
    assert converted[0] == Decimal(expected[0]) and converted[1] == expected[1]


@pytest.mark.parametrize("code", ["Cel", "[degF]", "mo", "a", "mmol/L{glucose}", "%", "kg/m2"])
def test_units_without_an_exact_factor_are_left_alone(code: str) -> None:
    assert canonical(Decimal(1), code) is None


def test_equal_quantities_meet_as_the_same_float() -> None:
    # the index stores float(canonical); a search converts its bound the same way
    umol = canonical(Decimal("5400"), "umol/L")
    mmol = canonical(Decimal("5.4"), "mmol/L")
    assert umol is not None and mmol is not None
    assert float(umol[0]) == float(mmol[0])
