"""PHEindicatormethods funnel-plot reference cases: limits and significance.

The expected limits are printed to a fixed number of decimals, so each value must agree to
within half a unit of its last printed digit; Poisson funnel limits (ratios and rates) may
also differ by relative 1e-6, as the reference README allows for a library Poisson CDF.
"""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from joinedup.measures.stats.funnels import (
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_limits,
    rate_funnel_points,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
)

FOLDER = (
    Path(
        os.environ.get(
            "JOINEDUP_REFERENCE", Path(__file__).resolve().parents[3] / "shared/reference"
        )
    )
    / "phe-indicator-methods"
)
POISSON_RTOL = 1e-6
LIMITS = (("lower_95", "lower_2s"), ("upper_95", "upper_2s"), ("lower_998", "lower_3s"),
          ("upper_998", "upper_3s"))  # fmt: skip


@cache
def read(name: str) -> list[dict[str, str]]:
    with (FOLDER / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.asarray([float(row[name]) if row[name] else np.nan for row in rows])


def assert_printed(actual: float, text: str, what: str, rtol: float = 0.0) -> None:
    """Equal to the printed precision of ``text`` (or within ``rtol``)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    tolerance = 0.5 * 10.0**-decimals * (1 + 1e-9) + rtol * abs(float(text))
    assert abs(actual - float(text)) <= tolerance, f"{what}: {actual} vs {text}"


def row_params(name: str) -> list[Any]:
    if not (FOLDER / name).exists():
        return [pytest.param(None, id="reference-missing")]
    return [pytest.param(i, id=f"row{i + 1:03d}") for i in range(len(read(name)))]


# --- proportions -----------------------------------------------------------------------------


def proportion_inputs(axis_variation: bool) -> tuple[np.ndarray, np.ndarray]:
    rows = read("funnel_proportion_significance.csv")
    numerator, denominator = column(rows, "numerator"), column(rows, "denominator")
    if axis_variation:  # README: the inputs with denominator < 31000
        keep = denominator < 31000
        return numerator[keep], denominator[keep]
    return numerator, denominator


@cache
def proportion_labels() -> Any:
    return proportion_funnel_significance(*proportion_inputs(False))


@cache
def proportion_funnel(axis_variation: bool) -> Any:
    return proportion_funnel_limits(*proportion_inputs(axis_variation), multiplier=100)


@pytest.mark.parametrize("row", row_params("funnel_proportion_significance.csv"))
def test_proportion_significance(reference_dir: Path, row: int) -> None:
    expected = read("funnel_proportion_significance.csv")[row]["significance"]
    assert proportion_labels()[row] == expected


@pytest.mark.parametrize("variation", [False, True], ids=["all_inputs", "axis_variation"])
@pytest.mark.parametrize("row", row_params("funnel_proportion_limits.csv"))
def test_proportion_limits(reference_dir: Path, variation: bool, row: int) -> None:
    name = (
        "funnel_proportion_limits_axis_variation.csv"
        if variation
        else "funnel_proportion_limits.csv"
    )
    expected = read(name)[row]
    funnel = proportion_funnel(variation)
    assert funnel.population[row] == float(expected["Population"])
    for ours, theirs in LIMITS:
        assert_printed(float(getattr(funnel, ours)[row]), expected[f"{theirs}_limit"], ours)
    assert_printed(funnel.baseline, expected["baseline"], "baseline")


# --- ratios ----------------------------------------------------------------------------------


def ratio_inputs() -> tuple[np.ndarray, np.ndarray]:
    rows = read("funnel_ratio_significance.csv")
    return column(rows, "obs"), column(rows, "expected")


@cache
def ratio_labels() -> Any:
    return ratio_funnel_significance(*ratio_inputs())


@pytest.mark.parametrize("row", row_params("funnel_ratio_significance.csv"))
def test_ratio_significance(reference_dir: Path, row: int) -> None:
    expected = read("funnel_ratio_significance.csv")[row]["significance"]
    assert ratio_labels()[row] == expected


@cache
def ratio_funnel(ratio_type: str) -> Any:
    return ratio_funnel_limits(*ratio_inputs(), ratio_type=ratio_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("row", row_params("funnel_ratio_limits.csv"))
def test_ratio_limits(reference_dir: Path, row: int) -> None:
    expected = read("funnel_ratio_limits.csv")[row]
    as_count, as_isr = ratio_funnel("count"), ratio_funnel("isr")
    assert as_count.observed_events[row] == float(expected["Observed_events"])
    for ours, theirs in LIMITS:
        assert_printed(
            float(getattr(as_isr, f"{ours}_expected")[row]),
            expected[f"{theirs}_exp_events"],
            f"{ours} expected events",
            POISSON_RTOL,
        )
        assert_printed(
            float(getattr(as_isr, ours)[row]), expected[f"{theirs}_isr"], ours, POISSON_RTOL
        )
        # "count" is O/E - 1: the allowed relative error applies to O/E, not to the difference.
        ratio = float(getattr(as_count, ours)[row]) + 1.0
        assert_printed(ratio, str(float(expected[f"{theirs}_count"]) + 1.0), ours, POISSON_RTOL)


# --- rates -----------------------------------------------------------------------------------

RATE_LIMIT_FILES = {
    "dsr": "funnel_rate_limits_dsr.csv",
    "crude_lt10": "funnel_rate_limits_crude_lt10.csv",
    "crude_zero_events": "funnel_rate_limits_crude_zero_events.csv",
}
YEARS_OF_DATA = 3  # README: multiplier 1e5, years_of_data 3


@cache
def rate_limit_funnel(variant: str) -> Any:
    rows = read("funnel_rate_limits_inputs.csv")
    events, rate = column(rows, "ev"), column(rows, "rate")
    largest = int(np.argmax(events))
    if variant == "dsr":
        return rate_funnel_limits(events, rate, rate_type="dsr", years_of_data=YEARS_OF_DATA)
    if variant == "crude_lt10":
        events[largest] = 5
        return rate_funnel_limits(events, rate, rate_type="crude", years_of_data=YEARS_OF_DATA)
    population = 1e5 * events / rate
    events[largest], rate[largest] = 0.0, 0.0
    keep = population > population.max() / 2
    return rate_funnel_limits(
        events[keep],
        rate[keep],
        rate_type="crude",
        years_of_data=YEARS_OF_DATA,
        denominator=population[keep],
    )


RATE_LIMIT_CASES = (
    [pytest.param(variant, i, id=f"{variant}-row{i + 1:03d}")
     for variant, name in RATE_LIMIT_FILES.items() for i in range(len(read(name)))]
    if FOLDER.exists() else [pytest.param(None, None, id="reference-missing")]
)  # fmt: skip


@pytest.mark.parametrize(("variant", "row"), RATE_LIMIT_CASES)
def test_rate_limits(reference_dir: Path, variant: str, row: int) -> None:
    expected = read(RATE_LIMIT_FILES[variant])[row]
    funnel = rate_limit_funnel(variant)
    assert funnel.events[row] == float(expected["Events"])
    for ours, theirs in LIMITS:
        assert_printed(
            float(getattr(funnel, f"{ours}_population")[row]),
            expected[f"{theirs}_population_1_year"],
            f"{ours} population",
            POISSON_RTOL,
        )
        assert_printed(
            float(getattr(funnel, ours)[row]), expected[f"{theirs}_limit"], ours, POISSON_RTOL
        )
    assert_printed(funnel.baseline, expected["baseline"], "baseline")


SIGNIFICANCE_COLUMNS = {
    # column prefix: (rate_type, rate column, multiplier)
    "dsr_per_100000": ("dsr", "rate_dsr", 100_000),
    "dsr_per_100": ("dsr", "rate_dsr", 100),
    "crude_per_100000": ("crude", "rate_crude_per_100000", 100_000),
    "crude_per_100": ("crude", "rate_crude_per_100", 100),
}


def rate_significance_cases() -> list[Any]:
    if not FOLDER.exists():
        return [pytest.param(None, None, None, id="reference-missing")]
    rows = read("funnel_rate_significance.csv")
    cases = []
    for prefix in SIGNIFICANCE_COLUMNS:
        for zeros in ("with_0", "without_0"):
            for i, row in enumerate(rows):
                if zeros == "without_0" and float(row["count"]) == 0:
                    continue  # README: that row is excluded before the call
                cases.append(pytest.param(prefix, zeros, i, id=f"{prefix}_{zeros}-row{i + 1:02d}"))
    return cases


@cache
def rate_labels(prefix: str, zeros: str) -> dict[int, str]:
    """Labels by reference row for one call (without_0 leaves the 0-count row out)."""
    rows = read("funnel_rate_significance.csv")
    rate_type, rate_column, multiplier = SIGNIFICANCE_COLUMNS[prefix]
    count, rate, population = column(rows, "count"), column(rows, rate_column), column(rows, "pop")
    keep = np.ones(len(rows), dtype=bool) if zeros == "with_0" else count > 0
    labels = rate_funnel_significance(
        count[keep],
        rate[keep],
        rate_type=rate_type,  # type: ignore[arg-type]
        multiplier=multiplier,
        denominator=population[keep],
    )
    return dict(zip(np.flatnonzero(keep).tolist(), labels.tolist(), strict=True))


@pytest.mark.parametrize(("prefix", "zeros", "row"), rate_significance_cases())
def test_rate_significance(reference_dir: Path, prefix: str, zeros: str, row: int) -> None:
    expected = read("funnel_rate_significance.csv")[row][f"{prefix}_{zeros}"]
    assert rate_labels(prefix, zeros)[row] == expected


POINT_VARIANTS = {
    # output columns: (rate_type, years_of_data, pass the real denominator)
    "": ("dsr", 3, False),
    "_crude": ("crude", 3, False),
    "_crude_with_denom": ("crude", 5, True),
}
# The README does not say so, but in the dsr and crude_with_denom columns the row with the most
# events was computed with 0 events: its DSR columns are NA and its crude_with_denom population
# is pop / 5, which only the zero-events rule produces (the crude column is the plain value).
ZERO_EVENTS_ROW = {"": True, "_crude": False, "_crude_with_denom": True}


def assert_printed_or_na(actual: float, text: str, what: str) -> None:
    if text == "":
        assert np.isnan(actual), f"{what}: expected NA, got {actual}"
    else:
        assert_printed(actual, text, what)


@pytest.mark.parametrize("suffix", list(POINT_VARIANTS), ids=["dsr", "crude", "crude_with_denom"])
def test_rate_funnel_points(reference_dir: Path, suffix: str) -> None:
    rows = read("funnel_rate_limits_inputs.csv")
    rate_type, years, with_denominator = POINT_VARIANTS[suffix]
    events = column(rows, "ev")
    if ZERO_EVENTS_ROW[suffix]:
        events[int(np.argmax(events))] = 0.0
    rate_chart, population = rate_funnel_points(
        events,
        column(rows, "rate"),
        rate_type=rate_type,  # type: ignore[arg-type]
        years_of_data=years,
        denominator=column(rows, "pop") if with_denominator else None,
    )
    for i, row in enumerate(rows):
        assert_printed_or_na(float(rate_chart[i]), row[f"rate_chart{suffix}"], "rate_chart")
        assert_printed_or_na(
            float(population[i]), row[f"denominator_derived{suffix}"], "population"
        )
