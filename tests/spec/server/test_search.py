"""Search over HTTP: searchset Bundles, totals, paging links, includes, result shaping."""

from __future__ import annotations

from typing import Any

import httpx


def seed(client: httpx.Client) -> tuple[str, list[str]]:
    patient = client.post(
        "/fhir/Patient",
        json={
            "resourceType": "Patient",
            "name": [{"family": "Nwosu"}],
            "gender": "female",
            "birthDate": "1970-02-03",
            "photo": [{"contentType": "image/png"}],
        },
    ).json()
    observations = []
    for value in (60, 70, 80):
        observations.append(
            client.post(
                "/fhir/Observation",
                json={
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "subject": {"reference": f"Patient/{patient['id']}"},
                    "valueQuantity": {"value": value, "unit": "/min"},
                },
            ).json()["id"]
        )
    return patient["id"], observations


def links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


def test_search_returns_a_searchset_with_total_and_self(client: httpx.Client) -> None:
    patient_id, _ = seed(client)
    response = client.get("/fhir/Patient", params={"family": "nwosu"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    assert bundle["entry"][0]["search"] == {"mode": "match"}
    assert bundle["entry"][0]["fullUrl"] == f"http://record.test/fhir/Patient/{patient_id}"
    assert links(bundle)["self"].startswith("http://record.test/fhir/Patient?family=nwosu")


def test_paging_follows_next_and_previous(client: httpx.Client) -> None:
    _, observations = seed(client)
    first = client.get("/fhir/Observation", params={"code": "8867-4", "_count": "2"}).json()
    assert first["total"] == 3 and len(first["entry"]) == 2
    second = client.get(links(first)["next"]).json()
    assert len(second["entry"]) == 1
    assert "next" not in links(second)
    seen = {e["resource"]["id"] for e in first["entry"] + second["entry"]}
    assert seen == set(observations)
    back = client.get(links(second)["previous"]).json()
    assert [e["resource"]["id"] for e in back["entry"]] == [
        e["resource"]["id"] for e in first["entry"]
    ]


def test_include_entries_are_marked(client: httpx.Client) -> None:
    patient_id, _ = seed(client)
    bundle = client.get(
        "/fhir/Observation",
        params={"value-quantity": "gt65", "_include": "Observation:subject"},
    ).json()
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in bundle["entry"])
    assert modes == [("include", "Patient"), ("match", "Observation"), ("match", "Observation")]
    assert bundle["total"] == 2
    revinclude = client.get(
        "/fhir/Patient", params={"_id": patient_id, "_revinclude": "Observation:subject"}
    ).json()
    assert sum(e["search"]["mode"] == "include" for e in revinclude["entry"]) == 3


def test_post_search_matches_get(client: httpx.Client) -> None:
    seed(client)
    posted = client.post(
        "/fhir/Observation/_search",
        content="code=8867-4&value-quantity=lt75",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()
    got = client.get("/fhir/Observation", params={"code": "8867-4", "value-quantity": "lt75"})
    assert posted["total"] == got.json()["total"] == 2


def test_summary_and_elements(client: httpx.Client) -> None:
    seed(client)
    count = client.get("/fhir/Patient", params={"_summary": "count"}).json()
    assert count["total"] == 1 and "entry" not in count
    summary = client.get("/fhir/Patient", params={"_summary": "true"}).json()
    resource = summary["entry"][0]["resource"]
    assert "photo" not in resource and resource["birthDate"] == "1970-02-03"
    assert resource["meta"]["tag"][-1]["code"] == "SUBSETTED"
    elements = client.get("/fhir/Patient", params={"_elements": "gender"}).json()
    assert set(elements["entry"][0]["resource"]) == {"resourceType", "id", "meta", "gender"}


def test_unknown_parameters_lenient_and_strict(client: httpx.Client) -> None:
    seed(client)
    lenient = client.get("/fhir/Patient", params={"shoe-size": "9"})
    assert lenient.status_code == 200
    outcome = [e for e in lenient.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert "shoe-size" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    strict = client.get(
        "/fhir/Patient", params={"shoe-size": "9"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"


def test_invalid_search_syntax_is_a_400(client: httpx.Client) -> None:
    for params in (
        {"birthdate": "yesterday"},
        {"_count": "many"},
        {"_sort": "shoe"},
        {"_summary": "maybe"},
    ):
        response = client.get("/fhir/Patient", params=params)
        assert response.status_code == 400, params
        assert response.json()["resourceType"] == "OperationOutcome"


def test_everything_is_paged_and_complete(client: httpx.Client) -> None:
    patient_id, observations = seed(client)
    other, _ = seed(client)
    first = client.get(f"/fhir/Patient/{patient_id}/$everything", params={"_count": "2"}).json()
    # The person's four resources and the Provenance of each of their four writes.
    assert first["total"] == 8
    # Matches are the compartment; a page may add what they refer to as includes.
    matches = [e["resource"] for e in first["entry"] if e["search"]["mode"] == "match"]
    page = first
    while "next" in links(page):
        page = client.get(links(page)["next"]).json()
        matches += [e["resource"] for e in page["entry"] if e["search"]["mode"] == "match"]
    ids = [r["id"] for r in matches if r["resourceType"] != "Provenance"]
    assert sorted(ids) == sorted([patient_id, *observations])
    attested = {t["reference"].split("/")[1] for r in matches for t in r.get("target", [])}
    assert attested == {patient_id, *observations}
    assert other not in ids
    assert client.get("/fhir/Patient/nobody/$everything").status_code == 404


def test_bundle_entries_carry_the_stored_resources_unchanged(client: httpx.Client) -> None:
    # Searchset and history Bundles splice each resource's stored JSON in without parsing it:
    # every entry must still be exactly what a read returns.
    patient_id, observations = seed(client)
    client.put(
        f"/fhir/Observation/{observations[0]}",
        json={**client.get(f"/fhir/Observation/{observations[0]}").json(), "status": "amended"},
    )
    bundles = [
        client.get(f"/fhir/Patient/{patient_id}/$everything").json(),
        client.get("/fhir/Observation", params={"subject": f"Patient/{patient_id}"}).json(),
    ]
    for bundle in bundles:
        assert len(bundle["entry"]) == bundle["total"]
        for entry in bundle["entry"]:
            resource = entry["resource"]
            read = client.get(f"/fhir/{resource['resourceType']}/{resource['id']}").json()
            assert resource == read
    history = client.get(f"/fhir/Observation/{observations[0]}/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert history["entry"][0]["resource"]["status"] == "amended"
