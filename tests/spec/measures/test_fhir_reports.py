"""Measure and MeasureReport resources validate as FHIR R4 and carry only published numbers."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from joinedup.measures.definitions import load_library
from joinedup.measures.fhir_reports import fhir_measure, measure_report

MEASURES = load_library()


@pytest.mark.parametrize("measure", MEASURES, ids=[m.id for m in MEASURES])
def test_measure_and_latest_report_validate(
    measure: Any, result_rows: list[dict[str, Any]]
) -> None:
    Measure.model_validate(fhir_measure(measure))
    latest = max(r["period_start"] for r in result_rows if r["measure_id"] == measure.id)
    report = measure_report(measure, result_rows, latest)
    MeasureReport.model_validate(report)
    ics = next(
        r
        for r in result_rows
        if r["measure_id"] == measure.id and r["breakdown"] == "ics" and r["period_start"] == latest
    )
    assert report["group"][0]["population"][0].get("count") == ics["numerator"]


def row() -> dict[str, Any]:
    return {
        "measure_id": "ae-attendances",
        "period_start": "2024-04-01",
        "period_end": "2024-04-30",
    }


def test_suppressed_strata_carry_no_numbers() -> None:
    published = {
        "numerator": 120,
        "denominator": 1000.0,
        "value": 12.0,
        "lower": 10.0,
        "upper": 14.0,
    }
    hidden = dict.fromkeys(published)
    rows: list[dict[str, Any]] = [
        {**row(), "breakdown": "ics", "group_id": "ICS", **published},
        {**row(), "breakdown": "place", "group_id": "org-place-1", **hidden},
    ]
    measure = next(m for m in MEASURES if m.id == "ae-attendances")
    report = measure_report(measure, rows, "2024-04-01")
    MeasureReport.model_validate(report)
    stratum = report["group"][0]["stratifier"][0]["stratum"][0]
    assert "measureScore" not in stratum and "count" not in stratum["population"][0]
