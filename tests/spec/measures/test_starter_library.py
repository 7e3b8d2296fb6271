"""Every starter measure computes on a small synthetic ICS with plausible, non-empty results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from joinedup.measures.definitions import STARTER_LIBRARY, MeasureType, load_library

MEASURES = load_library(STARTER_LIBRARY)
#: DSRs need 10 events in a cell (Fingertips); 2,000 people give too few falls a quarter.
TOO_RARE_FOR_A_SMALL_ICS = {"falls-admissions-65-plus"}


def ics_rows(rows: list[dict[str, Any]], measure_id: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["measure_id"] == measure_id and r["breakdown"] == "ics"]


@pytest.mark.parametrize("measure", MEASURES, ids=[m.id for m in MEASURES])
def test_measure_has_ics_results(measure: Any, result_rows: list[dict[str, Any]]) -> None:
    rows = ics_rows(result_rows, measure.id)
    assert rows, "no ICS rows"
    assert sum(r["numerator"] for r in rows) > 0, "no events or units at all"
    values = [r["value"] for r in rows if r["value"] is not None]
    if measure.id not in TOO_RARE_FOR_A_SMALL_ICS:
        assert values, "no ICS value in any period"
    if measure.type is MeasureType.proportion:
        assert all(0 <= v <= 100 for v in values)
        assert all(r["lower"] <= r["value"] <= r["upper"] for r in rows if r["value"] is not None)
    elif measure.type in (
        MeasureType.crude_rate,
        MeasureType.dsr,
        MeasureType.mean,
        MeasureType.median_time,
    ):
        assert all(v >= 0 for v in values)
    elif measure.type is MeasureType.isr:
        # The ICS is the standard: its own ratio is exactly 100.
        assert all(v == pytest.approx(100) for v in values)


def test_places_add_up_to_the_ics(result_rows: list[dict[str, Any]]) -> None:
    for measure in ("ae-attendances", "hypertension-controlled"):
        ics = {r["period_start"]: r["numerator"] for r in ics_rows(result_rows, measure)}
        places: dict[str, int] = {}
        for r in result_rows:
            if r["measure_id"] == measure and r["breakdown"] == "place":
                places[r["period_start"]] = places.get(r["period_start"], 0) + r["numerator"]
        assert places == ics


def test_every_breakdown_is_present(result_rows: list[dict[str, Any]]) -> None:
    groups: dict[str, set[str]] = {}
    for r in result_rows:
        if r["measure_id"] == "hypertension-controlled":
            groups.setdefault(r["breakdown"], set()).add(r["group_id"])
    assert set(groups) == {
        "ics",
        "place",
        "pcn",
        "practice",
        "imd_quintile",
        "age_band",
        "sex",
        "ethnicity",
        "core20",
    }
    assert groups["imd_quintile"] == {"1", "2", "3", "4", "5"}
    assert len(groups["place"]) == 3
    assert groups["core20"] == {"Core20", "Rest"}


def test_standardised_measures_skip_the_age_band_breakdown(
    result_rows: list[dict[str, Any]],
) -> None:
    breakdowns = {
        r["breakdown"] for r in result_rows if r["measure_id"] == "emergency-admissions-65-plus"
    }
    assert "age_band" not in breakdowns and "place" in breakdowns


def test_comparisons_respect_polarity(result_rows: list[dict[str, Any]]) -> None:
    ics = {
        (r["measure_id"], r["period_start"]): r["value"]
        for r in result_rows
        if r["breakdown"] == "ics"
    }
    polarity = {m.id: m.polarity.value for m in MEASURES}
    compared = 0
    for r in result_rows:
        if r["breakdown"] == "ics" or r["vs_ics"] in ("", "not compared", "similar"):
            continue
        above = r["lower"] > ics[(r["measure_id"], r["period_start"])]
        better_when_above = polarity[r["measure_id"]] == "higher"
        assert r["vs_ics"] == ("better" if above == better_when_above else "worse")
        compared += 1
    assert compared > 0


def test_spc_funnels_inequality_and_places(unsuppressed_results: Path) -> None:
    summaries = json.loads((unsuppressed_results / "spc_summary.json").read_text())
    assert any(
        s["measure_id"] == "ae-attendances" and s["breakdown"] == "ics" and s["points"] == 48
        for s in summaries
    )
    funnels = json.loads((unsuppressed_results / "funnels.json").read_text())
    assert {f["breakdown"] for f in funnels} >= {"place", "practice"}
    kinds = {m.id: m.type for m in MEASURES}
    drawn = {kinds[f["measure_id"]] for f in funnels}
    # Ratios and means get funnels too; median times none (no published funnel method). DSRs
    # need 10 events a cell, more than 2,000 people give in a month.
    assert drawn >= {MeasureType.proportion, MeasureType.crude_rate, MeasureType.isr}
    assert MeasureType.mean in drawn and MeasureType.median_time not in drawn
    for funnel in funnels:
        lines = funnel["lines"]
        inside = [p for p in funnel["points"] if p["significance"] == "Not significant"]
        assert inside, f"{funnel['measure_id']}: every point outside the limits"
        pairs = zip(lines["lower_95"], lines["upper_95"], strict=True)
        assert not any(lo > hi for lo, hi in pairs)  # NaN where a limit leaves the scale
    inequality = json.loads((unsuppressed_results / "inequality.json").read_text())
    assert {r["measure_id"] for r in inequality} >= {"hypertension-controlled", "ae-attendances"}
    places = json.loads((unsuppressed_results / "places.json").read_text())
    assert len(places) == 3 and all(
        p["accountable_person"] and p["board_organisations"] for p in places
    )
    local = [p for p in places if "social-care-assessment-after-discharge" in p["measures"]]
    assert [p["place_id"] for p in local] == ["org-place-1"]


def test_look_back_measures_start_after_their_warm_up(result_rows: list[dict[str, Any]]) -> None:
    starts = {r["period_start"] for r in ics_rows(result_rows, "hypertension-controlled")}
    assert min(starts) == "2022-04-01"  # data from April 2021, 12 months of look-back
    assert min(r["period_start"] for r in ics_rows(result_rows, "ae-attendances")) == "2021-04-01"
