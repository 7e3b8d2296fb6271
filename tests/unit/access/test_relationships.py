from typing import Any

from joinedup.access.relationships import (
    CARE_TEAM,
    ENCOUNTER,
    EPISODE,
    REFERRAL,
    REGISTERED,
    Relationship,
    relationships_of,
)
from joinedup.store.base import StoredResource

WHEN = "2026-01-01T00:00:00.000000+00:00"


def stored(resource: dict[str, Any], source_org: str | None = None) -> StoredResource:
    return StoredResource(
        resource["resourceType"], resource["id"], 1, WHEN, False, resource, source_org
    )


def test_registration_with_a_practice() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "generalPractitioner": [
            {"reference": "Organization/P81001"},
            {"reference": "Practitioner/gp-1"},
        ],
    }
    assert relationships_of(stored(patient)) == [
        Relationship("p1", REGISTERED, org="P81001"),
        Relationship("p1", REGISTERED, practitioner="Practitioner/gp-1"),
    ]


def test_finished_encounter_ends_at_period_end_and_cancelled_never_binds() -> None:
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "subject": {"reference": "Patient/p1"},
        "serviceProvider": {"reference": "Organization/RXX"},
        "period": {"end": "2025-03-01T10:00:00Z"},
    }
    found = relationships_of(stored(encounter, source_org="Organization/RXX"))
    assert found == [
        Relationship("p1", ENCOUNTER, org="RXX", ended="2025-03-01T10:00:00.000000+00:00")
    ]
    assert relationships_of(stored(encounter | {"status": "cancelled"})) == []
    open_one = relationships_of(stored(encounter | {"status": "in-progress"}))
    assert open_one == [Relationship("p1", ENCOUNTER, org="RXX")]


def test_episode_referral_and_care_team() -> None:
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": "ep",
        "status": "active",
        "patient": {"reference": "Patient/p1"},
        "managingOrganization": {"reference": "Organization/COMM"},
    }
    assert relationships_of(stored(episode)) == [Relationship("p1", EPISODE, org="COMM")]
    referral = {
        "resourceType": "ServiceRequest",
        "id": "sr",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Organization/PHYSIO"}],
    }
    assert set(relationships_of(stored(referral, source_org="GP1"))) == {
        Relationship("p1", REFERRAL, org="GP1"),
        Relationship("p1", REFERRAL, org="PHYSIO"),
    }
    team = {
        "resourceType": "CareTeam",
        "id": "ct",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "participant": [
            {"member": {"reference": "Practitioner/sw-1"}},
            {"member": {"reference": "Organization/LA1"}},
        ],
    }
    assert relationships_of(stored(team)) == [
        Relationship("p1", CARE_TEAM, practitioner="Practitioner/sw-1"),
        Relationship("p1", CARE_TEAM, org="LA1"),
    ]


def test_a_deletion_establishes_nothing() -> None:
    gone = StoredResource("Encounter", "e1", 2, WHEN, True, None, None)
    assert relationships_of(gone) == []
