"""Demo personas: one person of each kind, found in the record's own directory.

The synthetic ICS (docs/synthetic-data.md) gives every member of staff a PractitionerRole
coded with the local staff-role system; a persona is the first role of each kind, acting
for that role's organisation. The patient persona is someone registered with the GP's
practice, so the GP persona has a relationship with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from joinedup.access.principal import Principal, Role
from joinedup.access.references import ods_code, reference_id
from joinedup.access.scopes import ScopeSet
from joinedup.store import NotFound, parse_search
from joinedup.store.base import Store


@dataclass(frozen=True)
class Persona:
    key: str
    title: str
    description: str
    principal: Principal
    home: str
    """Where the persona starts after signing in."""


#: (key, staff-role code(s), role, title, description)
_STAFF = (
    ("gp", ("gp",), Role.CLINICIAN, "A GP", "sees the people registered with their practice"),
    (
        "physio",
        ("physiotherapist", "first-contact-practitioner"),
        Role.CLINICIAN,
        "A physiotherapist",
        "sees people referred to or treated by their service",
    ),
    (
        "social-worker",
        ("social-worker",),
        Role.SOCIAL_CARE,
        "A social worker",
        "sees people whose care team they are in",
    ),
    (
        "place-leader",
        ("place-accountable-person",),
        Role.PLACE_LEADER,
        "A Place leader",
        "sees the Place's outcomes, not people's records",
    ),
)


def find_personas(store: Store) -> list[Persona]:
    found: list[Persona] = []
    gp_practice: str | None = None
    place_org: str | None = None
    for key, codes, role, title, description in _STAFF:
        match = _first_role(store, codes)
        if match is None:
            continue
        practitioner, org_id, ods = match
        if key == "gp":
            gp_practice = org_id
        if key == "place-leader":
            place_org = ods
        scope = "user/*.rs" if role is Role.PLACE_LEADER else "user/*.cruds"
        principal = Principal(
            subject=practitioner,
            role=role,
            scopes=ScopeSet.parse(scope),
            org=ods,
            practitioner=practitioner,
            name=title,
        )
        found.append(Persona(key, title, description, principal, "/web/people"))
    if place_org is not None:
        analyst = Principal("analyst-1", Role.ANALYST, ScopeSet.parse("user/*.rs"), org=place_org)
        found.append(
            Persona(
                "analyst",
                "An analyst",
                "works on de-identified snapshots; no identifiable records",
                analyst,
                "/web/people",
            )
        )
    patient = _registered_patient(store, gp_practice) if gp_practice else None
    if patient is not None:
        citizen = Principal(
            subject=patient,
            role=Role.CITIZEN,
            scopes=ScopeSet.parse("patient/*.rs patient/Consent.cruds"),
            patient=patient,
        )
        found.append(
            Persona(
                "patient",
                "A patient",
                "sees their own record, who looked at it, and their choices",
                citizen,
                "/web/me",
            )
        )
    return found


def _first_role(store: Store, codes: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(practitioner id, organisation id, its ODS code) of the first role with one of codes."""
    query = parse_search(
        "PractitionerRole", [("role", ",".join(codes)), ("_sort", "_id"), ("_count", "1")]
    )
    for role in store.search(query).matches:
        resource = role.resource or {}
        practitioner = reference_id(resource.get("practitioner"), "Practitioner")
        org_id = reference_id(resource.get("organization"), "Organization")
        if practitioner is None or org_id is None:
            continue
        try:
            organisation = store.read("Organization", org_id).resource or {}
        except NotFound:
            continue
        return practitioner, org_id, ods_code(organisation) or org_id
    return None


def _registered_patient(store: Store, practice_id: str) -> str | None:
    query = parse_search(
        "Patient",
        [
            ("general-practitioner", f"Organization/{practice_id}"),
            ("_sort", "_id"),
            ("_count", "1"),
        ],
    )
    matches = store.search(query).matches
    return matches[0].id if matches else None
