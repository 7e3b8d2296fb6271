"""A small ICS for the access tests: organisations, people, relationships, choices, entries.

Who may see what here is written out by hand in the tests (not computed by the policy), so
the tests check the policy against an independent statement of the rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from joinedup.access.install import EXTENSIONS
from joinedup.access.policy import OrgDirectory, restriction_for
from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.settings import ACT_CODE, AccessSettings
from joinedup.store import open_store
from joinedup.store.base import Restriction, Store

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
NOW = datetime.now(UTC)
SETTINGS = AccessSettings(recent_days=90)

PCN, GP_A, GP_B, HOSP, PHYSIO, COUNCIL = "U00001", "A00001", "B00001", "RH1", "RC1", "LA1"


def _days_ago(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def organisations() -> list[dict[str, Any]]:
    def org(code: str, part_of: str | None = None) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "id": code,
            "identifier": [{"system": ODS, "value": code}],
            "name": f"Organisation {code}",
        }
        if part_of:
            resource["partOf"] = {"reference": f"Organization/{part_of}"}
        return resource

    return [org(PCN), org(GP_A, PCN), org(GP_B, PCN), org(HOSP), org(PHYSIO), org(COUNCIL)]


def patient(pid: str, practice: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "generalPractitioner": [{"reference": f"Organization/{practice}"}],
    }


def encounter(eid: str, pid: str, org: str, *, ended_days_ago: int | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "in-progress" if ended_days_ago is None else "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "serviceProvider": {"reference": f"Organization/{org}"},
    }
    if ended_days_ago is not None:
        resource["period"] = {"end": _days_ago(ended_days_ago)}
    return resource


def observation(oid: str, pid: str, *, label: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "271649006"}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    if label:
        resource["meta"] = {"security": [{"system": ACT_CODE, "code": label}]}
    return resource


def consent(cid: str, pid: str, provision: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": cid,
        "status": "active",
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{pid}"},
        "provision": provision,
    }


#: (resource, the organisation that wrote it)
def entries() -> list[tuple[dict[str, Any], str | None]]:
    return [
        # registered at GP A; seen at hospital recently; a GP and a hospital observation
        (patient("reg", GP_A), GP_A),
        (observation("reg-gp", "reg"), GP_A),
        (observation("reg-hosp", "reg"), HOSP),
        (encounter("reg-enc", "reg", HOSP, ended_days_ago=10), HOSP),
        # registered at GP B (same PCN as A): GP A has no relationship, the PCN does
        (patient("other", GP_B), GP_B),
        (observation("other-gp", "other"), GP_B),
        # hospital encounter ended long ago: no longer binds the hospital
        (patient("old", GP_B), GP_B),
        (encounter("old-enc", "old", HOSP, ended_days_ago=400), HOSP),
        (observation("old-hosp", "old"), HOSP),
        # referral open with community physio
        (patient("ref", GP_B), GP_B),
        (
            {
                "resourceType": "ServiceRequest",
                "id": "ref-sr",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/ref"},
                "performer": [{"reference": f"Organization/{PHYSIO}"}],
            },
            GP_B,
        ),
        (observation("ref-gp", "ref"), GP_B),
        # in a care team with the social worker
        (patient("team", GP_B), GP_B),
        (
            {
                "resourceType": "CareTeam",
                "id": "team-ct",
                "status": "active",
                "subject": {"reference": "Patient/team"},
                "participant": [{"member": {"reference": "Practitioner/sw-1"}}],
            },
            GP_B,
        ),
        (observation("team-gp", "team"), GP_B),
        # declined sharing beyond the authoring organisation
        (patient("decline", GP_A), GP_A),
        (encounter("decline-enc", "decline", HOSP), HOSP),
        (observation("decline-gp", "decline"), GP_A),
        (observation("decline-hosp", "decline"), HOSP),
        (consent("decline-consent", "decline", {"type": "deny"}), GP_A),
        # denies the hospital by name
        (patient("deny", GP_A), GP_A),
        (encounter("deny-enc", "deny", HOSP), HOSP),
        (observation("deny-gp", "deny"), GP_A),
        (observation("deny-hosp", "deny"), HOSP),
        (
            consent(
                "deny-consent",
                "deny",
                {
                    "type": "permit",
                    "provision": [
                        {
                            "type": "deny",
                            "actor": [{"reference": {"reference": f"Organization/{HOSP}"}}],
                        }
                    ],
                },
            ),
            GP_A,
        ),
        # sensitive entries: a default-restricted label, and a label the person restricted
        (patient("sens", GP_A), GP_A),
        (encounter("sens-enc", "sens", HOSP), HOSP),
        (observation("sens-sex", "sens", label="SEX"), HOSP),
        (observation("sens-gp-sex", "sens", label="SEX"), GP_A),
        (observation("sens-dia", "sens", label="DIA"), HOSP),
        (observation("sens-plain", "sens"), HOSP),
        (
            consent(
                "sens-consent",
                "sens",
                {
                    "type": "permit",
                    "provision": [
                        {"type": "deny", "securityLabel": [{"system": ACT_CODE, "code": "DIA"}]}
                    ],
                },
            ),
            GP_A,
        ),
        # a group naming two people: visible only to whoever may see both
        (
            {
                "resourceType": "Group",
                "id": "group-two",
                "type": "person",
                "actual": True,
                "member": [
                    {"entity": {"reference": "Patient/reg"}},
                    {"entity": {"reference": "Patient/other"}},
                ],
            },
            PCN,
        ),
    ] + [(org, None) for org in organisations()]


PERSONAS: dict[str, Principal] = {
    "gp_a": Principal(
        "gp-1", Role.CLINICIAN, ScopeSet.parse("user/*.cruds"), org=GP_A, practitioner="gp-1"
    ),
    "pcn_physio": Principal(
        "fcp-1", Role.CLINICIAN, ScopeSet.parse("user/*.cruds"), org=PCN, practitioner="fcp-1"
    ),
    "hospital": Principal(
        "doc-1", Role.CLINICIAN, ScopeSet.parse("user/*.cruds"), org=HOSP, practitioner="doc-1"
    ),
    "community_physio": Principal(
        "physio-1", Role.CLINICIAN, ScopeSet.parse("user/*.cruds"), org=PHYSIO
    ),
    "social_worker": Principal(
        "sw-1", Role.SOCIAL_CARE, ScopeSet.parse("user/*.cruds"), org=COUNCIL, practitioner="sw-1"
    ),
    "place_leader": Principal("pl-1", Role.PLACE_LEADER, ScopeSet.parse("user/*.rs"), org=PCN),
    "analyst": Principal("an-1", Role.ANALYST, ScopeSet.parse("user/*.rs"), org=PCN),
    "admin": Principal("ad-1", Role.ADMIN, ScopeSet.parse("user/*.cruds"), org=PCN),
    "citizen_reg": Principal(
        "reg", Role.CITIZEN, ScopeSet.parse("patient/*.rs patient/Consent.cruds"), patient="reg"
    ),
    "gp_a_obs_only": Principal(
        "gp-1", Role.CLINICIAN, ScopeSet.parse("user/Observation.rs"), org=GP_A, practitioner="gp-1"
    ),
}

ORGS = {o["id"] for o in organisations()}
REG = {"reg", "reg-gp", "reg-hosp", "reg-enc"}
DECLINE = {"decline", "decline-enc", "decline-gp", "decline-hosp", "decline-consent"}
DENY = {"deny", "deny-enc", "deny-gp", "deny-hosp", "deny-consent"}
SENS = {"sens", "sens-enc", "sens-sex", "sens-gp-sex", "sens-dia", "sens-plain", "sens-consent"}

#: Written out by hand from the rules in docs/access.md: the ids each persona may see.
VISIBLE: dict[str, set[str]] = {
    # registered: reg, decline, deny, sens (all of it that GP A wrote or may share);
    # restricted labels written by others are hidden; declined people show only GP A's entries
    "gp_a": ORGS
    | REG
    | DECLINE - {"decline-enc", "decline-hosp"}
    | DENY
    | SENS - {"sens-sex", "sens-dia"},
    # PCN: every practice in it, so also other/old/ref/team; the Group needs reg and other
    "pcn_physio": ORGS
    | REG
    | {"other", "other-gp", "old", "old-enc", "old-hosp", "ref", "ref-sr", "ref-gp"}
    | {"team", "team-ct", "team-gp", "group-two"}
    | {"decline-consent"}
    | DENY
    | SENS - {"sens-sex", "sens-gp-sex", "sens-dia"},
    # hospital: recent encounter with reg; open encounters with decline, deny, sens; its own
    # entries everywhere; declined/denied people show only what the hospital wrote
    "hospital": ORGS
    | REG
    | {"old-enc", "old-hosp"}
    | {"decline-enc", "decline-hosp", "decline-consent"}
    | {"deny-enc", "deny-hosp", "deny-consent"}
    | SENS - {"sens-gp-sex"},
    "community_physio": ORGS | {"ref", "ref-sr", "ref-gp"},
    "social_worker": ORGS | {"team", "team-ct", "team-gp"},
    "place_leader": ORGS,
    "analyst": ORGS,
    "admin": ORGS,
    "citizen_reg": ORGS | REG,
    "gp_a_obs_only": {"reg-gp", "reg-hosp", "decline-gp", "deny-gp", "deny-hosp"}
    | {"sens-gp-sex", "sens-plain"},
}


def load(store: Store) -> None:
    for resource, org in entries():
        store.update(resource, source_org=org)


def restriction(store: Store, persona: str) -> Restriction | None:
    principal = PERSONAS[persona]
    return restriction_for(principal, OrgDirectory(store).keys(principal.org), SETTINGS, NOW)


@contextmanager
def world_store(url: str) -> Iterator[Store]:
    store = open_store(url, extensions=EXTENSIONS)
    try:
        load(store)
        yield store
    finally:
        store.close()


@contextmanager
def world_on(dialect: str, request: Any, tmp_path_factory: Any, name: str) -> Iterator[Store]:
    """The world loaded into a fresh SQLite file or PostgreSQL schema, for a module fixture
    parametrised over ``"sqlite"`` and ``"postgresql"``."""
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'record.db'}"
        with world_store(url) as opened:
            yield opened
        return
    with (
        postgres_schema(request.getfixturevalue("postgres_url")) as url,
        world_store(url) as opened,
    ):
        yield opened


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A uniquely named schema for one test module, dropped afterwards."""
    import psycopg

    schema = f"access_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
