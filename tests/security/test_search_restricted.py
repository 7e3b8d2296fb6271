"""The search across types (``_type``) and the full-text search (``_content``) show a GP only
what the policy lets them see: over HTTP with a GP's token, and in the store on every store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from access_world import (
    PERSONAS,
    VISIBLE,
    entries,
    load,
    restriction,
    world_on,
)
from fastapi.testclient import TestClient

from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import open_store
from joinedup.store.base import Store
from joinedup.store.search import parse_system_search

TYPE_OF = {resource["id"]: resource["resourceType"] for resource, _ in entries()}
# Every Observation in the world carries this SNOMED code, so its text is in their content.
OBSERVATION_CODE = "271649006"


def _of(*types: str) -> set[str]:
    return {i for i, t in TYPE_OF.items() if t in types}


@pytest.fixture
def gp_http(tmp_path: Path) -> Iterator[TestClient]:
    store = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    app = create_app(store, Settings(data_dir=tmp_path))
    load(store)  # after create_app: the access tables and write hooks are in place
    token = dev_token(tmp_path, PERSONAS["gp_a"])
    with TestClient(app, base_url="http://record.test") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    store.close()


def _ids(client: TestClient, params: dict[str, str], method: str = "GET") -> set[str]:
    if method == "POST":
        response = client.post("/fhir/_search", data={**params, "_count": "1000"})
    else:
        response = client.get("/fhir", params={**params, "_count": "1000"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    found = {e["resource"]["id"] for e in bundle.get("entry", [])}
    assert bundle["total"] == len(found)
    return found


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_type_search_over_http_shows_a_gp_only_what_they_may_see(
    gp_http: TestClient, method: str
) -> None:
    found = _ids(gp_http, {"_type": "Patient,Observation,Encounter"}, method)
    expected = VISIBLE["gp_a"] & _of("Patient", "Observation", "Encounter")
    assert found == expected
    assert _of("Patient", "Observation", "Encounter") - expected  # some are hidden


def test_content_search_over_http_shows_a_gp_only_what_they_may_see(gp_http: TestClient) -> None:
    found = _ids(gp_http, {"_type": "Observation", "_content": OBSERVATION_CODE})
    assert found == VISIBLE["gp_a"] & _of("Observation")
    assert _of("Observation") - found


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    with world_on(request.param, request, tmp_path_factory, "search") as opened:
        yield opened


@pytest.mark.parametrize(
    ("params", "matched_types"),
    [
        ([("_type", "Patient,Observation,Consent")], ("Patient", "Observation", "Consent")),
        ([("_content", OBSERVATION_CODE)], ("Observation",)),
        (
            [
                ("_type", "Observation"),
                ("_content", OBSERVATION_CODE),
                ("_include", "Observation:subject"),
            ],
            ("Observation",),
        ),
    ],
)
@pytest.mark.parametrize("persona", ["gp_a", "hospital", "citizen_reg", "analyst"])
def test_searches_across_types_obey_the_restriction(
    world: Store, persona: str, params: list[tuple[str, str]], matched_types: tuple[str, ...]
) -> None:
    page = world.search(
        parse_system_search([*params, ("_count", "1000")], strict=True),
        restriction=restriction(world, persona),
    )
    matched = {m.id for m in page.matches}
    assert matched == VISIBLE[persona] & _of(*matched_types)
    assert {m.id for m in page.included} <= VISIBLE[persona]
    assert page.total == len(matched)
