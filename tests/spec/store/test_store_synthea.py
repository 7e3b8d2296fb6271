"""All 100 Synthea R4 bundles (plus the organisation and practitioner bundles, first) load at
store level, and every reference resolves afterwards.

Bundle semantics belong to ``joinedup.fhir.bundle``; here the references are resolved the simple
way Synthea allows (every resource's id is its ``urn:uuid``), so this checks the store alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from joinedup.store import Store, parse_search

pytestmark = pytest.mark.slow


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, mapping) for k, v in value.items()}
        if out.get("reference") in mapping:
            out["reference"] = mapping[out["reference"]]
        return out
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def synthea_bundles(folder: Path) -> list[list[dict[str, Any]]]:
    files = sorted(folder.glob("*.json"), key=lambda f: ("Information" not in f.name, f.name))
    bundles = []
    for path in files:
        entries = json.loads(path.read_text("utf-8"))["entry"]
        mapping = {
            e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries
        }
        bundles.append([_rewrite(e["resource"], mapping) for e in entries])
    return bundles


@pytest.fixture(scope="module")
def synthea(shared_store: Store, reference_dir: Path) -> tuple[Store, int]:
    bundles = synthea_bundles(reference_dir / "synthea-r4")
    assert len(bundles) == 102
    distinct = {(r["resourceType"], r["id"]) for bundle in bundles for r in bundle}
    for bundle in bundles:
        shared_store.bulk_load(bundle)
    return shared_store, len(distinct)


def test_every_resource_is_stored(synthea: tuple[Store, int]) -> None:
    store, distinct = synthea
    assert sum(1 for _ in store.iter_resources()) == distinct
    assert store.search(parse_search("Patient", [("_summary", "count")])).total == 100


def test_every_reference_resolves(synthea: tuple[Store, int]) -> None:
    store, _ = synthea
    with store.transaction() as tx:
        dangling = tx.execute(
            "SELECT COUNT(*) FROM idx_reference x LEFT JOIN resource t "
            "ON t.resource_type = x.target_type AND t.id = x.target_id "
            "WHERE x.target_id IS NOT NULL AND t.pk IS NULL"
        )[0][0]
        unresolved = tx.execute("SELECT COUNT(*) FROM idx_reference WHERE url LIKE 'urn:%'")[0][0]
        checked = tx.execute("SELECT COUNT(*) FROM idx_reference")[0][0]
    assert checked > 50_000
    assert (dangling, unresolved) == (0, 0)


def test_searches_and_everything_on_real_data(synthea: tuple[Store, int]) -> None:
    store, _ = synthea
    page = store.search(parse_search("Patient", [("_count", "1"), ("_sort", "birthdate")]))
    oldest = page.matches[0].id
    everything = store.everything(oldest, count=1000)
    observations = store.search(
        parse_search("Observation", [("subject", f"Patient/{oldest}"), ("_summary", "count")])
    )
    in_bundle = [m for m in everything.matches if m.resource_type == "Observation"]
    assert observations.total == len(in_bundle) > 0
    glucose = store.search(
        parse_search(
            "Observation",
            [("code-value-quantity", "http://loinc.org|2339-0$gt100"), ("_total", "accurate")],
        )
    )
    assert glucose.total is not None and glucose.total > 0
    for match in glucose.matches:
        assert match.resource is not None and match.resource["valueQuantity"]["value"] > 100
