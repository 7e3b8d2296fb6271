"""Bundle processing without a store: order, reference resolution, all-or-nothing, batch."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from joinedup.fhir.bundle import (
    EntryRequest,
    EntryResponse,
    Written,
    parse_bundle,
    parse_url,
    process,
)
from joinedup.fhir.outcome import FHIRError


class MemoryExecutor:
    """Resources in a dict; a unit of work restores the dict when its block raises."""

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.performed: list[str] = []
        self.attested: list[list[str]] = []

    @contextmanager
    def unit(self) -> Iterator[None]:
        saved = copy.deepcopy(self.resources)
        try:
            yield None
        except BaseException:
            self.resources = saved
            raise

    def find(self, unit: Any, resource_type: str, params: list[tuple[str, str]]) -> list[str]:
        wanted = dict(params).get("identifier", "").split("|")[-1]
        return [
            id
            for (kind, id), resource in self.resources.items()
            if kind == resource_type
            and any(i.get("value") == wanted for i in resource.get("identifier", []))
        ]

    def perform(self, unit: Any, request: EntryRequest) -> EntryResponse:
        target = request.target
        self.performed.append(f"{request.method} {target.resource_type}")
        assert target.resource_type is not None
        if request.method == "DELETE":
            gone = self.resources.pop((target.resource_type, str(target.id)), None)
            reference = f"{target.resource_type}/{target.id}/_history/2"
            written = Written(reference, "DELETE", "now") if gone else None
            return EntryResponse(204, written=written)
        if request.method == "GET":
            found = self.resources.get((target.resource_type, str(target.id)))
            if found is None:
                raise FHIRError("not known", status=404, code="not-found")
            return EntryResponse(200, found)
        id = request.assigned_id or target.id or f"batch{len(self.resources) + 1}"
        resource = {**request.body, "id": id}
        if resource.get("status") == "fail":
            raise FHIRError("refused", expression=f"{resource['resourceType']}.status")
        self.resources[(target.resource_type, id)] = resource
        location = f"{target.resource_type}/{id}/_history/1"
        return EntryResponse(
            201, resource, location=location, written=Written(location, "CREATE", "now")
        )

    def attest(self, unit: Any, written: list[Written]) -> None:
        self.attested.append([w.reference for w in written])


def transaction(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource: dict[str, Any], full_url: str | None = None, **request: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def counter() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"id{n}"


def run(bundle: dict[str, Any], executor: MemoryExecutor) -> dict[str, Any]:
    ids = counter()
    return process(parse_bundle(bundle), executor, new_id=lambda: next(ids))


def test_urn_uuid_references_resolve_to_the_allocated_ids() -> None:
    executor = MemoryExecutor()
    patient_url = "urn:uuid:6f1a5a2e-6a0c-4b7a-9b8c-2f8d2c7e0001"
    bundle = transaction(
        post(
            {"resourceType": "Observation", "subject": {"reference": patient_url}},
            "urn:uuid:6f1a5a2e-6a0c-4b7a-9b8c-2f8d2c7e0002",
        ),
        post({"resourceType": "Patient"}, patient_url),
    )
    response = run(bundle, executor)
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 2
    observation = executor.resources[("Observation", "id1")]
    assert observation["subject"] == {"reference": "Patient/id2"}
    assert ("Patient", "id2") in executor.resources


def test_processing_order_is_delete_post_put_get() -> None:
    executor = MemoryExecutor()
    executor.resources[("Patient", "old")] = {"resourceType": "Patient", "id": "old"}
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient/old"}},
        {
            "resource": {"resourceType": "Patient", "id": "p9"},
            "request": {"method": "PUT", "url": "Patient/p9"},
        },
        post({"resourceType": "Patient"}),
        {"request": {"method": "DELETE", "url": "Patient/gone"}},
    )
    response = run(bundle, executor)
    assert executor.performed == ["DELETE Patient", "POST Patient", "PUT Patient", "GET Patient"]
    statuses = [entry["response"]["status"] for entry in response["entry"]]
    assert statuses == ["200 OK", "201 Created", "201 Created", "204 No Content"]


def test_a_failing_entry_undoes_the_whole_transaction() -> None:
    executor = MemoryExecutor()
    bundle = transaction(
        post({"resourceType": "Patient"}),
        post({"resourceType": "Observation", "status": "fail"}),
    )
    with pytest.raises(FHIRError) as caught:
        run(bundle, executor)
    assert executor.resources == {}
    assert caught.value.expression == ["Bundle.entry[1].resource.status"]


def test_a_transaction_attests_all_its_writes_once_in_processing_order() -> None:
    executor = MemoryExecutor()
    executor.resources[("Patient", "old")] = {"resourceType": "Patient", "id": "old"}
    bundle = transaction(
        post({"resourceType": "Patient"}),
        {"request": {"method": "GET", "url": "Patient/id1"}},
        {"request": {"method": "DELETE", "url": "Patient/old"}},
        {"request": {"method": "DELETE", "url": "Patient/never"}},
    )
    run(bundle, executor)
    assert executor.attested == [["Patient/old/_history/2", "Patient/id1/_history/1"]]


def test_a_failing_transaction_attests_nothing() -> None:
    executor = MemoryExecutor()
    bundle = transaction(
        post({"resourceType": "Patient"}),
        post({"resourceType": "Observation", "status": "fail"}),
    )
    with pytest.raises(FHIRError):
        run(bundle, executor)
    assert executor.attested == []


def test_batch_entries_are_attested_one_by_one() -> None:
    executor = MemoryExecutor()
    bundle = transaction(
        post({"resourceType": "Patient"}),
        post({"resourceType": "Observation", "status": "fail"}),
        post({"resourceType": "Patient"}),
        {"request": {"method": "GET", "url": "Patient/batch1"}},
        kind="batch",
    )
    run(bundle, executor)
    assert executor.attested == [["Patient/batch1/_history/1"], ["Patient/batch2/_history/1"]]


def test_a_batch_entry_fails_alone() -> None:
    executor = MemoryExecutor()
    bundle = transaction(
        post({"resourceType": "Observation", "status": "fail"}),
        post({"resourceType": "Patient"}),
        kind="batch",
    )
    response = run(bundle, executor)
    assert response["type"] == "batch-response"
    first, second = response["entry"]
    assert first["response"]["status"] == "400 Bad Request"
    assert first["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert second["response"]["status"] == "201 Created"
    assert [kind for kind, _ in executor.resources] == ["Patient"]


def test_conditional_create_and_conditional_reference_find_the_existing_resource() -> None:
    executor = MemoryExecutor()
    executor.resources[("Organization", "org1")] = {
        "resourceType": "Organization",
        "id": "org1",
        "identifier": [{"system": "ods", "value": "A81001"}],
    }
    bundle = transaction(
        post(
            {"resourceType": "Organization", "identifier": [{"system": "ods", "value": "A81001"}]},
            "urn:uuid:0f000000-0000-4000-8000-000000000001",
            ifNoneExist="identifier=ods|A81001",
        ),
        post(
            {
                "resourceType": "Encounter",
                "serviceProvider": {"reference": "urn:uuid:0f000000-0000-4000-8000-000000000001"},
                "participant": [
                    {"individual": {"reference": "Organization?identifier=ods|A81001"}}
                ],
            }
        ),
    )
    run(bundle, executor)
    encounter = next(r for (kind, _), r in executor.resources.items() if kind == "Encounter")
    assert encounter["serviceProvider"] == {"reference": "Organization/org1"}
    assert encounter["participant"][0]["individual"] == {"reference": "Organization/org1"}


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ({"resourceType": "Patient"}, "takes a Bundle"),
        ({"resourceType": "Bundle", "type": "collection"}, "batch' or 'transaction"),
        (transaction({"resource": {"resourceType": "Patient"}}), "request is required"),
        (transaction({"request": {"method": "BREW", "url": "Patient"}}), "method must be"),
        (
            transaction(
                post({"resourceType": "Encounter", "subject": {"reference": "urn:uuid:nowhere"}})
            ),
            "no entry of this Bundle",
        ),
        (
            transaction(
                post({"resourceType": "Patient"}, "urn:uuid:a"),
                post({"resourceType": "Patient"}, "urn:uuid:a"),
            ),
            "used by two entries",
        ),
        (
            transaction(
                {"request": {"method": "GET", "url": "https://elsewhere.example/fhir/Patient/1"}}
            ),
            "relative",
        ),
    ],
)
def test_malformed_bundles_are_refused(bundle: dict[str, Any], message: str) -> None:
    with pytest.raises(FHIRError, match=message):
        run(bundle, MemoryExecutor())


def test_parse_url_forms() -> None:
    assert parse_url("Patient/1/_history/2").version == "2"
    assert parse_url("Patient?identifier=a|b").params == [("identifier", "a|b")]
    assert parse_url("Patient?identifier=a|b").conditional
    assert parse_url("_history").history
    assert parse_url("Patient/1/$everything").operation == "$everything"
    with pytest.raises(FHIRError):
        parse_url("Spaceship/1")
