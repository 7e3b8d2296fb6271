"""The national data opt-out: who has one, and removing them with everything about them.

A person has opted out when an *active* Consent for them names the national data opt-out
policy (``Consent.policy.uri``, the coding the synthetic ICS writes, see
``docs/synthetic-data.md``) and does not *permit* (``provision.type`` absent or ``deny``).
Opting back in makes that Consent inactive (or adds a ``permit``), so only live refusals count.

Removal is by reference, which is how the R4 Patient CompartmentDefinition places a resource in
a person's compartment: any resource that refers to an opted-out Patient anywhere goes, and so
does anything that refers to a resource already removed (a Provenance or Claim pointing at the
person's Encounter), provided it comes later in the stream — :func:`stream_order` puts such
"about other resources" types last. A store source adds its compartment table on top.
Groups and Lists are cohorts, not the person's data: they lose the member, not the whole list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from joinedup.export.deidentify import patient_id_of
from joinedup.synth.vocabulary import NATIONAL_OPT_OUT_POLICY

#: Types whose resources are mostly about other resources: streamed after everything else so
#: that removing a person's resources first lets these be removed with them.
LATE_TYPES = (
    "Claim",
    "ExplanationOfBenefit",
    "DocumentReference",
    "Composition",
    "List",
    "Group",
    "Provenance",
    "AuditEvent",
)
_TYPE_AND_ID = re.compile(r"([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_REFERENCE_MEMBER = re.compile(rb'"reference":"((?:[^"\\]|\\.)*)"')
_MEMBER_LISTS = {"Group": ("member", "entity"), "List": ("entry", "item")}
_PATIENT_PREFIX = len("Patient/")


def is_national_opt_out(consent: dict[str, Any]) -> bool:
    if consent.get("resourceType") != "Consent" or consent.get("status") != "active":
        return False
    if not any(
        policy.get("uri") == NATIONAL_OPT_OUT_POLICY for policy in consent.get("policy", [])
    ):
        return False
    return consent.get("provision", {}).get("type", "deny") == "deny"


def opted_out_patients(consents: Iterable[dict[str, Any]]) -> set[str]:
    """Patient ids with a live national data opt-out."""
    patients = set()
    for consent in consents:
        if is_national_opt_out(consent):
            patient_id = patient_id_of(consent.get("patient", {}).get("reference", ""))
            if patient_id:
                patients.add(patient_id)
    return patients


def stream_order(sizes: Mapping[str, int]) -> list[str]:
    """The types of ``sizes`` largest first (by resources or bytes; ties alphabetically),
    except :data:`LATE_TYPES`, which come last in their own order.

    Patients and clinical resources are removed by who they are or refer to (an opted-out
    Patient is removed from the start), so their order matters only for chains that neither
    that reference nor a compartment catches: an earlier type's removals reach a later one.
    Largest first lets a snapshot convert the biggest file while the rest stream, instead of
    after them."""
    late = [t for t in LATE_TYPES if t in sizes]
    early = sorted(set(sizes) - set(late), key=lambda t: (-sizes[t], t))
    return early + late


class OptOutFilter:
    """Decides, resource by resource, what an opt-out removes; remembers what it removed."""

    def __init__(self, patients: set[str], compartment: Iterable[tuple[str, str]] = ()) -> None:
        self.patients = frozenset(patients)
        self.removed: set[str] = {f"Patient/{p}" for p in patients}
        # Cohort lists are in their members' compartments but lose only the member.
        self.removed.update(
            f"{resource_type}/{id}"
            for resource_type, id in compartment
            if resource_type not in _MEMBER_LISTS
        )
        self.removed_count = 0

    def apply(self, resource: dict[str, Any]) -> dict[str, Any] | None:
        """The resource to publish (cohort lists without the removed members), or ``None``."""
        if not self.patients:
            return resource
        key = f"{resource.get('resourceType')}/{resource.get('id')}"
        members = _MEMBER_LISTS.get(resource.get("resourceType", ""))
        if members:
            resource = self._without_removed_members(resource, *members)
        return None if self.removes(key, references_in(resource)) else resource

    def removes(self, key: str, references: Iterable[str]) -> bool:
        """Whether the resource ``key`` (``Type/id``, not a cohort list), which holds these
        references, goes; counted, and remembered so that what refers to it goes too."""
        if not self.patients:
            return False
        if key in self.removed or any(self._is_removed(r) for r in references):
            return self._remove(key)
        return False

    def removes_relative(self, key: str, references: Iterable[str]) -> bool:
        """:meth:`removes` for references that are all relative ``Type/id`` (no history):
        the same verdicts without the patterns."""
        if not self.patients:
            return False
        if key in self.removed or any(
            reference[_PATIENT_PREFIX:] in self.patients
            if reference.startswith("Patient/")
            else reference in self.removed
            for reference in references
        ):
            return self._remove(key)
        return False

    def _remove(self, key: str) -> bool:
        self.removed.add(key)
        self.removed_count += 1
        return True

    def _is_removed(self, reference: str) -> bool:
        patient_id = patient_id_of(reference)
        if patient_id is not None:
            return patient_id in self.patients
        match = _TYPE_AND_ID.search(reference)
        return match is not None and match.group(1) in self.removed

    def _without_removed_members(
        self, resource: dict[str, Any], element: str, target: str
    ) -> dict[str, Any]:
        entries = resource.get(element)
        if not entries:
            return resource
        kept = [e for e in entries if not self._is_removed(e.get(target, {}).get("reference", ""))]
        if len(kept) == len(entries):
            return resource
        result = (
            {**resource, element: kept}
            if kept
            else {k: v for k, v in resource.items() if k != element}
        )
        if resource.get("resourceType") == "Group" and "quantity" in resource:
            result["quantity"] = len(kept)
        return result


def references_in(value: Any) -> list[str]:
    """Every ``reference`` string anywhere inside a resource.

    Found in the resource's compact JSON, which is several times faster than walking the
    dicts in Python; inside a JSON string a quote is always escaped, so the pattern can only
    match a real ``"reference"`` member."""
    return [
        orjson.loads(b'"' + match + b'"') if b"\\" in match else match.decode()
        for match in _REFERENCE_MEMBER.findall(orjson.dumps(value))
    ]
