"""Builds the R4 element table that ``joinedup.fhir.validation`` ships, from the
``fhir.resources.R4B`` models (themselves generated from the official FHIR definitions).

The shipped table ``src/joinedup/fhir/r4_structure.json`` must equal what this builds (a test
checks it); regenerate it after upgrading fhir.resources with::

    python tests/unit/fhir/r4_structure_source.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import types
import typing
from pathlib import Path
from typing import Any

import fhir.resources.R4B as r4b
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel

TARGET = Path(__file__).resolve().parents[3] / "src" / "joinedup" / "fhir" / "r4_structure.json"

# Python types used by fhir.resources for primitives without an annotation marker.
_PLAIN = {bool: "boolean", str: "string", int: "integer"}


def _models() -> dict[str, type[FHIRAbstractModel]]:
    found: dict[str, type[FHIRAbstractModel]] = {}
    for info in pkgutil.iter_modules(r4b.__path__):
        if info.name.startswith("tests") or info.name in {"fhirtypes", "fhirtypesvalidators"}:
            continue
        module = importlib.import_module(f"fhir.resources.R4B.{info.name}")
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, FHIRAbstractModel) and obj.__module__ == module.__name__:
                found[name] = obj
    return found


def _element_type(annotation: Any) -> tuple[str, bool]:
    """(FHIR type name, repeats) for one pydantic field annotation."""
    many = False
    while True:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (typing.Union, types.UnionType):
            annotation = args[0]
        elif origin in (list, typing.List):  # noqa: UP006
            many = True
            annotation = args[0]
        elif origin is typing.Annotated:
            marker = typing.get_args(annotation)[1]
            name = type(marker).__name__
            return name[0].lower() + name[1:], many
        elif hasattr(annotation, "get_model_klass"):
            return annotation.get_model_klass().__name__, many
        elif annotation in _PLAIN:
            return _PLAIN[annotation], many
        else:
            raise TypeError(f"unhandled annotation {annotation!r}")


def build() -> dict[str, Any]:
    types: dict[str, dict[str, list[Any]]] = {}
    resources: list[str] = []
    for name, model in sorted(_models().items()):
        if name in {"FHIRAbstractModel", "FHIRPrimitiveExtension"}:
            continue
        if (
            issubclass(model, Resource)
            and model.get_resource_type() == name
            and name
            not in {
                "Resource",
                "DomainResource",
            }
        ):
            resources.append(name)
        elements: dict[str, list[Any]] = {}
        for field in model.model_fields.values():
            extra = field.json_schema_extra
            if not isinstance(extra, dict) or not extra.get("element_property"):
                continue
            type_name, many = _element_type(field.annotation)
            required = bool(field.is_required() or extra.get("element_required"))
            elements[field.alias or ""] = [
                type_name,
                int(many),
                int(required),
                int(bool(extra.get("summary_element_property"))),
                extra.get("one_of_many", ""),
                int(bool(extra.get("one_of_many_required"))),
            ]
        types[name] = elements
    return {"resources": sorted(resources), "types": types}


def render() -> str:
    return json.dumps(build(), separators=(",", ":"), sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
