"""``_elements`` in a Bulk Data export: which top-level elements each resource keeps.

Bulk Data Access IG v2.0.0 (kick-off parameters): each entry is ``[type].[element]`` or
``[element]`` (then it applies to every type that has it), root elements only. The server
keeps the mandatory elements as well and tags each trimmed resource SUBSETTED so that nobody
writes it back over the whole one (R4 search.html#elements). Here "mandatory" is what R4
makes so (minimum cardinality 1, e.g. ``Observation.status`` and ``code``) plus ``id``,
``meta`` and ``resourceType``. A choice element may be named by its stem (``value`` or
``value[x]`` keeps ``valueQuantity``, ``valueString``…).

A type that no entry applies to (only ``Patient.name`` was asked for, and this is an
Observation) is exported whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.validation import is_resource_type, structure
from joinedup.record.searchset import shape
from joinedup.store.base import Resource


def parse_elements(value: str) -> list[str]:
    """The entries of one ``_elements`` value, each checked to name an R4 element."""
    entries = [part.strip() for part in value.split(",") if part.strip()]
    for entry in entries:
        resource_type, _, element = entry.rpartition(".")
        if "." in resource_type or not element or resource_type[:1].islower():
            raise FHIRError(
                f"_elements entry {entry!r} is not an element name: use name or Type.name "
                "(root elements only), e.g. _elements=Patient.birthDate,status",
                expression="_elements",
            )
        if resource_type:
            if not is_resource_type(resource_type):
                raise FHIRError(
                    f"_elements entry {entry!r} names {resource_type}, which is not a FHIR R4 "
                    "resource type",
                    expression="_elements",
                )
            if not _keys(resource_type, element):
                raise FHIRError(
                    f"_elements entry {entry!r}: {resource_type} has no element {element}",
                    expression="_elements",
                )
        elif not any(_keys(t, element) for t in structure().resource_types):
            raise FHIRError(
                f"_elements entry {entry!r} is not an element of any FHIR R4 resource type",
                expression="_elements",
            )
    return entries


def subsetter(elements: Sequence[str], resource_type: str) -> Callable[[Resource], Resource] | None:
    """A function trimming resources of ``resource_type`` to ``elements`` (tagged SUBSETTED),
    or None when no entry applies to the type and its resources go out whole."""
    applicable = [
        element
        for qualifier, _, element in (entry.rpartition(".") for entry in elements)
        if qualifier in ("", resource_type)
    ]
    if not applicable:
        return None
    keep = set().union(*(_keys(resource_type, e) for e in applicable)) | _mandatory(resource_type)
    kept = sorted(keep)
    return lambda resource: shape(resource, kept, None)


def _keys(resource_type: str, element: str) -> set[str]:
    """The JSON keys ``element`` stands for in ``resource_type`` (several for a choice stem)."""
    stem = element.removesuffix("[x]")
    known = structure().types.get(resource_type, {})
    return {key for key, spec in known.items() if key == element or spec.choice == stem}


def _mandatory(resource_type: str) -> set[str]:
    table = structure()
    choices = set(table.required_choices.get(resource_type, ()))
    known = table.types.get(resource_type, {})
    return set(table.required.get(resource_type, ())) | {
        key for key, spec in known.items() if spec.choice in choices
    }
