"""Making Data Count XmR reference cases computed by NHSRplotthedots 0.2.2.

Every one of the 54 series is checked point by point (1,349 points) and group by group
(70 summary rows; the README says 71), plus the rule-level and assurance unit cases.
Limits: relative 1e-9 (README: "mean/lpl/upl to 1e-9 relative"); fixture expectations use
their stated tolerance.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from joinedup.measures.spc import XmRChart, assurance_icon, assurance_type, xmr_chart
from joinedup.measures.spc.rules import (
    part_of_run,
    shift_run_end,
    trend_end,
    two_in_three_points,
    two_in_three_window,
)

RTOL = 1e-9
FOLDER = (
    Path(
        os.environ.get(
            "JOINEDUP_REFERENCE", Path(__file__).resolve().parents[3] / "shared/reference"
        )
    )
    / "making-data-count"
)
NO_FACET = "no facet"


def read(name: str) -> list[dict[str, str]]:
    with (FOLDER / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def series_cases() -> dict[str, dict[str, Any]]:
    with (FOLDER / "series_cases.json").open() as handle:
        return {case["case_id"]: case for case in json.load(handle)}


@cache
def points_by_case() -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read("series_points.csv"):
        grouped[row["case_id"]].append(row)
    return grouped


@cache
def chart_for(case_id: str) -> XmRChart:
    case = series_cases()[case_id]
    rows = points_by_case()[case_id]
    return xmr_chart(
        [float(row["value"]) for row in rows],
        [row["date"] for row in rows],
        facets=[row["facet"] for row in rows] if case["facet_field"] else None,
        improvement_direction=case["improvement_direction"],
        target=case["target"],
        rebase=case["rebase"],
        fix_after_n_points=case["fix_after_n_points"],
        screen_outliers=case["screen_outliers"],
    )


def params(name: str, key: Any) -> list[Any]:
    if not (FOLDER / name).exists():
        return [pytest.param(None, id="reference-missing")]
    return [pytest.param(row, id=key(row)) for row in read(name)]


def facet_label(facet: Any) -> str:
    return NO_FACET if facet is None else str(facet)


def assert_number(actual: float, expected: str, what: str, rtol: float = RTOL) -> None:
    if expected == "NaN":
        assert np.isnan(actual), f"{what}: expected NaN, got {actual}"
    else:
        assert actual == pytest.approx(float(expected), rel=rtol, abs=1e-12), what


def boolean(text: str) -> bool:
    return {"TRUE": True, "FALSE": False}[text]


def test_reference_counts(reference_dir: Path) -> None:
    assert len(series_cases()) == 54
    assert sum(len(rows) for rows in points_by_case().values()) == 1349
    # README.txt says 71 summaries, but the file holds 70 rows, exactly one per facet x rebase
    # group present in series_points.csv (test_summaries_cover_every_group checks that set).
    assert len(read("series_summary.csv")) == 70


@pytest.mark.parametrize(
    "row", params("series_points.csv", lambda r: f"{r['case_id']}-{r['facet']}-{r['date']}")
)
def test_point(reference_dir: Path, row: dict[str, str]) -> None:
    chart = chart_for(row["case_id"])
    points = chart.points
    matches = np.flatnonzero(
        (points.date == np.datetime64(row["date"]))
        & np.array([facet_label(f) == row["facet"] for f in points.facet])
    )
    assert len(matches) == 1
    i = int(matches[0])
    assert points.value[i] == float(row["value"])
    assert points.rebase_group[i] == int(row["rebase_group"])
    assert bool(points.short_group_warning[i]) == boolean(row["short_group_warning"])
    for field in ("mean", "lpl", "upl"):
        assert_number(float(getattr(points, field)[i]), row[field], field)
    assert points.relative_to_mean[i] == int(row["relative_to_mean"])
    for field in ("outside_limits", "close_to_limits"):
        if row[field] == "":  # NA: the limits are undefined (constant screened series)
            assert np.isnan(points.lpl[i]) and not getattr(points, field)[i]
        else:
            assert bool(getattr(points, field)[i]) == boolean(row[field]), field
    assert points.special_cause_type[i] == row["special_cause_type"]
    assert bool(points.special_cause_flag[i]) == boolean(row["special_cause_flag"])
    assert points.point_type[i] == row["point_type"]
    if row["target"] == "":
        assert np.isnan(points.target[i])
    else:
        assert points.target[i] == float(row["target"])


@pytest.mark.parametrize(
    "row",
    params("series_summary.csv", lambda r: f"{r['case_id']}-{r['facet']}-{r['rebase_group']}"),
)
def test_summary(reference_dir: Path, row: dict[str, str]) -> None:
    summaries = [
        s
        for s in chart_for(row["case_id"]).summaries
        if facet_label(s.facet) == row["facet"] and s.rebase_group == int(row["rebase_group"])
    ]
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary.n == int(row["n"])
    assert summary.first_date == np.datetime64(row["first_date"])
    assert summary.last_date == np.datetime64(row["last_date"])
    for field in ("mean", "lpl", "upl"):
        assert_number(getattr(summary, field), row[field], field)
    for kind, count in summary.point_type_counts.items():
        assert count == int(row[kind]), kind
    assert summary.is_latest_group == boolean(row["is_latest_group"])
    for field in ("variation_type", "assurance_type", "variation_icon", "assurance_icon"):
        assert getattr(summary, field) == (row[field] or None), field


def test_summaries_cover_every_group(reference_dir: Path) -> None:
    ours = sorted(
        (case_id, facet_label(s.facet), s.rebase_group)
        for case_id in series_cases()
        for s in chart_for(case_id).summaries
    )
    theirs = sorted(
        (r["case_id"], r["facet"], int(r["rebase_group"])) for r in read("series_summary.csv")
    )
    assert ours == theirs


FIXTURE_CASES = (
    [pytest.param(case_id, id=case_id) for case_id, case in series_cases().items()
     if case["fixture_expectations"]]
    if (FOLDER / "series_cases.json").exists()
    else [pytest.param(None, id="reference-missing")]
)  # fmt: skip


@pytest.mark.parametrize("case_id", FIXTURE_CASES)
def test_fixture_expectations(reference_dir: Path, case_id: str) -> None:
    """The numbers the package's own tests and docs state, at their stated tolerance."""
    expected = series_cases()[case_id]["fixture_expectations"]
    chart = chart_for(case_id)
    points, summaries = chart.points, chart.summaries
    tolerance = expected.get("tolerance")
    atol = tolerance if isinstance(tolerance, float) else None
    checked = 0
    for key, want in expected.items():
        if key in ("mean", "lpl", "upl"):
            got = float(getattr(points, key)[0])
            if atol is not None:
                assert got == pytest.approx(want, abs=atol), key
            elif tolerance == "2 decimal places":
                assert round(got, 2) == want, key
            else:  # printed to 3 significant figures
                assert float(f"{got:.3g}") == want, key
        elif key.startswith("relative_to_mean_first"):
            assert list(points.relative_to_mean[: len(want)]) == want
        elif key == "common_cause_points":
            assert int(np.sum(points.point_type == "common_cause")) == want
        elif key == "special_cause_points":  # 1-based position(s) of the special-cause point(s)
            assert list(np.flatnonzero(points.special_cause_flag) + 1) == list(np.atleast_1d(want))
        elif key == "rebase_group":
            assert list(points.rebase_group) == (
                want if isinstance(want, list) else [want] * len(points.rebase_group)
            )
        elif key in ("variation_type", "assurance_type"):
            latest = [s for s in summaries if s.is_latest_group]
            assert [getattr(s, key) for s in latest] == [want]
        elif key in ("variation_icon", "assurance_icon"):
            latest = {facet_label(s.facet): getattr(s, key) for s in summaries if s.is_latest_group}
            assert latest == (want if isinstance(want, dict) else {NO_FACET: want})
        elif key.startswith("point_type"):
            tail = int(key.rsplit("_", 1)[-1].removeprefix("last"))
            selected = points.point_type[-tail:] if "last" in key else points.point_type[tail - 1]
            assert list(np.atleast_1d(selected)) == list(np.atleast_1d(want))
        elif key.startswith("facet"):
            summary = next(
                s for s in summaries if facet_label(s.facet) == key.removeprefix("facet")
            )
            assert summary.n == want["n"]
            assert summary.point_type_counts["common_cause"] == want["common_cause"]
            for field in ("mean", "lpl", "upl"):
                assert float(f"{getattr(summary, field):.3g}") == want[field], field
        elif key == "short_group_warning":
            assert bool(np.all(points.short_group_warning)) == want
        elif key == "tolerance":
            continue
        else:
            raise AssertionError(f"unhandled fixture expectation {key!r}")
        checked += 1
    assert checked > 0


