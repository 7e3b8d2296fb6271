"""FHIR R4 Measure and MeasureReport resources from measure definitions and published results.

One Measure per definition (scoring, improvement notation, numerator/denominator criteria as
the SQL they are) and one summary MeasureReport per measure and period, stratified by every
breakdown. Only published (disclosure-controlled) counts and scores appear; a suppressed
stratum carries no count and no score. R4 has no element for a confidence interval, so it
travels in a local extension (valueRange).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from joinedup.measures.definitions import MeasureDefinition, MeasureType

BASE = "https://joinedup.example.org/fhir"
INTERVAL_EXTENSION = f"{BASE}/StructureDefinition/confidence-interval"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
BREAKDOWN_SYSTEM = f"{BASE}/CodeSystem/measure-breakdown"

_SCORING = {
    MeasureType.proportion: "proportion",
    MeasureType.crude_rate: "ratio",
    MeasureType.dsr: "ratio",
    MeasureType.isr: "ratio",
    MeasureType.mean: "continuous-variable",
    MeasureType.median_time: "continuous-variable",
}


def measure_url(measure_id: str) -> str:
    return f"{BASE}/Measure/{measure_id}"


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def fhir_measure(measure: MeasureDefinition) -> dict[str, Any]:
    populations = [("numerator", measure.numerator)]
    if measure.denominator is not None:
        populations.append(("denominator", measure.denominator))
    resource: dict[str, Any] = {
        "resourceType": "Measure",
        "id": measure.id,
        "url": measure_url(measure.id),
        "name": measure.id.replace("-", "_"),
        "title": measure.title,
        "status": "active",
        "description": measure.rationale,
        "purpose": measure.policy_source,
        "topic": [{"text": measure.domain}],
        "author": [{"name": measure.owner}],
        "scoring": _concept(SCORING, _SCORING[measure.type]),
        "group": [
            {
                "population": [
                    {
                        "code": _concept(POPULATION, code),
                        "criteria": {"language": "application/sql", "expression": sql.strip()},
                    }
                    for code, sql in populations
                ],
                "stratifier": [
                    {"code": _concept(BREAKDOWN_SYSTEM, b)}
                    for b in measure.breakdowns
                    if b != "ics"
                ],
            }
        ],
    }
    if measure.polarity.value != "none":
        direction = "increase" if measure.polarity.value == "higher" else "decrease"
        resource["improvementNotation"] = _concept(IMPROVEMENT, direction)
    return resource


def _populations(row: dict[str, Any], measure: MeasureDefinition) -> list[dict[str, Any]]:
    result = []
    sides = [("numerator", row["numerator"])]
    if measure.type is MeasureType.proportion:
        sides.append(("denominator", row["denominator"]))
    for code, count in sides:
        population: dict[str, Any] = {"code": _concept(POPULATION, code)}
        if count is not None:
            population["count"] = int(count)
        result.append(population)
    return result


def _score(row: dict[str, Any], measure: MeasureDefinition) -> dict[str, Any] | None:
    """The published score as a Quantity, its interval in the local extension; None if hidden."""
    if row["value"] is None:
        return None
    score: dict[str, Any] = {"value": round(float(row["value"]), 6)}
    if measure.unit:
        score["unit"] = measure.unit
    if row["lower"] is not None and row["upper"] is not None:
        score["extension"] = [
            {
                "url": INTERVAL_EXTENSION,
                "valueRange": {
                    "low": {"value": round(float(row["lower"]), 6)},
                    "high": {"value": round(float(row["upper"]), 6)},
                },
            }
        ]
    return score


def _scored(
    body: dict[str, Any], row: dict[str, Any], measure: MeasureDefinition
) -> dict[str, Any]:
    score = _score(row, measure)
    return body if score is None else {**body, "measureScore": score}


def measure_report(
    measure: MeasureDefinition, rows: list[dict[str, Any]], period_start: str
) -> dict[str, Any]:
    """The summary MeasureReport of one period from the measure's published result rows."""
    in_period = [
        r for r in rows if r["measure_id"] == measure.id and r["period_start"] == period_start
    ]
    ics = next((r for r in in_period if r["breakdown"] == "ics"), None)
    if ics is None:
        raise ValueError(f"no ICS result for measure {measure.id} in period {period_start}")
    group = _scored({"population": _populations(ics, measure)}, ics, measure)
    stratifiers = []
    for breakdown in measure.breakdowns:
        strata = [r for r in in_period if r["breakdown"] == breakdown and breakdown != "ics"]
        if not strata:
            continue
        stratifier = {"code": [_concept(BREAKDOWN_SYSTEM, breakdown)], "stratum": []}
        for row in strata:
            stratum = {
                "value": {"text": str(row["group_id"])},
                "population": _populations(row, measure),
            }
            stratifier["stratum"].append(_scored(stratum, row, measure))
        stratifiers.append(stratifier)
    if stratifiers:
        group["stratifier"] = stratifiers
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": f"{measure.id}-{period_start}",
        "status": "complete",
        "type": "summary",
        "measure": measure_url(measure.id),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "period": {"start": ics["period_start"], "end": ics["period_end"]},
        "group": [group],
    }
    notation = fhir_measure(measure).get("improvementNotation")
    if notation is not None:
        report["improvementNotation"] = notation
    return report
