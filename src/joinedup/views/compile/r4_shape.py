"""The type tree of a resource as the FHIR R4 definitions give it, for sources read by schema.

NDJSON has no schema of its own; reading it with one (DuckDB's JSON reader given each column's
type) turns every value straight into typed structs, lists and scalars, with no JSON text per
row. The tree follows the R4 element table (:func:`joinedup.fhir.validation.structure`), never
the data:

* text-like primitives, dates, times and instants included, are ``string`` (a date stays as
  written); ``boolean`` is ``boolean``; ``integer``, ``positiveInt`` and ``unsignedInt`` are
  ``integer``; ``decimal`` is ``json`` (a JSON number keeps its value, as on the JSON path);
* a complex type is a :class:`Struct` of *all* its elements, so a struct turned back into
  JSON keeps every element; ``Extension`` (``extension``, ``modifierExtension``), ``Resource``
  (``contained``) and complex types nested deeper than :data:`MAX_DEPTH` are ``json``, kept
  whole;
* an element with ``max="*"`` is a :class:`ListOf`; each type of a choice element is its own
  field (``valueQuantity``), as FHIR JSON spells it;
* any other member of the resource (a primitive extension such as ``_birthDate``, non-FHIR
  data, every member of a type R4 does not define) is ``json``.
"""

from __future__ import annotations

from functools import lru_cache

from joinedup.fhir.validation import Element, structure
from joinedup.views.compile.shapes import ListOf, Shape, Struct

MAX_DEPTH = 3
"""Complex types nested deeper than this (``Identifier.assigner.identifier.type`` is the
fourth) are JSON: recursive types (``Identifier`` and ``Reference``, ``QuestionnaireItem``)
must stop somewhere, and views seldom reach that far."""

_SCALARS = {"boolean": "boolean", "integer": "integer", "positiveInt": "integer",
            "unsignedInt": "integer", "integer64": "integer", "decimal": "json"}  # fmt: skip
_TEXT = frozenset({
    "string", "code", "id", "uri", "url", "canonical", "markdown", "oid", "uuid", "uuidVersion",
    "base64Binary", "encodedBytes", "xhtml", "date", "dateTime", "instant", "time",
})  # fmt: skip
_WHOLE = frozenset({"Extension", "Resource"})


@lru_cache(maxsize=256)
def resource_shape(resource_type: str) -> Struct:
    """The typed row of ``resource_type``: ``resourceType`` and every element R4 defines for
    it, any other member JSON."""
    elements = structure().types.get(resource_type, {})
    fields = tuple((name, _element(element, depth=0)) for name, element in elements.items())
    return Struct((("resourceType", "string"), *fields), others="json")


def _element(element: Element, depth: int) -> Shape:
    kind = _type(element.type, depth)
    return ListOf(kind) if element.many else kind


def _type(name: str, depth: int) -> Shape:
    if name in _TEXT:
        return "string"
    if name in _SCALARS:
        return _SCALARS[name]
    elements = structure().types.get(name)
    if elements is None or name in _WHOLE or depth >= MAX_DEPTH:
        return "json"
    return Struct(tuple((field, _element(e, depth + 1)) for field, e in elements.items()))
