"""Legitimate relationships, materialised at write time into ``access_relationship``.

A direct-care user has a relationship with a person when the person is registered with their
practice (or a practice in their PCN), has an open or recently ended episode, encounter or
referral with their organisation, or has them (or their organisation) in a CareTeam. Each
row remembers the resource it came from, so an update or delete of that resource replaces
or removes exactly its rows. Organizations are mirrored into ``access_org`` so an ODS code
in a token can be matched to the Organization ids that references use, and a PCN to its
practices.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from joinedup.access.references import (
    ods_code,
    organisation_key,
    practitioner_key,
    reference_id,
    utc_instant,
)
from joinedup.store.base import StoredResource, StoreExtension, Transaction, WriteOperation

REGISTERED = "registered"
ENCOUNTER = "encounter"
EPISODE = "episode"
REFERRAL = "referral"
CARE_TEAM = "careteam"

_TABLES = [
    "CREATE TABLE IF NOT EXISTS access_relationship ("
    " source_type TEXT NOT NULL, source_id TEXT NOT NULL, patient_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, org TEXT, practitioner TEXT, ended TEXT)",
    "CREATE INDEX IF NOT EXISTS access_relationship_patient"
    " ON access_relationship (patient_id, kind)",
    "CREATE INDEX IF NOT EXISTS access_relationship_source"
    " ON access_relationship (source_type, source_id)",
    # The policy looks relationships up by the user's organisation or staff reference; without
    # these every restricted query would scan the whole table (one row per registration,
    # encounter, episode, referral and care team member in the ICS).
    "CREATE INDEX IF NOT EXISTS access_relationship_org"
    " ON access_relationship (org, kind, ended, patient_id)",
    "CREATE INDEX IF NOT EXISTS access_relationship_practitioner"
    " ON access_relationship (practitioner, kind, ended, patient_id)",
    "CREATE TABLE IF NOT EXISTS access_org ( org_id TEXT PRIMARY KEY, ods TEXT, parent_id TEXT)",
    "CREATE INDEX IF NOT EXISTS access_org_ods ON access_org (ods)",
    "CREATE INDEX IF NOT EXISTS access_org_parent ON access_org (parent_id)",
]

#: Statuses after which an episode, encounter or referral no longer binds (cancelled or
#: recorded in error: there never was care).
_NEVER = {"cancelled", "entered-in-error", "revoked"}
_ENDED = {"finished", "completed", "inactive"}


@dataclass(frozen=True)
class Relationship:
    patient_id: str
    kind: str
    org: str | None = None
    practitioner: str | None = None
    ended: str | None = None
    """When the episode/encounter/referral ended (UTC text); None while it is open."""


def relationships_of(stored: StoredResource) -> list[Relationship]:
    """The relationships one resource version establishes (none for a deletion)."""
    resource = stored.resource
    if resource is None or stored.deleted:
        return []
    extract = _EXTRACTORS.get(stored.resource_type)
    return list(extract(resource, stored)) if extract else []


def _patient(resource: dict[str, Any], field: str) -> str | None:
    return reference_id(resource.get(field), "Patient")


def _ended(resource: dict[str, Any], stored: StoredResource) -> tuple[bool, str | None]:
    """(binds at all, end instant or None while open)."""
    status = resource.get("status")
    if status in _NEVER:
        return False, None
    if status in _ENDED:
        period = resource.get("period") or {}
        return True, utc_instant(period.get("end")) or stored.last_updated
    return True, None


def _from_patient(resource: dict[str, Any], stored: StoredResource) -> Iterator[Relationship]:
    for practice in resource.get("generalPractitioner") or []:
        org = organisation_key(practice)
        if org is not None:
            yield Relationship(stored.id, REGISTERED, org=org)
        practitioner = practitioner_key(practice)
        if practitioner is not None:
            yield Relationship(stored.id, REGISTERED, practitioner=practitioner)


def _from_encounter(resource: dict[str, Any], stored: StoredResource) -> Iterator[Relationship]:
    patient = _patient(resource, "subject")
    binds, ended = _ended(resource, stored)
    if patient is None or not binds:
        return
    for org in _orgs(organisation_key(resource.get("serviceProvider")), stored.source_org):
        yield Relationship(patient, ENCOUNTER, org=org, ended=ended)
    for participant in resource.get("participant") or []:
        practitioner = practitioner_key((participant or {}).get("individual"))
        if practitioner is not None:
            yield Relationship(patient, ENCOUNTER, practitioner=practitioner, ended=ended)


def _from_episode(resource: dict[str, Any], stored: StoredResource) -> Iterator[Relationship]:
    patient = _patient(resource, "patient")
    binds, ended = _ended(resource, stored)
    if patient is None or not binds:
        return
    for org in _orgs(organisation_key(resource.get("managingOrganization")), stored.source_org):
        yield Relationship(patient, EPISODE, org=org, ended=ended)
    manager = practitioner_key(resource.get("careManager"))
    if manager is not None:
        yield Relationship(patient, EPISODE, practitioner=manager, ended=ended)


def _from_referral(resource: dict[str, Any], stored: StoredResource) -> Iterator[Relationship]:
    patient = _patient(resource, "subject")
    binds, ended = _ended(resource, stored)
    if patient is None or not binds:
        return
    performers = [organisation_key(p) for p in resource.get("performer") or []]
    for org in _orgs(stored.source_org, organisation_key(resource.get("requester")), *performers):
        yield Relationship(patient, REFERRAL, org=org, ended=ended)
    for performer in resource.get("performer") or []:
        practitioner = practitioner_key(performer)
        if practitioner is not None:
            yield Relationship(patient, REFERRAL, practitioner=practitioner, ended=ended)


def _from_care_team(resource: dict[str, Any], stored: StoredResource) -> Iterator[Relationship]:
    patient = _patient(resource, "subject")
    binds, ended = _ended(resource, stored)
    if patient is None or not binds:
        return
    for participant in resource.get("participant") or []:
        member = (participant or {}).get("member")
        org = organisation_key(member) or organisation_key((participant or {}).get("onBehalfOf"))
        if org is not None:
            yield Relationship(patient, CARE_TEAM, org=org, ended=ended)
        practitioner = practitioner_key(member)
        if practitioner is not None:
            yield Relationship(patient, CARE_TEAM, practitioner=practitioner, ended=ended)


def _orgs(*keys: str | None) -> set[str]:
    """Distinct organisation keys; ``Organization/X`` (as a writer may give ``source_org``)
    and ``X`` name the same one."""
    return {key.removeprefix("Organization/") for key in keys if key}


_EXTRACTORS = {
    "Patient": _from_patient,
    "Encounter": _from_encounter,
    "EpisodeOfCare": _from_episode,
    "ServiceRequest": _from_referral,
    "CareTeam": _from_care_team,
}

#: The resource types :func:`materialise` reads.
SOURCE_TYPES = frozenset({*_EXTRACTORS, "Organization"})


def materialise(tx: Transaction, stored: StoredResource, operation: WriteOperation) -> None:
    """Write hook: replace the rows derived from this resource with those of its new version."""
    if stored.resource_type == "Organization":
        _mirror_organisation(tx, stored)
        return
    if stored.resource_type not in _EXTRACTORS:
        return
    tx.execute(
        "DELETE FROM access_relationship WHERE source_type = ? AND source_id = ?",
        [stored.resource_type, stored.id],
    )
    for rel in relationships_of(stored):
        tx.execute(
            "INSERT INTO access_relationship"
            " (source_type, source_id, patient_id, kind, org, practitioner, ended)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                stored.resource_type,
                stored.id,
                rel.patient_id,
                rel.kind,
                rel.org,
                rel.practitioner,
                rel.ended,
            ],
        )


def _mirror_organisation(tx: Transaction, stored: StoredResource) -> None:
    tx.execute("DELETE FROM access_org WHERE org_id = ?", [stored.id])
    if stored.resource is None or stored.deleted:
        return
    parent = reference_id(stored.resource.get("partOf"), "Organization")
    tx.execute(
        "INSERT INTO access_org (org_id, ods, parent_id) VALUES (?, ?, ?)",
        [stored.id, ods_code(stored.resource), parent],
    )


EXTENSION = StoreExtension(
    name="access-relationships",
    ddl={"sqlite": _TABLES, "postgresql": _TABLES},
    on_write=materialise,
)
