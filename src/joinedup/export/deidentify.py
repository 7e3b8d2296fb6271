"""The de-identifying transform applied to each resource of a snapshot or export.

What goes, following the Information Commissioner's anonymisation code of practice (direct
identifiers out, quasi-identifiers generalised) and the issue's list:

- direct identifiers of people (Patient, RelatedPerson, Person, Practitioner): names,
  telecom, photo, contacts, every identifier (NHS number, local numbers), address lines and
  postcodes; the address keeps only its LSOA and IMD decile extensions, which inequality
  analysis needs;
- ``Patient.id`` and every reference to it become the keyed pseudonym;
- narrative anywhere: ``text`` narratives, ``note`` annotations, ``presentedForm`` and the
  inline ``data`` of attachments (Synthea puts clinical notes with names there), and the
  ``display`` of every reference (a denormalised copy of a name);
- NHS numbers wherever an identifier carries one (logical references included);
- Patient extensions not on an allow-list (mother's maiden name, place of birth…);
- birth and death dates are cut to the month (or year).

Organisations, practitioners' roles, codes and every other date stay, so breakdowns by Place,
PCN and practice keep working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.fhir.nhs_number import SYSTEM as NHS_NUMBER
from joinedup.synth.vocabulary import ETHNICITY_EXTENSION, IMD_EXTENSION, LSOA_EXTENSION

DatePrecision = Literal["month", "year"]

PEOPLE = frozenset({"Patient", "RelatedPerson", "Person", "Practitioner"})
PERSON_ELEMENTS = ("name", "telecom", "photo", "contact", "identifier")
NARRATIVE_ELEMENTS = frozenset({"note", "presentedForm"})
#: Top-level elements no de-identified resource keeps.
RESOURCE_ELEMENTS_REMOVED = frozenset({"text"}) | NARRATIVE_ELEMENTS
ADDRESS_EXTENSIONS = frozenset({LSOA_EXTENSION, IMD_EXTENSION})
PATIENT_EXTENSIONS = frozenset(
    {
        ETHNICITY_EXTENSION,
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
    }
)
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_DATE_LENGTH = {"month": 7, "year": 4}


def patient_id_of(reference: str) -> str | None:
    """The Patient id a reference string points to (relative, absolute or versioned), if any."""
    if "Patient/" not in reference:
        return None
    match = _PATIENT_REFERENCE.search(reference)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Deidentification:
    """One configuration of the transform; :meth:`apply` returns a new resource."""

    pseudonymiser: Pseudonymiser
    birth_date: DatePrecision = "month"
    death_date: DatePrecision = "month"

    def describe(self) -> dict[str, Any]:
        """What was done, for a snapshot's manifest."""
        return {
            "pseudonym": {
                "algorithm": "HMAC-SHA-256 of 'Patient/<id>', first 128 bits in hex",
                "keyFingerprint": self.pseudonymiser.fingerprint(),
            },
            "removed": {
                "people": [*sorted(PERSON_ELEMENTS), "address lines, city, district, postcode"],
                "everywhere": [
                    "text narrative",
                    "note",
                    "presentedForm",
                    "attachment data",
                    "reference display",
                    "NHS numbers",
                ],
                "patientExtensionsKept": sorted(PATIENT_EXTENSIONS),
            },
            "generalised": {
                "Patient.birthDate": self.birth_date,
                "Patient.deceasedDateTime": self.death_date,
                "Patient.address": "LSOA and IMD decile extensions only",
            },
        }

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self._resource(resource)

    def _resource(self, resource: dict[str, Any]) -> dict[str, Any]:
        resource_type = resource.get("resourceType")
        person = resource_type in PEOPLE
        result: dict[str, Any] = {}
        for key, value in resource.items():
            if key in RESOURCE_ELEMENTS_REMOVED or (person and key in PERSON_ELEMENTS):
                continue
            if key == "contained":
                result[key] = [self._resource(item) for item in value]
            elif person and key == "address":
                addresses = [kept for kept in map(_generalise_address, value) if kept]
                if addresses:
                    result[key] = addresses
            else:
                result[key] = self._element(key, value)
        if resource_type == "Patient":
            self._patient(result)
        return result

    def _patient(self, patient: dict[str, Any]) -> None:
        if "id" in patient:
            patient["id"] = self.pseudonymiser.patient(patient["id"])
        if "birthDate" in patient:
            patient["birthDate"] = patient["birthDate"][: _DATE_LENGTH[self.birth_date]]
        if "deceasedDateTime" in patient:
            patient["deceasedDateTime"] = patient["deceasedDateTime"][
                : _DATE_LENGTH[self.death_date]
            ]
        if "extension" in patient:
            kept = [e for e in patient["extension"] if e.get("url") in PATIENT_EXTENSIONS]
            if kept:
                patient["extension"] = kept
            else:
                del patient["extension"]

    # The walk below is the hot loop of every snapshot: primitives are copied without a call,
    # and only references and attachments take the slower, careful path.
    def _element(self, key: str, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            return self._complex(value)
        if kind is list:
            if key == "identifier":
                value = [item for item in value if not _is_nhs_number(item)]
            # FHIR has no array in an array, but a resource that does is walked all the same.
            return [
                self._complex(item)
                if type(item) is dict
                else self._element(key, item)
                if type(item) is list
                else item
                for item in value
            ]
        return value

    def _complex(self, element: dict[str, Any]) -> dict[str, Any]:
        if "resourceType" in element:
            return self._resource(element)
        if type(element.get("reference")) is str or "contentType" in element:
            return self._reference_or_attachment(element)
        result: dict[str, Any] = {}
        for key, value in element.items():
            kind = type(value)
            if kind is dict:
                result[key] = self._complex(value)
            elif kind is list:
                if key not in NARRATIVE_ELEMENTS:
                    result[key] = self._element(key, value)
            else:
                result[key] = value
        return result

    def _reference_or_attachment(self, element: dict[str, Any]) -> dict[str, Any]:
        is_reference = type(element.get("reference")) is str
        result: dict[str, Any] = {}
        for key, value in element.items():
            if key in NARRATIVE_ELEMENTS:
                continue
            if is_reference and key == "display":
                continue
            if is_reference and key == "identifier" and _is_nhs_number(value):
                continue
            if not is_reference and key == "data":
                continue
            if is_reference and key == "reference":
                patient_id = patient_id_of(value)
                result[key] = (
                    f"Patient/{self.pseudonymiser.patient(patient_id)}" if patient_id else value
                )
            else:
                result[key] = self._element(key, value)
        return result


def _is_nhs_number(identifier: Any) -> bool:
    return isinstance(identifier, dict) and identifier.get("system") == NHS_NUMBER


def _generalise_address(address: dict[str, Any]) -> dict[str, Any] | None:
    kept = [e for e in address.get("extension", []) if e.get("url") in ADDRESS_EXTENSIONS]
    if not kept:
        return None
    # use/type (home, postal…) identify no one and say which address the LSOA belongs to.
    generalised: dict[str, Any] = {"extension": kept}
    generalised.update({k: address[k] for k in ("use", "type") if k in address})
    return generalised
