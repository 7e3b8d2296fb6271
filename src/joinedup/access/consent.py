"""The person's sharing choices, read from Consent resources into ``access_consent``.

Conventions (documented in docs/access.md) for an active ``Consent`` about ``patient``:

* a top-level ``provision.type = deny`` with no ``actor`` and no ``securityLabel`` (and no
  ``purpose``, or one naming treatment — TREAT, ETREAT or CAREMGT):
  **decline sharing** beyond the organisation that wrote each entry;
* any ``deny`` provision (top level or nested) naming Organizations in ``actor``:
  **deny those organisations** everything not written by themselves;
* any ``deny`` provision carrying ``securityLabel`` codings: entries with those
  ``meta.security`` labels are **restricted** to the organisation that wrote them.

A Consent under the national data opt-out policy (or with a ``research`` scope) is ignored
here: the opt-out governs secondary use (the export capability removes those people) and
never direct care.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from joinedup.access.references import organisation_key, reference_id
from joinedup.store.base import StoredResource, StoreExtension, Transaction, WriteOperation

#: NHS England, "National data opt-out" (https://digital.nhs.uk/services/national-data-opt-out),
#: the policy URI the synthetic ICS puts on opt-out Consents (docs/synthetic-data.md).
NATIONAL_OPT_OUT_POLICY = "https://digital.nhs.uk/services/national-data-opt-out"

#: v3 ActReason codes for direct care: treatment, emergency treatment, care coordination.
DIRECT_CARE_PURPOSES = frozenset({"TREAT", "ETREAT", "CAREMGT"})

DECLINE_SHARING = "no-share"
DENY_ORG = "deny-org"
RESTRICTED_LABEL = "restricted-label"

#: The resource types :func:`materialise` reads.
SOURCE_TYPES = frozenset({"Consent"})

_TABLES = [
    "CREATE TABLE IF NOT EXISTS access_consent ("
    " source_id TEXT NOT NULL, patient_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " value TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS access_consent_patient ON access_consent (patient_id, kind)",
    "CREATE INDEX IF NOT EXISTS access_consent_source ON access_consent (source_id)",
    # The policy's "declined sharing / denied this organisation" set, found without a scan.
    "CREATE INDEX IF NOT EXISTS access_consent_kind ON access_consent (kind, value, patient_id)",
]


@dataclass(frozen=True)
class Choice:
    patient_id: str
    kind: str
    value: str = ""
    """The denied organisation's key or the restricted label as ``system|code``."""


def is_opt_out(consent: dict[str, Any]) -> bool:
    """A choice about secondary use: the national opt-out policy, or a ``research`` scope."""
    policies = [p.get("uri") for p in consent.get("policy") or [] if isinstance(p, dict)]
    rule = consent.get("policyRule") or {}
    codings = [c.get("system") for c in rule.get("coding") or [] if isinstance(c, dict)]
    scopes = [c.get("code") for c in (consent.get("scope") or {}).get("coding") or []]
    return (
        NATIONAL_OPT_OUT_POLICY in policies
        or NATIONAL_OPT_OUT_POLICY in codings
        or "research" in scopes
    )


def _covers_direct_care(provision: dict[str, Any]) -> bool:
    """A provision without purposes covers every purpose; otherwise it must name treatment."""
    purposes = [p.get("code") for p in provision.get("purpose") or [] if isinstance(p, dict)]
    return not purposes or bool(DIRECT_CARE_PURPOSES.intersection(purposes))


def choices_of(consent: dict[str, Any]) -> list[Choice]:
    """The direct-care sharing choices one Consent expresses."""
    patient = reference_id(consent.get("patient"), "Patient")
    if patient is None or consent.get("status") != "active" or is_opt_out(consent):
        return []
    top = consent.get("provision")
    if not isinstance(top, dict):
        return []
    found: list[Choice] = []
    if (
        top.get("type") == "deny"
        and not top.get("actor")
        and not top.get("securityLabel")
        and _covers_direct_care(top)
    ):
        found.append(Choice(patient, DECLINE_SHARING))
    for provision in _denials(top):
        for actor in provision.get("actor") or []:
            org = organisation_key((actor or {}).get("reference"))
            if org is not None:
                found.append(Choice(patient, DENY_ORG, org))
        for label in provision.get("securityLabel") or []:
            if isinstance(label, dict) and label.get("code"):
                value = f"{label.get('system')}|{label['code']}"
                found.append(Choice(patient, RESTRICTED_LABEL, value))
    return found


def _denials(provision: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if provision.get("type") == "deny":
        yield provision
    for nested in provision.get("provision") or []:
        if isinstance(nested, dict):
            yield from _denials(nested)


def materialise(tx: Transaction, stored: StoredResource, operation: WriteOperation) -> None:
    """Write hook: replace the choices recorded from this Consent with its new version's."""
    if stored.resource_type not in SOURCE_TYPES:
        return
    tx.execute("DELETE FROM access_consent WHERE source_id = ?", [stored.id])
    if stored.resource is None or stored.deleted:
        return
    for choice in choices_of(stored.resource):
        tx.execute(
            "INSERT INTO access_consent (source_id, patient_id, kind, value) VALUES (?, ?, ?, ?)",
            [stored.id, choice.patient_id, choice.kind, choice.value],
        )


EXTENSION = StoreExtension(
    name="access-consent",
    ddl={"sqlite": _TABLES, "postgresql": _TABLES},
    on_write=materialise,
)
