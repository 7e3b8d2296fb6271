"""The measure-definition model and loader: the starter library, and errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.measures.definitions import (
    STARTER_LIBRARY,
    MeasureDefinitionError,
    MeasureType,
    load_library,
    load_measure,
)

GOOD = """\
id: {id}
title: A local measure
rationale: Shows the Place board how things are going.
policy_source: Local priority
domain: Test
polarity: higher
type: proportion
multiplier: 100
numerator: SELECT period_start, person_id FROM population
denominator: SELECT period_start, person_id FROM population
owner: Someone
"""


def write(folder: Path, text: str, name: str = "local-measure") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_library_has_twenty_measures_of_every_type() -> None:
    measures = load_library(STARTER_LIBRARY)
    assert len(measures) >= 20
    assert {m.type for m in measures} == set(MeasureType)
    assert all(m.rationale and m.policy_source and m.owner for m in measures)
    assert any(m.priority == "local" and m.place for m in measures)


def test_a_good_local_file_loads(tmp_path: Path) -> None:
    measure = load_measure(write(tmp_path, GOOD.format(id="local-measure")))
    assert measure.type is MeasureType.proportion
    assert measure.confidence == 0.95
    assert "ics" in measure.breakdowns


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("polarity: higher", "polarity: upwards"), "polarity"),
        (("type: proportion", "type: ratio-ish"), "type"),
        (("owner: Someone\n", ""), "owner"),
        (("owner: Someone", "owner: Someone\ncolour: blue"), "colour"),
        (("denominator: SELECT period_start, person_id FROM population\n", ""), "denominator"),
        (("numerator: SELECT", "numerator: DELETE"), "numerator"),
        (("owner: Someone", "owner: Someone\nconfidence: 0.9"), "confidence"),
        (("owner: Someone", "owner: Someone\nbreakdowns: [place]"), "breakdowns"),
        (("owner: Someone", "owner: Someone\npriority: local"), "place"),
        (("owner: Someone", "owner: Someone\ngrain: fortnight"), "grain"),
    ],
)
def test_a_bad_file_names_the_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    path = write(tmp_path, GOOD.format(id="local-measure").replace(*change))
    with pytest.raises(MeasureDefinitionError) as caught:
        load_measure(path)
    assert caught.value.field.split(".")[0] == field
    assert str(path) in str(caught.value)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(MeasureDefinitionError, match="id"):
        load_measure(write(tmp_path, GOOD.format(id="other-name")))


def test_not_yaml_mapping(tmp_path: Path) -> None:
    with pytest.raises(MeasureDefinitionError, match="mapping"):
        load_measure(write(tmp_path, "- just\n- a list\n"))


def test_empty_library_folder(tmp_path: Path) -> None:
    with pytest.raises(MeasureDefinitionError, match="no"):
        load_library(tmp_path)


def test_trajectory_milestone_in_force_and_polarity() -> None:
    from datetime import date

    measure = next(m for m in load_library(STARTER_LIBRARY) if m.id == "hypertension-controlled")
    assert [p.value for p in measure.trajectory] == [55, 60, 65]
    # The first milestone due on or after the period's end; the last once all are past.
    assert measure.milestone(date(2023, 1, 31)).value == 55  # type: ignore[union-attr]
    assert measure.milestone(date(2023, 4, 30)).value == 60  # type: ignore[union-attr]
    assert measure.milestone(date(2027, 1, 31)).value == 65  # type: ignore[union-attr]
    assert measure.polarity.meets(61.0, 60.0) is True
    assert measure.polarity.meets(59.9, 60.0) is False
    without = next(m for m in load_library(STARTER_LIBRARY) if not m.trajectory)
    assert without.milestone(date(2024, 1, 31)) is None
