"""A run builds ``population`` (people x periods) only for measures whose SQL reads it."""

from __future__ import annotations

import pytest

from joinedup.measures.compute.aggregate import reads_population
from joinedup.measures.definitions import load_library

MEASURE = next(m for m in load_library() if m.type.value == "proportion")


@pytest.mark.parametrize(
    ("numerator", "denominator", "reads"),
    [
        ("SELECT period_start, person_id FROM admissions", "SELECT * FROM population", True),
        (
            "WITH p AS (SELECT * FROM population WHERE age >= 65) SELECT * FROM p",
            "SELECT period_start, person_id FROM admissions",
            True,
        ),
        (
            "SELECT a.period_start, a.person_id FROM admissions AS a WHERE EXISTS "
            "(SELECT 1 FROM population AS p WHERE p.person_id = a.person_id)",
            "SELECT period_start, person_id FROM admissions",
            True,
        ),
        (
            "WITH population AS (SELECT * FROM periods) SELECT * FROM population",
            "SELECT period_start, person_id FROM periods",
            False,
        ),
        ("SELECT * FROM admissions", "SELECT * FROM person_population_notes", False),
        ("SELECT * FROM admissions WHERE", "SELECT * FROM periods", True),
    ],
)
def test_population_is_needed_only_when_read(numerator: str, denominator: str, reads: bool) -> None:
    measure = MEASURE.model_copy(update={"numerator": numerator, "denominator": denominator})
    assert reads_population(measure) is reads
