"""Patient/$everything: the whole Patient compartment (R4 CompartmentDefinition), paged."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.fhir.outcome import FHIRError
from joinedup.store import Gone, NotFound, Store, reading
from joinedup.store.search.execute import encode_cursor


class NoOrganizations:
    """Denies every Organization."""

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        return f"{alias}.resource_type <> ?", ["Organization"]


class NoPatients:
    """Denies every Patient (and nothing else)."""

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        return f"{alias}.resource_type <> ?", ["Patient"]


def _resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1"},
        {"resourceType": "Patient", "id": "p2"},
        {"resourceType": "Organization", "id": "org"},
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"},
            "serviceProvider": {"reference": "Organization/org"},
        },
        {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"}},
        {
            "resourceType": "Immunization",
            "id": "i1",
            "status": "completed",
            "vaccineCode": {"text": "flu"},
            "patient": {"reference": "Patient/p2"},
            "occurrenceDateTime": "2020",
        },
        {
            "resourceType": "Group",
            "id": "g1",
            "type": "person",
            "actual": True,
            "member": [
                {"entity": {"reference": "Patient/p1"}},
                {"entity": {"reference": "Patient/p2"}},
            ],
        },
    ]
    # p3: two encounters at the same practice, seen by the same practitioner, and an
    # Observation pointing at one of them (a compartment member, so never an include).
    out += [
        {"resourceType": "Patient", "id": "p3"},
        {"resourceType": "Practitioner", "id": "dr"},
        *(
            {
                "resourceType": "Encounter",
                "id": encounter,
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": "Patient/p3"},
                "serviceProvider": {"reference": "Organization/org"},
                "participant": [{"individual": {"reference": "Practitioner/dr"}}],
            }
            for encounter in ("e3a", "e3b")
        ),
        {
            "resourceType": "Observation",
            "id": "p3-obs",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/p3"},
            "encounter": {"reference": "Encounter/e3a"},
        },
    ]
    out += [
        {
            "resourceType": "Observation",
            "id": f"o{i}",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2021-01-01",
        }
        for i in range(23)
    ]
    return out


@pytest.fixture(scope="module")
def record(shared_store: Store) -> Store:
    shared_store.bulk_load(_resources())
    return shared_store


def test_everything_is_complete_across_pages(record: Store) -> None:
    seen: list[str] = []
    cursor = None
    totals = set()
    while True:
        page = record.everything("p1", count=10, cursor=cursor)
        totals.add(page.total)
        seen += [f"{m.resource_type}/{m.id}" for m in page.matches]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = {"Patient/p1", "Encounter/e1", "AllergyIntolerance/a1", "Group/g1"} | {
        f"Observation/o{i}" for i in range(23)
    }
    assert set(seen) == expected and len(seen) == len(expected)
    assert totals == {len(expected)}


def test_everything_includes_what_the_compartment_refers_to(record: Store) -> None:
    page = record.everything("p1", types=["Encounter"])
    assert [m.id for m in page.matches] == ["e1"]
    # The Patient is a compartment member (a match on its own page), the practice is not.
    assert [f"{r.resource_type}/{r.id}" for r in page.included] == ["Organization/org"]


def test_everything_narrowed_by_type_and_since(record: Store) -> None:
    page = record.everything("p2", types=["Immunization"])
    assert [m.id for m in page.matches] == ["i1"]
    assert record.everything("p2", since="2999-01-01T00:00:00+00:00").total == 0


def test_everything_of_unknown_patient(record: Store) -> None:
    with pytest.raises(NotFound):
        record.everything("nobody")


def test_everything_of_a_patient_the_caller_may_not_see_or_that_was_deleted(
    record: Store,
) -> None:
    # p1's Observations are allowed; the Patient is not, so the compartment is not found.
    with pytest.raises(NotFound):
        record.everything("p1", restriction=NoPatients())
    record.bulk_load([{"resourceType": "Patient", "id": "gone"}])
    record.delete("Patient", "gone")
    with pytest.raises(Gone):
        record.everything("gone")


def test_everything_includes_each_referenced_resource_once_and_no_members(record: Store) -> None:
    page = record.everything("p3")
    assert sorted(m.id for m in page.matches) == ["e3a", "e3b", "p3", "p3-obs"]
    # Both encounters point at the practice and the practitioner: each comes once. The
    # Observation's encounter and everyone's subject are members, so never includes.
    assert sorted(f"{r.resource_type}/{r.id}" for r in page.included) == [
        "Organization/org",
        "Practitioner/dr",
    ]
    second = record.everything("p3", count=2, cursor=record.everything("p3", count=2).next_cursor)
    assert [m.id for m in second.matches] == ["e3b", "p3-obs"]
    assert sorted(r.id for r in second.included) == ["dr", "org"]


def test_everything_includes_in_store_order_however_many_lookups_it_takes(
    record: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = [f"{r.resource_type}/{r.id}" for r in record.everything("p3").included]
    monkeypatch.setattr(reading, "TARGETS_PER_QUERY", 1)
    one_by_one = [f"{r.resource_type}/{r.id}" for r in record.everything("p3").included]
    # The practice was stored before the practitioner.
    assert whole == one_by_one == ["Organization/org", "Practitioner/dr"]


def test_everything_includes_only_what_the_restriction_allows(record: Store) -> None:
    page = record.everything("p3", restriction=NoOrganizations())
    assert [f"{r.resource_type}/{r.id}" for r in page.included] == ["Practitioner/dr"]


def test_everything_rejects_a_cursor_it_did_not_make(record: Store) -> None:
    with pytest.raises(FHIRError) as raised:
        record.everything("p1", cursor=encode_cursor("n", ["not-a-position"]))
    assert raised.value.status == 400
