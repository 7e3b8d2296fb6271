"""The access-restriction hook narrows every read path: nothing denied is counted, paged,
included, chained through or revealed to exist."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.store import NotFound, Store, parse_search


class OnlyPatients:
    """Allows resources in the compartment of the given patients (and nothing else)."""

    def __init__(self, *patient_ids: str) -> None:
        self.patient_ids = patient_ids

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        marks = ", ".join("?" for _ in self.patient_ids)
        return (
            f"{alias}.pk IN (SELECT pc.resource_pk FROM patient_compartment pc "
            f"WHERE pc.patient_id IN ({marks}))",
            list(self.patient_ids),
        )


def obs(oid: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture(scope="module")
def record(shared_store: Store) -> Store:
    shared_store.bulk_load(
        [
            {"resourceType": "Patient", "id": "seen", "name": [{"family": "Shown"}]},
            {"resourceType": "Patient", "id": "hidden", "name": [{"family": "Secret"}]},
            obs("o-seen", "seen"),
            obs("o-hidden", "hidden"),
            {
                "resourceType": "Provenance",
                "id": "pv",
                "recorded": "2024-01-01T00:00:00Z",
                "target": [{"reference": "Observation/o-hidden"}, {"reference": "Patient/hidden"}],
            },
        ]
    )
    shared_store.update({"resourceType": "Patient", "id": "hidden", "gender": "female"})
    return shared_store


ALLOW = OnlyPatients("seen")


def test_read_vread_history_look_missing(record: Store) -> None:
    assert record.read("Patient", "seen", restriction=ALLOW).id == "seen"
    for call in (
        lambda: record.read("Patient", "hidden", restriction=ALLOW),
        lambda: record.vread("Patient", "hidden", 1, restriction=ALLOW),
        lambda: record.history("Patient", "hidden", restriction=ALLOW),
    ):
        with pytest.raises(NotFound):
            call()
    system = record.history(restriction=ALLOW)
    assert {e.id for e in system.entries} == {"seen", "o-seen"}
    assert system.total == 2


def test_search_totals_and_paging_exclude_denied(record: Store) -> None:
    page = record.search(parse_search("Observation", [("code", "8480-6")]), restriction=ALLOW)
    assert [m.id for m in page.matches] == ["o-seen"] and page.total == 1
    counted = record.search(parse_search("Patient", [("_summary", "count")]), restriction=ALLOW)
    assert counted.total == 1


def test_includes_chains_and_has_exclude_denied(record: Store) -> None:
    def run(resource_type: str, *params: tuple[str, str]) -> Any:
        return record.search(parse_search(resource_type, list(params)), restriction=ALLOW)

    included = run("Observation", ("_include", "Observation:subject"))
    assert [r.id for r in included.included] == ["seen"]
    assert run("Observation", ("subject:Patient.name", "secret")).matches == []
    assert run("Patient", ("_has:Observation:subject:code", "8480-6")).total == 1
    assert run("Patient", ("_has:Provenance:target:recorded", "2024")).total == 0
    assert run("Patient", ("_revinclude", "Provenance:target")).included == []
    # Unrestricted, the same searches do see the hidden patient's data.
    unrestricted = record.search(
        parse_search("Patient", [("_has:Provenance:target:recorded", "2024")])
    )
    assert [m.id for m in unrestricted.matches] == ["hidden"]


def test_everything_and_iteration_respect_restriction(record: Store) -> None:
    with pytest.raises(NotFound):
        record.everything("hidden", restriction=ALLOW)
    page = record.everything("seen", restriction=ALLOW)
    assert sorted(m.id for m in page.matches) == ["o-seen", "seen"]
    assert sorted(r.id for r in record.iter_resources(restriction=ALLOW)) == ["o-seen", "seen"]
