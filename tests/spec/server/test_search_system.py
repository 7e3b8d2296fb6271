"""The search across types and the newer search features over HTTP, on every store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

STRICT = {"Prefer": "handling=strict"}


def _post(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


def _seed(client: httpx.Client) -> dict[str, str]:
    patient = _post(
        client,
        {
            "resourceType": "Patient",
            "name": [{"family": "Okafor", "given": ["Ada"]}],
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">Housebound; carer visits</div>',
            },
        },
    )
    condition = _post(
        client,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{patient}"},
            "code": {"text": "Chronic obstructive pulmonary disease"},
        },
    )
    location = _post(
        client,
        {
            "resourceType": "Location",
            "name": "Seacroft Hospital",
            "position": {"latitude": 53.8194, "longitude": -1.4597},
        },
    )
    return {"patient": patient, "condition": condition, "location": location}


def test_type_search_answers_a_searchset_across_types(client: httpx.Client) -> None:
    made = _seed(client)
    response = client.get(
        "/fhir", params={"_type": "Patient,Condition,Location", "_count": "2", "_sort": "_id"}
    )
    assert response.status_code == 200
    first = response.json()
    assert first["type"] == "searchset" and first["total"] == 3
    assert links(first)["self"].startswith("http://record.test/fhir?_type=")
    found = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in first["entry"]]
    second = client.get(links(first)["next"]).json()
    found += [(e["resource"]["resourceType"], e["resource"]["id"]) for e in second["entry"]]
    assert sorted(found) == sorted((kind.capitalize(), made[kind]) for kind in made)
    fulls = {e["fullUrl"] for e in first["entry"]}
    assert all(url.startswith("http://record.test/fhir/") for url in fulls)


def test_post_search_across_types_matches_get(client: httpx.Client) -> None:
    _seed(client)
    params = {"_type": "Patient,Condition", "_sort": "_id"}
    got = client.get("/fhir", params=params).json()
    posted = client.post(
        "/fhir/_search",
        content="_type=Patient,Condition&_sort=_id",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["total"] == got["total"] == 2
    assert [e["fullUrl"] for e in posted.json()["entry"]] == [e["fullUrl"] for e in got["entry"]]
    refused = client.post(
        "/fhir/_search", json={"_type": "Patient"}, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 415


def test_text_content_and_near_over_http(client: httpx.Client) -> None:
    made = _seed(client)
    bundle = client.get(
        "/fhir", params={"_type": "Patient,Condition", "_content": "pulmonary disease"}
    ).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [made["condition"]]
    bundle = client.get("/fhir/Patient", params={"_text": "housebound"}).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [made["patient"]]
    bundle = client.get("/fhir/Location", params={"near": "53.8017|-1.5525|8|km"}).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [made["location"]]
    bundle = client.get("/fhir/Location", params={"near": "53.8017|-1.5525|5|km"}).json()
    assert bundle["total"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/fhir", {"_type": "Patient,Unicorn"}),
        ("/fhir", {"_type": "Patient", "family": "okafor"}),
        ("/fhir/Condition", {"code:below": "http://snomed.info/sct|13645005"}),
        ("/fhir/Condition", {"code:in": "http://example.org/ValueSet/none"}),
        ("/fhir/Condition", {"code:sideways": "x"}),
        ("/fhir/Patient", {"_content:contains": "ada"}),
        ("/fhir/Location", {"near": "200|0|1|km"}),
    ],
)
def test_what_cannot_be_answered_is_a_400_outcome(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params, headers=STRICT)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"]


def test_token_in_a_value_set_stored_through_the_api(client: httpx.Client) -> None:
    made = _seed(client)
    coded = _post(
        client,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{made['patient']}"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "13645005"}]},
        },
    )
    _post(
        client,
        {
            "resourceType": "ValueSet",
            "url": "http://example.org/fhir/ValueSet/copd",
            "status": "active",
            "compose": {
                "include": [{"system": "http://snomed.info/sct", "concept": [{"code": "13645005"}]}]
            },
        },
    )
    bundle = client.get(
        "/fhir/Condition", params={"code:in": "http://example.org/fhir/ValueSet/copd"}
    ).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [coded]
    bundle = client.get(
        "/fhir/Condition", params={"code:not-in": "http://example.org/fhir/ValueSet/copd"}
    ).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [made["condition"]]
