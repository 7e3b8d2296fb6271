"""HEAD on every GET interaction, and JSON as the only format (406 and 415 otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from harness import in_process

from joinedup.access import audit
from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import Store
from security.access_world import PERSONAS, load

#: Headers a HEAD must repeat from its GET (those the GET gives).
REPEATED = ("etag", "last-modified", "content-type", "content-length", "content-location")


def seeded(client: httpx.Client) -> tuple[str, str]:
    patient = client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"})
    pid = patient.json()["id"]
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": f"Patient/{pid}"},
    }
    oid = client.post("/fhir/Observation", json=observation).json()["id"]
    client.put(f"/fhir/Observation/{oid}", json={**observation, "id": oid, "status": "amended"})
    return pid, oid


def test_head_answers_every_get_interaction_with_its_headers_and_no_body(
    client: httpx.Client,
) -> None:
    pid, oid = seeded(client)
    urls = [
        f"/fhir/Observation/{oid}",  # read
        f"/fhir/Observation/{oid}/_history/1",  # vread
        f"/fhir/Observation?subject=Patient/{pid}",  # search
        f"/fhir/Observation/{oid}/_history",  # history: instance, type, system
        "/fhir/Observation/_history",
        "/fhir/_history?_count=1",
        f"/fhir/Patient/{pid}/$everything",
        "/fhir/metadata",
    ]
    for url in urls:
        got = client.get(url)
        head = client.head(url)
        assert got.status_code == 200 and got.content, url
        assert head.status_code == 200, url
        assert head.content == b"", url
        for name in REPEATED:
            assert head.headers.get(name) == got.headers.get(name), (url, name)
    read = client.head(f"/fhir/Observation/{oid}")
    assert read.headers["etag"] == 'W/"2"'
    assert read.headers["content-type"].startswith("application/fhir+json")


def test_head_of_what_is_missing_or_deleted_has_get_s_status(client: httpx.Client) -> None:
    _, oid = seeded(client)
    assert client.head("/fhir/Observation/not-there").status_code == 404
    client.delete(f"/fhir/Observation/{oid}")
    for url in (f"/fhir/Observation/{oid}", f"/fhir/Observation/{oid}/_history/3"):
        assert client.get(url).status_code == 410
        gone = client.head(url)
        assert gone.status_code == 410 and gone.content == b""


def last_audit_event(store: Store) -> dict[str, Any]:
    with store.transaction() as tx:
        rows = tx.execute("SELECT entry FROM access_audit ORDER BY seq DESC LIMIT 1")
    return dict(orjson.loads(rows[0][0]))


def test_head_passes_the_policy_and_is_audited_as_a_read(store: Store, data_dir: Path) -> None:
    app = create_app(store, Settings(data_dir=data_dir))
    load(store)  # after create_app, so the access tables and hooks are in place
    with in_process(app) as http:
        # GP A may see reg's entries; the community physio has no relationship with reg.
        for persona, status in (("gp_a", 200), ("community_physio", 404)):
            token = dev_token(data_dir, PERSONAS[persona])
            headers = {"Authorization": f"Bearer {token}"}
            got = http.get("/fhir/Observation/reg-gp", headers=headers)
            before = audit.verify(store).entries
            head = http.head("/fhir/Observation/reg-gp", headers=headers)
            assert got.status_code == head.status_code == status, persona
            assert head.content == b""
            assert audit.verify(store).entries == before + 1
            event = last_audit_event(store)
            assert event["subtype"][0]["code"] == "read" and event["action"] == "R"
            assert event["agent"][0]["who"]["identifier"]["value"] == PERSONAS[persona].subject
            request = next(e for e in event["entity"] if e.get("type", {}).get("code") == "request")
            assert request["description"] == "HEAD /fhir/Observation/reg-gp"
            shown = {"what": {"reference": "Observation/reg-gp"}} in event["entity"]
            assert shown == (status == 200)


# --- JSON only ---------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/fhir+xml", "application/xml", "text/xml"])
def test_an_xml_body_is_refused_with_415(client: httpx.Client, content_type: str) -> None:
    body = b'<Patient xmlns="http://hl7.org/fhir"><gender value="male"/></Patient>'
    for method, url in (("POST", "/fhir/Patient"), ("PUT", "/fhir/Patient/p1"), ("POST", "/fhir")):
        refused = client.request(method, url, content=body, headers={"Content-Type": content_type})
        assert refused.status_code == 415, (method, url)
        outcome = refused.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert "JSON" in outcome["issue"][0]["diagnostics"]
    assert client.get("/fhir/Patient").json()["total"] == 0


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/fhir+xml", 406),
        ("application/xml", 406),
        ("text/xml, application/fhir+xml;q=0.9", 406),
        ("application/fhir+json;q=0, application/fhir+xml", 406),
        ("text/html", 406),
        ("application/fhir+json", 200),
        ("application/json", 200),
        ("application/json+fhir", 200),
        ("*/*", 200),
        ("application/fhir+xml, application/fhir+json;q=0.5", 200),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200),
    ],
)
def test_accept_needs_json_to_be_acceptable(client: httpx.Client, accept: str, status: int) -> None:
    pid, _ = seeded(client)
    for url in (f"/fhir/Patient/{pid}", "/fhir/Patient", "/fhir/metadata", "/fhir/_history"):
        response = client.get(url, headers={"Accept": accept})
        assert response.status_code == status, url
        is_outcome = response.json()["resourceType"] == "OperationOutcome"
        assert is_outcome == (status == 406), url


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("xml", 406),
        ("application/fhir+xml", 406),
        ("application/xml", 406),
        ("text/xml", 406),
        ("ttl", 406),
        ("json", 200),
        ("application/fhir+json", 200),
        ("application/fhir json", 200),  # an unencoded "+" arrives as a space
        ("application/json", 200),
        ("application/json+fhir", 200),
    ],
)
def test_format_parameter_overrides_accept(client: httpx.Client, value: str, status: int) -> None:
    pid, _ = seeded(client)
    # _format wins over Accept (R4 http.html#mime), either way round.
    accept = "application/fhir+xml" if status == 200 else "application/fhir+json"
    for url in (f"/fhir/Patient/{pid}", "/fhir/Patient", "/fhir/metadata"):
        response = client.get(url, params={"_format": value}, headers={"Accept": accept})
        assert response.status_code == status, url
        if status == 406:
            outcome = response.json()
            assert outcome["issue"][0]["expression"] == ["_format"]
    if status == 200:  # and _format is no search parameter
        found = client.get("/fhir/Patient", params={"_format": value, "gender": "male"}).json()
        assert found["total"] == 1 and "OperationOutcome" not in str(found)


def test_the_capability_statement_offers_json_only(client: httpx.Client) -> None:
    statement = client.get("/fhir/metadata").json()
    assert statement["format"]
    assert all("json" in value for value in statement["format"])
    assert not any("xml" in value for value in statement["format"])
