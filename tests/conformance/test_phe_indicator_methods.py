"""PHEindicatormethods reference cases: proportions, rates, DSRs, ISRs, means, ESP 2013.

Cases come from ``phe-indicator-methods/`` in the shared reference folder (see its README.txt).
Tolerance: relative 1.5e-8, as testthat's expect_equal.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from joinedup.measures.stats import (
    ESP2013,
    ESP2013_AGE_BANDS,
    dsr_ci,
    expected_events,
    israte_ci,
    isratio_ci,
    mean_ci,
    nonindependent_count_variance,
    proportion_ci,
    rate_ci,
    wilson_limits,
)
from joinedup.measures.stats.poisson import byars_lower, byars_upper

RTOL = 1.5e-8
FOLDER = (
    Path(
        os.environ.get(
            "JOINEDUP_REFERENCE", Path(__file__).resolve().parents[3] / "shared/reference"
        )
    )
    / "phe-indicator-methods"
)
LEVELS = {"95_0": 0.95, "99_8": 0.998}


def read(name: str) -> list[dict[str, str]]:
    with (FOLDER / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def cases(name: str, id_field: str = "case_id") -> list[Any]:
    """One parameter per reference row, so each case is its own test id."""
    if not (FOLDER / name).exists():
        return [pytest.param(None, id="reference-missing")]
    return [pytest.param(row, id=row[id_field]) for row in read(name)]


def num(text: str) -> float:
    return float(text) if text not in ("", "NA") else float("nan")


def assert_close(actual: float, expected: str, what: str, rtol: float = RTOL) -> None:
    want = num(expected)
    if np.isnan(want):
        assert np.isnan(actual), f"{what}: expected NA, got {actual}"
    else:
        assert actual == pytest.approx(want, rel=rtol, abs=1e-12), what


def assert_interval_columns(row: dict[str, str], compute: Any, rtol: float = RTOL) -> None:
    """Check value and the 95% / 99.8% limits a row states (blank 99.8% columns = not asserted
    unless the whole row is NA)."""
    for suffix, confidence in LEVELS.items():
        lower_key, upper_key = f"lower{suffix}cl", f"upper{suffix}cl"
        if row[lower_key] == row[upper_key] == "" and row["value"] != "" and suffix == "99_8":
            continue
        value, lower, upper = compute(confidence)
        assert_close(value, row["value"], "value", rtol)
        assert_close(lower, row[lower_key], lower_key, rtol)
        assert_close(upper, row[upper_key], upper_key, rtol)


def test_esp2013_matches_reference(reference_dir: Path) -> None:
    rows = read("esp2013.csv")
    assert tuple(row["ageband"] for row in rows) == ESP2013_AGE_BANDS
    assert tuple(int(row["esp2013"]) for row in rows) == ESP2013
    assert sum(ESP2013) == 100_000


@pytest.mark.parametrize("row", cases("byars_wilson_primitives.csv"))
def test_byars_and_wilson_primitives(reference_dir: Path, row: dict[str, str]) -> None:
    confidence = float(row["confidence"])
    if row["method"] == "Byars":
        count = float(row["x"])
        lower, upper = byars_lower(count, confidence), byars_upper(count, confidence)
    else:
        lower, upper = wilson_limits(float(row["x"]), float(row["n"]), confidence)
    assert_close(float(lower), row["lowercl"], "lowercl")
    assert_close(float(upper), row["uppercl"], "uppercl")


@pytest.mark.parametrize("row", cases("proportions_wilson.csv"))
def test_proportion_wilson(reference_dir: Path, row: dict[str, str]) -> None:
    numerator, denominator = num(row["numerator"]), num(row["denominator"])
    multiplier = float(row["multiplier"])
    assert_interval_columns(
        row, lambda c: proportion_ci(numerator, denominator, c, multiplier=multiplier)
    )


@pytest.mark.parametrize("row", cases("rates_byars_exact.csv"))
def test_rate_exact_and_byars(reference_dir: Path, row: dict[str, str]) -> None:
    count, denominator = num(row["numerator"]), num(row["denominator"])
    per = float(row["multiplier"])
    assert_interval_columns(row, lambda c: rate_ci(count, denominator, c, per=per))


def dsr_inputs_by_area() -> dict[str, dict[str, np.ndarray]]:
    columns: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in read("dsr_inputs.csv"):
        area = columns[row["area"]]
        area["count"].append(num(row["count"]) if row["count"] else 0.0)  # README: empty = 0
        area["pop"].append(num(row["pop"]))
        area["stdpop"].append(num(row["stdpop"]))
    for row in read("dsr_nonindependent_inputs.csv"):
        band = row["ageband"]
        area = columns[row["area"]]
        if band not in area["band_index"]:
            area["band_index"].append(band)
            area["count"].append(num(row["total_events_in_band"] or "0"))
            area["pop"].append(num(row["pop"]))
            area["stdpop"].append(num(row["stdpop"]))
            area["variance"].append(0.0)
        position = area["band_index"].index(band)
        area["variance"][position] += float(
            nonindependent_count_variance(float(row["eventfreq"]), num(row["persons"] or "0"))
        )
    return {
        name: {key: np.asarray(values) for key, values in area.items() if key != "band_index"}
        for name, area in columns.items()
    }


@pytest.mark.parametrize("row", cases("dsr_dobson.csv"))
def test_dsr_dobson(reference_dir: Path, row: dict[str, str]) -> None:
    area = dsr_inputs_by_area()[row["area"]]
    independent = row["independent_events"] == "TRUE"
    assert independent == ("variance" not in area)
    assert area["count"].sum() == float(row["total_count"])
    assert area["pop"].sum() == float(row["total_pop"])
    assert_interval_columns(
        row,
        lambda c: dsr_ci(
            area["count"],
            area["pop"],
            area["stdpop"],
            confidence=c,
            per=float(row["multiplier"]),
            count_variance=area.get("variance"),
        ),
    )


def test_dsr_groups_match_single_calls(reference_dir: Path) -> None:
    rows = [row for row in read("dsr_inputs.csv") if row["stdpop_name"] == "esp2013"]
    labels = [row["area"] for row in rows]
    grouped = dsr_ci(
        [float(row["count"] or 0) for row in rows],
        [float(row["pop"]) for row in rows],
        [float(row["stdpop"]) for row in rows],
        group=labels,
    )
    areas = dsr_inputs_by_area()
    for position, name in enumerate(sorted(set(labels))):
        single = dsr_ci(areas[name]["count"], areas[name]["pop"], areas[name]["stdpop"])
        np.testing.assert_allclose(
            [grouped.value[position], grouped.lower[position], grouped.upper[position]],
            list(single),
            rtol=1e-12,
        )


def isr_dataset(dataset: str) -> dict[str, np.ndarray | list[str]]:
    rows = [row for row in read("isr_inputs.csv") if row["dataset"] == dataset]
    return {
        "area": [row["area"] for row in rows],
        **{
            key: np.asarray([float(row[key] or 0) for row in rows])  # README: empty = 0
            for key in ("count", "pop", "refcount", "refpop")
        },
    }


@pytest.mark.parametrize("row", cases("isr_isratio_israte.csv"))
def test_isr_ratio_and_rate(reference_dir: Path, row: dict[str, str]) -> None:
    data = isr_dataset(row["dataset"])
    areas = sorted(set(data["area"]))
    expected = expected_events(data["pop"], data["refcount"], data["refpop"], group=data["area"])
    position = areas.index(row["area"])
    observed = float(np.asarray(data["count"])[np.asarray(data["area"]) == row["area"]].sum())
    assert observed == float(row["observed"])
    assert_close(float(expected[position]), row["expected"], "expected")
    if row["function"] == "calculate_ISRate":
        per = float(row["multiplier"])
        first_area = np.asarray(data["area"]) == areas[0]
        reference_rate = (
            np.asarray(data["refcount"])[first_area].sum()
            / np.asarray(data["refpop"])[first_area].sum()
            * per
        )
        assert_close(reference_rate, row["ref_rate"], "ref_rate")
        assert_interval_columns(
            row, lambda c: israte_ci(observed, expected[position], reference_rate, c)
        )
    else:
        refvalue = float(row["refvalue"])
        assert_interval_columns(
            row, lambda c: isratio_ci(observed, expected[position], c, refvalue=refvalue)
        )


@pytest.mark.parametrize("row", cases("isr_observed_totals.csv", "area"))
def test_isr_from_observed_totals_gives_the_same_results(
    reference_dir: Path, row: dict[str, str]
) -> None:
    """README: observed totals without an age breakdown give the same ratios and rates."""
    data = isr_dataset("multiarea")
    areas = sorted(set(data["area"]))
    expected = expected_events(data["pop"], data["refcount"], data["refpop"], group=data["area"])
    position = areas.index(row["area"])
    total = float(row["total_count"])
    results = [r for r in read("isr_isratio_israte.csv")
               if r["dataset"] == "multiarea" and r["area"] == row["area"]]  # fmt: skip
    assert results
    for result in results:
        compute: Any
        if result["function"] == "calculate_ISRatio":
            compute = partial(
                isratio_ci, total, expected[position], refvalue=float(result["refvalue"])
            )
        else:
            compute = partial(israte_ci, total, expected[position], num(result["ref_rate"]))
        assert_interval_columns(result, compute)


@pytest.mark.parametrize("row", cases("means_student_t.csv", "group"))
def test_mean_student_t(reference_dir: Path, row: dict[str, str]) -> None:
    inputs = read("means_inputs.csv")
    if row["group"].startswith("ALL"):
        values = [float(r["value"]) for r in inputs]
    else:
        values = [float(r["value"]) for r in inputs if r["area"] == row["group"]]
    assert len(values) == int(row["value_count"])
    assert_close(float(np.sum(values)), row["value_sum"], "value_sum")
    assert_close(float(np.std(values, ddof=1)), row["stdev"], "stdev")
    assert_interval_columns(row, lambda c: mean_ci(values, confidence=c))
