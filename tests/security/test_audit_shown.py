"""The audit records what a read showed from the summary the route hands it, without parsing
the response: the entities and patients must be exactly those a parse of the body finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from access_world import PERSONAS, load
from fastapi.testclient import TestClient

import joinedup.access.middleware as middleware
from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.record.searchset import searchset
from joinedup.record.shown import shown_in
from joinedup.server.app import create_app
from joinedup.store import open_store
from joinedup.store.base import SearchPage, Store, StoredResource

SYSTEM = Principal("loader", Role.SYSTEM, ScopeSet.parse("system/*.cruds"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def http(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(store, Settings(data_dir=tmp_path / "data"))
    load(store)
    with TestClient(app, base_url="http://record.test") as client:
        yield client


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The response bodies the middleware parsed to audit them."""
    seen: list[bytes] = []
    parse = middleware._json

    def counting(body: bytes, start: Any) -> Any:
        seen.append(body)
        return parse(body, start)

    monkeypatch.setattr(middleware, "_json", counting)
    return seen


def last_audit(store: Store) -> tuple[list[str], set[str]]:
    with store.transaction() as tx:
        seq, entry = tx.execute("SELECT seq, entry FROM access_audit ORDER BY seq DESC LIMIT 1")[0]
        patients = {row[0] for row in tx.execute(_PATIENTS, [seq])}
    event = orjson.loads(entry)
    entities = [e["what"]["reference"] for e in event["entity"] if "what" in e]
    return entities, patients


_PATIENTS = "SELECT patient_id FROM access_audit_patient WHERE seq = ?"


def parsed_audit(body: bytes, path_patient: str | None) -> tuple[list[str], set[str]]:
    """What the audit recorded before routes summarised their responses: a parse of the body."""
    shown = shown_in(orjson.loads(body))
    patients = set(shown.patients) | ({path_patient} if path_patient else set())
    return shown.entities, patients


TRANSACTION = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:6b0f8f4c-1d2e-4a8e-9a59-3f1b2b4c5d6e",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "29463-7"}]},
                "subject": {"reference": "Patient/reg"},
            },
            "request": {"method": "POST", "url": "Observation"},
        },
        {
            "resource": {"resourceType": "Patient", "id": "shown-new"},
            "request": {"method": "PUT", "url": "Patient/shown-new"},
        },
        {"request": {"method": "GET", "url": "Observation?subject=Patient/reg"}},
    ],
}


@pytest.mark.parametrize("persona", ["gp_a", "system"])
def test_reads_are_audited_from_the_summary_exactly_as_a_parse_would(
    http: TestClient, store: Store, tmp_path: Path, parses: list[bytes], persona: str
) -> None:
    principal = SYSTEM if persona == "system" else PERSONAS[persona]
    headers = {"Authorization": f"Bearer {dev_token(tmp_path / 'data', principal)}"}
    reads = [
        ("/fhir/Observation?_count=3", None),
        ("/fhir/Observation?subject=Patient/reg&_include=Observation:subject", None),
        ("/fhir/Encounter?_elements=status", None),
        ("/fhir/Patient/reg", "reg"),
        ("/fhir/Observation/reg-gp", None),
        ("/fhir/Observation/reg-gp/_history/1", None),
        ("/fhir/Patient/reg/$everything", "reg"),
        ("/fhir/Patient/reg/$everything?_count=2", "reg"),
        ("/fhir/Patient/reg/_history", "reg"),
        ("/fhir/Observation/_history", None),
        ("/fhir/_history", None),
    ]
    for url, path_patient in reads:
        response = http.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        assert last_audit(store) == parsed_audit(response.content, path_patient), url
    assert parses == [], "a read's body was parsed to audit it"


