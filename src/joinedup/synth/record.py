"""One person's resources as they are built, with the shared shapes every module writes.

Ids are ``<prefix>-<person serial>-<n>``: stable, unique, and readable in a bug report.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from joinedup.synth import vocabulary as v
from joinedup.synth.population import Person

ID_PREFIX = {
    "Patient": "pat",
    "Condition": "cond",
    "Encounter": "enc",
    "Observation": "obs",
    "MedicationRequest": "med",
    "Immunization": "imm",
    "CarePlan": "cp",
    "ServiceRequest": "sr",
    "EpisodeOfCare": "eoc",
    "Consent": "consent",
}


def ref(resource_type: str, id_: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{id_}"}


class PersonRecord:
    def __init__(self, person: Person) -> None:
        self.person = person
        self.patient_ref = ref("Patient", person.id)
        self.resources: list[dict[str, Any]] = []
        self._counters: dict[str, int] = {}
        #: condition key -> Condition id, for reasonReference and addresses
        self.condition_ids: dict[str, str] = {}

    def add(self, resource_type: str, body: dict[str, Any]) -> str:
        n = self._counters.get(resource_type, 0) + 1
        self._counters[resource_type] = n
        id_ = f"{ID_PREFIX[resource_type]}-{self.person.serial + 1}-{n}"
        self.resources.append({"resourceType": resource_type, "id": id_, **body})
        return id_

    def encounter(
        self,
        *,
        klass: str,
        kind: str,
        start: date,
        end: date,
        provider: str,
        practitioner: str | None = None,
        reasons: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "status": "finished",
            "class": v.coding(v.ENCOUNTER_CLASS, klass),
            "type": [v.concept(v.ENCOUNTER_TYPE, kind)],
            "subject": self.patient_ref,
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "serviceProvider": ref("Organization", provider),
        }
        if practitioner is not None:
            body["participant"] = [{"individual": ref("PractitionerRole", practitioner)}]
        if reasons:
            body["reasonCode"] = reasons
        if extra:
            body.update(extra)
        return self.add("Encounter", body)

    def observation(
        self,
        code: dict[str, Any],
        on: date,
        value: dict[str, Any],
        *,
        category: str = "exam",
        encounter: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "status": "final",
            "category": [v.concept(v.OBSERVATION_CATEGORY, category)],
            "code": code,
            "subject": self.patient_ref,
            "effectiveDateTime": on.isoformat(),
            **value,
        }
        if encounter is not None:
            body["encounter"] = ref("Encounter", encounter)
        return self.add("Observation", body)


def quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": v.UCUM, "code": code}
