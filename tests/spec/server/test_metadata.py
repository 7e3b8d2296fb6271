"""The CapabilityStatement and the OpenAPI description tell the truth."""

from __future__ import annotations

import httpx

from joinedup.fhir.search_parameters import resource_types, search_parameters


def test_capability_statement_lists_what_is_supported(client: httpx.Client) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    # Measure is the published outcomes library (read-only), not a record type.
    assert {r["type"] for r in rest["resource"]} == set(resource_types()) | {"Measure"}
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {p["name"] for p in patient["searchParam"]} == set(search_parameters("Patient"))
    assert {"read", "vread", "create", "update", "patch", "delete"} <= {
        i["code"] for i in patient["interaction"]
    }
    assert {i["code"] for i in rest["interaction"]} == {
        "transaction",
        "batch",
        "search-system",
        "history-system",
    }
    # The search across types takes the common parameters, full text included.
    assert {p["name"] for p in rest["searchParam"]} == set(search_parameters("Resource"))
    assert {"_text", "_content", "_tag", "_source"} <= {p["name"] for p in rest["searchParam"]}


def test_every_capability_search_parameter_is_accepted(client: httpx.Client) -> None:
    statement = client.get("/fhir/metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    for param in patient["searchParam"]:
        response = client.get(
            "/fhir/Patient",
            params={f"{param['name']}:missing": "true"},
            headers={"Prefer": "handling=strict"},
        )
        assert response.status_code == 200, param["name"]


def test_openapi_documents_the_fhir_routes_truthfully(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/fhir/metadata",
        "/fhir/{resource_type}",
        "/fhir/{resource_type}/{id}",
        "/fhir/Patient/{id}/$everything",
        "/fhir",
    } <= set(paths)
    assert "HTTPValidationError" not in str(schema)
    read = paths["/fhir/{resource_type}/{id}"]["get"]
    assert "application/fhir+json" in read["responses"]["200"]["content"]
