"""Validation on write: R4 structure, the UK Core rules an ICS relies on, and references.

Structure is checked against an element table built from the official R4 definitions
(``r4_structure.json``, generated from the ``fhir.resources`` R4B models by
``tests/unit/fhir/r4_structure_source.py``): every element known, cardinality respected,
required elements present, at most one type of a choice element, primitive values well
formed. It is a single walk over the JSON, cheap enough to run on every write; terminology
bindings and FHIRPath invariants are not checked.

Every failure is a :class:`FHIRError` whose ``expression`` is the failing element's path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib import resources as package_files
from typing import Any, NamedTuple

from joinedup.fhir import nhs_number
from joinedup.fhir.outcome import FHIRError


class Element(NamedTuple):
    type: str
    many: bool
    required: bool
    summary: bool
    choice: str
    choice_required: bool


class Structure(NamedTuple):
    resource_types: frozenset[str]
    types: dict[str, dict[str, Element]]
    required: dict[str, tuple[str, ...]]
    """Per type, the elements that must be present (checked without scanning every element)."""
    required_choices: dict[str, tuple[str, ...]]
    """Per type, the choice elements (``value`` of ``value[x]``) that must be present."""


@lru_cache(maxsize=1)
def structure() -> Structure:
    """The R4 element table, loaded once."""
    raw = json.loads(package_files.files("joinedup.fhir").joinpath("r4_structure.json").read_text())
    types = {
        name: {
            element: Element(t, bool(m), bool(r), bool(s), c, bool(cr))
            for element, (t, m, r, s, c, cr) in elements.items()
        }
        for name, elements in raw["types"].items()
    }
    required = {
        name: tuple(element for element, spec in elements.items() if spec.required)
        for name, elements in types.items()
    }
    required_choices = {
        name: tuple(sorted({spec.choice for spec in elements.values() if spec.choice_required}))
        for name, elements in types.items()
    }
    return Structure(frozenset(raw["resources"]), types, required, required_choices)


def is_resource_type(name: str) -> bool:
    return name in structure().resource_types


def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements marked ``isSummary`` in R4 (for ``_summary=true``)."""
    elements = structure().types.get(resource_type, {})
    return frozenset(name for name, element in elements.items() if element.summary)