def vector(text: str) -> list[float]:
    return [float(part) for part in text.split()]


RULES = {
    "shift_run_end": lambda a, b, s: shift_run_end(np.asarray(a, dtype=np.int8), s),
    "part_of_run": lambda a, b, s: part_of_run(np.asarray(a), s),
    "trend_end": lambda a, b, s: trend_end(np.asarray(a), s),
    "two_in_three_window": lambda a, b, s: two_in_three_window(
        np.asarray(a, dtype=bool), np.asarray(b, dtype=np.int8), s
    ),
    "two_in_three_points": lambda a, b, s: two_in_three_points(
        np.asarray(a, dtype=bool), np.asarray(b, dtype=np.int8), s
    ),
}


@pytest.mark.parametrize("row", params("rule_unit_cases.csv", lambda r: r["case_id"]))
def test_rule_unit_case(reference_dir: Path, row: dict[str, str]) -> None:
    first, second = vector(row["input_a"]), vector(row["input_b"])
    segments = np.zeros(len(first), dtype=np.intp)
    got = RULES[row["rule"]](first, second, segments)
    assert [int(x) for x in got] == [int(x) for x in vector(row["expected"])]


@pytest.mark.parametrize("row", params("assurance_unit_cases.csv", lambda r: r["case_id"]))
def test_assurance_unit_case(reference_dir: Path, row: dict[str, str]) -> None:
    target = float(row["target"]) if row["target"] else None
    lpl = float(row["lpl"]) if row["lpl"] else float("nan")
    upl = float(row["upl"]) if row["upl"] else float("nan")
    got = assurance_type(row["improvement_direction"], target, lpl, upl)  # type: ignore[arg-type]
    assert got == (row["expected_assurance_type"] or None)
    assert assurance_icon(got) == (None if got is None else {
        "consistent_pass": "pass", "consistent_fail": "fail", "inconsistent": "inconsistent"
    }[got])  # fmt: skip
