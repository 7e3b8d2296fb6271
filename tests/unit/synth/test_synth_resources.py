"""Every resource is valid FHIR R4 (fhir.resources R4B models: R4B equals R4 for these
types), ids are unique and every reference resolves inside the output."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from joinedup.synth import SynthOptions, generate


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def test_every_resource_validates(small_resources: dict[str, list[dict[str, Any]]]) -> None:
    checked = 0
    for kind, resources in small_resources.items():
        model = getattr(importlib.import_module(f"fhir.resources.R4B.{kind.lower()}"), kind)
        for resource in resources:
            assert resource["resourceType"] == kind
            model.model_validate(resource)
            checked += 1
    assert checked > 3_000


def test_ids_unique_and_references_resolve(
    small_resources: dict[str, list[dict[str, Any]]],
) -> None:
    ids = [f"{r['resourceType']}/{r['id']}" for rs in small_resources.values() for r in rs]
    assert len(ids) == len(set(ids))
    known = set(ids)
    dangling = {ref for rs in small_resources.values() for r in rs for ref in references(r)} - known
    assert dangling == set()


def test_activity_the_outcome_indicators_need(
    small_resources: dict[str, list[dict[str, Any]]],
) -> None:
    kinds = {
        c["code"] for e in small_resources["Encounter"] for t in e["type"] for c in t["coding"]
    }
    assert {
        "gp-appointment",
        "ae-attendance",
        "emergency-admission",
        "community-rehab-contact",
    } <= kinds
    destinations = {
        e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"]
        for e in small_resources["Encounter"]
        if "dischargeDisposition" in e.get("hospitalization", {})
    }
    assert "19" in destinations
    assert {"CarePlan", "ServiceRequest", "EpisodeOfCare", "Immunization", "Consent"} <= set(
        small_resources
    )


def test_bundles_format_is_transactions_with_resolvable_references(tmp_path: Path) -> None:
    out = tmp_path / "bundles"
    generate(SynthOptions(people=120, seed=5, out=out, output_format="bundles", workers=1))
    assert [p.name for p in out.iterdir()] == ["Bundle.ndjson"]
    bundles = [orjson.loads(line) for line in (out / "Bundle.ndjson").read_bytes().splitlines()]
    assert len(bundles) == 1 + 120  # the directory first, then one per person
    model = importlib.import_module("fhir.resources.R4B.bundle").Bundle
    known: set[str] = set()
    for bundle in bundles:
        assert bundle["type"] == "transaction"
        model.model_validate(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert entry["request"] == {
                "method": "PUT",
                "url": f"{resource['resourceType']}/{resource['id']}",
            }
            known.add(entry["request"]["url"])
    assert bundles[0]["entry"][0]["resource"]["resourceType"] == "Organization"
    assert (
        sum(1 for b in bundles[1:] if b["entry"][0]["resource"]["resourceType"] == "Patient") == 120
    )
    dangling = {
        ref for b in bundles for e in b["entry"] for ref in references(e["resource"])
    } - known
    assert dangling == set()


@pytest.mark.parametrize("kind", ["Patient", "Encounter"])
def test_nothing_dated_outside_the_period(
    small_resources: dict[str, list[dict[str, Any]]], kind: str
) -> None:
    for resource in small_resources[kind]:
        if kind == "Encounter":
            assert (
                "2021-04-01"
                <= resource["period"]["start"]
                <= resource["period"]["end"]
                <= "2025-03-31"
            )
        elif "deceasedDateTime" in resource:
            assert "2021-04-01" <= resource["deceasedDateTime"] <= "2025-03-31"
