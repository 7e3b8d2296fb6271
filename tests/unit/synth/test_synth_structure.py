"""The ICS structure: PCN size rule at full scale, the real practice-size distribution, and
a complete organisation set at any size."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from joinedup.synth.structure import PCN_MAX, PCN_MIN, plan_structure


@pytest.mark.parametrize(("people", "places"), [(900_000, 3), (1_500_000, 3), (2_400_000, 5)])
def test_every_pcn_serves_30k_to_50k_at_full_scale(people: int, places: int) -> None:
    plan = plan_structure(people, places, seed=7)
    assert plan.people == people
    assert len(plan.places) == places
    assert all(PCN_MIN <= pcn.list_size <= PCN_MAX for pcn in plan.pcns)
    for pcn in plan.pcns:
        assert sum(plan.practices[i].list_size for i in pcn.practices) == pcn.list_size


def test_practice_sizes_look_like_englands() -> None:
    plan = plan_structure(2_000_000, 4, seed=1)
    sizes = [p.list_size for p in plan.practices]
    # England (Jan 2021, practices in PCNs): median 8,030; the last practice drawn in each
    # PCN is a remainder, which pulls the median down a little.
    assert 5_000 <= statistics.median(sizes) <= 9_500
    per_pcn = [len(pcn.practices) for pcn in plan.pcns]
    assert 3 <= statistics.median(per_pcn) <= 8


def test_small_populations_keep_every_place_and_fewer_practices() -> None:
    plan = plan_structure(300, 3, seed=7)
    assert len(plan.places) == 3
    assert len(plan.practices) < 10
    assert plan.people == 300
    assert all(p.list_size > 0 for p in plan.practices)


def test_practice_of_follows_list_sizes() -> None:
    plan = plan_structure(5_000, 3, seed=2)
    counts: dict[int, int] = {}
    for serial in range(plan.people):
        index = plan.practice_of(serial).index
        counts[index] = counts.get(index, 0) + 1
    assert counts == {p.index: p.list_size for p in plan.practices}


ORG_ROLES = {
    "icb", "place", "pcn", "gp-practice", "acute-trust", "community-trust", "mental-health-trust",
    "community-rehab-service", "local-authority", "adult-social-care", "care-home",
}  # fmt: skip
STAFF = {
    "gp", "practice-nurse", "first-contact-practitioner", "physiotherapist",
    "occupational-therapist", "social-worker", "care-worker", "place-accountable-person",
}  # fmt: skip


def _codes(resource: dict[str, Any], key: str) -> set[str]:
    return {c["code"] for concept in resource.get(key, []) for c in concept["coding"]}


def test_full_organisation_set_even_when_small(
    small_resources: dict[str, list[dict[str, Any]]],
) -> None:
    orgs = small_resources["Organization"]
    roles = set().union(*(_codes(o, "type") for o in orgs))
    assert roles >= ORG_ROLES
    staff = set().union(*(_codes(r, "code") for r in small_resources["PractitionerRole"]))
    assert staff >= STAFF
    places = [o for o in orgs if "place" in _codes(o, "type")]
    assert len(places) == 3
    accountable = [
        r
        for r in small_resources["PractitionerRole"]
        if "place-accountable-person" in _codes(r, "code")
    ]
    assert sorted(r["organization"]["reference"] for r in accountable) == sorted(
        f"Organization/{p['id']}" for p in places
    )
    assert all(
        o["identifier"][0]["system"] == "https://fhir.nhs.uk/Id/ods-organization-code" for o in orgs
    )


def test_hierarchy_practice_pcn_place_icb(small_resources: dict[str, list[dict[str, Any]]]) -> None:
    by_id = {o["id"]: o for o in small_resources["Organization"]}

    def chain(org_id: str) -> list[str]:
        roles = []
        while True:
            org = by_id[org_id]
            roles.append(next(iter(_codes(org, "type") & ORG_ROLES)))
            if "partOf" not in org:
                return roles
            org_id = org["partOf"]["reference"].removeprefix("Organization/")

    practices = [i for i, o in by_id.items() if "gp-practice" in _codes(o, "type")]
    assert practices
    assert all(chain(i) == ["gp-practice", "pcn", "place", "icb"] for i in practices)


def test_output_has_one_file_per_type(small_ics: Path) -> None:
    names = {p.name for p in small_ics.iterdir()}
    assert {"Patient.ndjson", "Organization.ndjson", "Encounter.ndjson", "Consent.ndjson"} <= names