def test_a_transaction_is_audited_as_a_parse_of_its_response_would(
    http: TestClient, store: Store, tmp_path: Path, parses: list[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {dev_token(tmp_path / 'data', SYSTEM)}"}
    response = http.post("/fhir", json=TRANSACTION, headers=headers)
    assert response.status_code == 200, response.text
    entities, patients = last_audit(store)
    assert (entities, patients) == parsed_audit(response.content, None)
    assert "Patient/shown-new" in entities and "reg" in patients
    assert parses == []


def test_a_refused_read_is_still_audited_by_reading_its_body(
    http: TestClient, store: Store, tmp_path: Path, parses: list[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {dev_token(tmp_path / 'data', PERSONAS['gp_a'])}"}
    response = http.get("/fhir/Observation/no-such", headers=headers)
    assert response.status_code == 404
    assert last_audit(store) == ([], set())
    assert len(parses) == 1


def _stored(resource: dict[str, Any], text: str | None = None) -> StoredResource:
    return StoredResource(
        resource["resourceType"],
        resource["id"],
        1,
        "2026-01-01T00:00:00.000000+00:00",
        False,
        text=text or orjson.dumps(resource).decode(),
    )


def _obs(oid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", **fields}


AWKWARD = [
    _stored(
        {"resourceType": "Patient", "id": "p1", "link": [{"other": {"reference": "Patient/p9"}}]}
    ),
    _stored(_obs("o1", subject={"reference": "Patient/p1"})),
    # in p1's compartment by performer, about someone else
    _stored(
        _obs("o2", subject={"reference": "Patient/p2"}, performer=[{"reference": "Patient/p1"}])
    ),
    # a nested subject is not what the resource is about
    _stored(_obs("o3", contained=[_obs("c", subject={"reference": "Patient/p3"})])),
    _stored(_obs("o4", subject={"reference": "https://elsewhere.example/fhir/Patient/p4"})),
    _stored(_obs("o5", subject={"reference": "Patient/p5/_history/2"})),
    _stored({"resourceType": "Coverage", "id": "cov", "beneficiary": {"reference": "Patient/p6"}}),
    _stored({"resourceType": "Immunization", "id": "imm", "patient": {"reference": "Patient/p1"}}),
    _stored(_obs("o7", note=[{"text": "see Patient/p7"}], subject={"display": "no reference"})),
    # JSON may escape the slash: the summary must not miss the reference
    _stored(
        _obs("o8", subject={"reference": "Patient/p8"}),
        text='{"resourceType":"Observation","id":"o8","subject":{"reference":"Patient\\/p8"}}',
    ),
    _stored({"resourceType": "Practitioner", "id": "dr"}),
]


@pytest.mark.parametrize(
    ("elements", "summary"), [(None, None), (["id"], None), (None, "true"), (None, "data")]
)
def test_a_page_summary_equals_a_parse_of_the_bundle(
    elements: list[str] | None, summary: str | None
) -> None:
    page = SearchPage(matches=AWKWARD[:-1], included=AWKWARD[-1:], total=len(AWKWARD) - 1)
    bundle, shown = searchset(
        page,
        base="http://x/fhir",
        path="Observation",
        params=[],
        elements=elements,
        summary=summary,
    )
    assert shown == shown_in(orjson.loads(orjson.dumps(bundle)))
    if elements is None and summary is None:
        assert shown.patients == {"p1", "p2", "p4", "p5", "p6", "p8"}


def _entries(store: Store) -> int:
    with store.transaction() as tx:
        return int(tx.execute("SELECT COUNT(*) FROM access_audit")[0][0])


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_each_request_is_audited_once(
    http: TestClient, store: Store, tmp_path: Path, method: str
) -> None:
    # Reads are audited by their route, in the thread where they read; everything else by the
    # middleware. Either way one entry per request, never none and never two.
    headers = {"Authorization": f"Bearer {dev_token(tmp_path / 'data', PERSONAS['gp_a'])}"}
    for url, status in [
        ("/fhir/Patient/reg/$everything", 200),
        ("/fhir/Observation?subject=Patient/reg", 200),
        ("/fhir/Observation/reg-gp", 200),
        ("/fhir/Observation/no-such", 404),
        ("/fhir/Patient/no-such/$everything", 403),
    ]:
        before = _entries(store)
        response = http.request(method, url, headers=headers)
        assert response.status_code == status, (url, response.text)
        assert _entries(store) == before + 1, url