# Regular expressions from the R4 datatypes page (https://hl7.org/fhir/R4/datatypes.html).
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_DATE = _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "date": re.compile(_DATE),
    "dateTime": re.compile(
        r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
        r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T" + _TIME + _ZONE + r")?)?)?"
    ),
    "instant": re.compile(
        r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-"
        r"(0[1-9]|[1-2][0-9]|3[0-1])T" + _TIME + _ZONE
    ),
    "time": re.compile(_TIME),
    "id": re.compile(r"[A-Za-z0-9\-\.]{1,64}"),
    "code": re.compile(r"[^\s]+( [^\s]+)*"),
    "oid": re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
    "uuid": re.compile(
        r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    ),
    "uri": re.compile(r"\S*"),
    "base64Binary": re.compile(r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"),
}
# Names the element table uses for primitives whose Python marker has another name.
_ALIASES = {"encodedBytes": "base64Binary", "uuidVersion": "uuid", "url": "uri", "canonical": "uri"}
_STRINGS = {"string", "markdown", "xhtml"}
_INTEGER_RANGES = {
    "integer": (-(2**31), 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
}


def _check_primitive(kind: str, value: Any, path: str) -> None:
    kind = _ALIASES.get(kind, kind)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise FHIRError(f"{path} must be true or false", expression=path)
        return
    if kind in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[kind]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FHIRError(f"{path} must be a whole number from {low} to {high}", expression=path)
        return
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FHIRError(f"{path} must be a JSON number", expression=path)
        return
    if not isinstance(value, str):
        raise FHIRError(f"{path} must be a JSON string", expression=path)
    if "\x00" in value:
        # R4 datatypes: strings SHOULD NOT hold characters below U+0020 but tab, CR and LF;
        # NUL is refused outright, as no database text type can hold it.
        raise FHIRError(f"{path} contains a NUL character", expression=path)
    if kind in _STRINGS:
        if not value.strip():
            raise FHIRError(f"{path} must not be empty or only whitespace", expression=path)
        return
    pattern = _PATTERNS.get(kind)
    if pattern is not None and not pattern.fullmatch(value):
        raise FHIRError(f"{path} is not a valid FHIR {kind}", expression=path)


#: Deeper nesting than any real resource needs is refused before it can exhaust the stack.
MAX_DEPTH = 64


def _check_object(obj: Any, type_name: str, path: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise FHIRError(f"{path} nests more than {MAX_DEPTH} levels deep", expression=path)
    if not isinstance(obj, dict):
        raise FHIRError(f"{path} must be a JSON object", expression=path)
    if not obj:
        raise FHIRError(f"{path} must not be empty (omit it instead)", expression=path)
    if type_name == "Resource":
        _check_resource(obj, path, depth)
        return
    elements = structure().types[type_name]
    chosen: dict[str, str] = {}
    for key, value in obj.items():
        primitive_extension = key.startswith("_")
        name = key[1:] if primitive_extension else key
        element = elements.get(name)
        child = f"{path}.{name}"
        if element is None or (primitive_extension and element.type[0].isupper()):
            raise FHIRError(f"Unknown element '{key}' in {path} ({type_name})", expression=child)
        if element.choice:
            previous = chosen.setdefault(element.choice, name)
            if previous != name:
                raise FHIRError(
                    f"{path} has both {previous} and {name}; a choice element takes one type",
                    expression=child,
                )
        if value is None:
            raise FHIRError(f"{child} is null; omit empty elements", expression=child)
        if element.many:
            if not isinstance(value, list):
                raise FHIRError(f"{child} repeats, so it must be a JSON array", expression=child)
            if not value:
                raise FHIRError(f"{child} is an empty array; omit it instead", expression=child)
            for index, item in enumerate(value):
                _check_value(element, item, f"{child}[{index}]", primitive_extension, depth)
        else:
            if isinstance(value, list):
                raise FHIRError(
                    f"{child} does not repeat, so it must not be an array", expression=child
                )
            _check_value(element, value, child, primitive_extension, depth)
    tables = structure()
    for name in tables.required[type_name]:
        if name not in obj and f"_{name}" not in obj:
            raise FHIRError(
                f"{path}.{name} is required", expression=f"{path}.{name}", code="required"
            )
    for choice in tables.required_choices[type_name]:
        if choice not in chosen:
            raise FHIRError(
                f"{path}.{choice}[x] is required",
                expression=f"{path}.{choice}[x]",
                code="required",
            )


def _check_value(
    element: Element, value: Any, path: str, primitive_extension: bool, depth: int
) -> None:
    if primitive_extension:
        # `_given: [null, {...}]` pairs extensions with array items; null means "none here".
        if value is not None:
            _check_object(value, "Element", path, depth + 1)
    elif element.type[0].isupper():
        _check_object(value, element.type, path, depth + 1)
    elif value is None and element.many:
        return
    else:
        _check_primitive(element.type, value, path)


def _check_resource(resource: Any, path: str, depth: int = 0) -> None:
    if not isinstance(resource, dict):
        raise FHIRError(f"{path} must be a JSON object holding a FHIR resource", expression=path)
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise FHIRError(f"{path} has no resourceType", expression=path, code="required")
    if resource_type not in structure().resource_types:
        raise FHIRError(
            f"Unknown resource type '{resource_type}' at {path}",
            expression=path,
            code="not-supported",
        )
    body = {k: v for k, v in resource.items() if k != "resourceType"}
    if body:
        _check_object(body, resource_type, path, depth + 1)


def validate_structure(resource: Any) -> None:
    """Raise :class:`FHIRError` at the first structural problem in ``resource``."""
    if not isinstance(resource, dict):
        raise FHIRError("The body must be a JSON object holding a FHIR resource", expression="")
    resource_type = resource.get("resourceType")
    _check_resource(
        resource, resource_type if isinstance(resource_type, str) and resource_type else "Resource"
    )


def validate_uk_core(resource: dict[str, Any], *, writer_org: str | None) -> None:
    """The UK Core rules that matter to an ICS.

    Any identifier in the NHS number system must carry a valid number (modulus-11 check
    digit). A Patient written on behalf of a contributing organisation must carry an NHS
    number, so records from different organisations link to one person.
    """
    identifiers = resource.get("identifier")
    if isinstance(identifiers, list):
        for index, identifier in enumerate(identifiers):
            if isinstance(identifier, dict) and identifier.get("system") == nhs_number.SYSTEM:
                value = identifier.get("value")
                if not isinstance(value, str) or not nhs_number.is_valid(value):
                    path = f"{resource['resourceType']}.identifier[{index}].value"
                    raise FHIRError(
                        "The NHS number is not valid: it needs ten digits and a correct "
                        "check digit",
                        expression=path,
                        code="value",
                    )
    if resource.get("resourceType") == "Patient" and writer_org is not None:
        has_nhs_number = isinstance(identifiers, list) and any(
            isinstance(i, dict) and i.get("system") == nhs_number.SYSTEM for i in identifiers
        )
        if not has_nhs_number:
            raise FHIRError(
                "A Patient written by an organisation must carry an identifier with system "
                f"{nhs_number.SYSTEM}",
                expression="Patient.identifier",
                code="required",
            )


class LiteralReference(NamedTuple):
    path: str
    """FHIRPath-style location of the ``reference`` element."""
    value: str
    """The reference text as written."""


def references(resource: Any, path: str) -> Iterator[tuple[dict[str, Any], LiteralReference]]:
    """Every ``Reference.reference`` in ``resource`` with the object that holds it.

    Contained resources are skipped: their references are the container's business, and
    local ``#id`` references point inside the resource.
    """
    if isinstance(resource, dict):
        for key, value in resource.items():
            if key == "contained":
                continue
            child = f"{path}.{key}"
            if key == "reference" and isinstance(value, str):
                yield resource, LiteralReference(child, value)
            elif isinstance(value, dict | list):
                yield from references(value, child)
    elif isinstance(resource, list):
        for index, item in enumerate(resource):
            yield from references(item, f"{path}[{index}]")


_RELATIVE = re.compile(
    r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?"
)


def relative_reference(value: str) -> tuple[str, str] | None:
    """(type, id) for a relative reference ``Type/id[/_history/v]``, else None."""
    match = _RELATIVE.fullmatch(value)
    if match is None or match["type"] not in structure().resource_types:
        return None
    return match["type"], match["id"]


def validate_references(resource: dict[str, Any], exists: Callable[[str, str], bool]) -> None:
    """Every relative reference must name a resource that ``exists(type, id)``.

    Local (``#id``), absolute (``http…``), ``urn:`` and conditional references are left alone:
    bundle processing resolves ``urn:uuid`` and conditional ones before this runs.
    """
    for _holder, ref in references(resource, resource["resourceType"]):
        target = relative_reference(ref.value)
        if target is None:
            continue
        if not exists(*target):
            raise FHIRError(
                f"{ref.path} refers to {ref.value}, which does not exist",
                expression=ref.path,
                code="not-found",
                status=422,
            )
