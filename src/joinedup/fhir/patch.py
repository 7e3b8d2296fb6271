"""JSON Patch (RFC 6902) applied to a FHIR resource, for the ``PATCH`` interaction.

The patch works on a copy; the caller validates the result like any other write. A patch
may not change ``resourceType`` or ``id``.
"""

from __future__ import annotations

import copy
from typing import Any

from joinedup.fhir.outcome import FHIRError

_OPERATIONS = {"add", "remove", "replace", "move", "copy", "test"}


def _pointer(text: Any, where: str) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise FHIRError(f"{where} must be a JSON Pointer such as /name/0/family", expression=where)
    if not text:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/")]


def _index(container: list[Any], token: str, where: str, *, for_add: bool) -> int:
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise FHIRError(f"{where}: '{token}' is not an array index", expression=where)
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise FHIRError(f"{where}: index {index} is past the end of the array", expression=where)
    return index


def _parent(document: Any, parts: list[str], where: str) -> Any:
    node = document
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, where, for_add=False)]
        else:
            raise FHIRError(f"{where}: the path does not exist in the resource", expression=where)
    return node


def _get(document: Any, parts: list[str], where: str) -> Any:
    if not parts:
        return document
    parent = _parent(document, parts, where)
    token = parts[-1]
    if isinstance(parent, dict) and token in parent:
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(parent, token, where, for_add=False)]
    raise FHIRError(f"{where}: the path does not exist in the resource", expression=where)


def _remove(document: Any, parts: list[str], where: str) -> Any:
    if not parts:
        raise FHIRError(f"{where}: the whole resource cannot be removed", expression=where)
    parent = _parent(document, parts, where)
    token = parts[-1]
    if isinstance(parent, dict) and token in parent:
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(parent, token, where, for_add=False))
    raise FHIRError(f"{where}: the path does not exist in the resource", expression=where)


def _add(document: Any, parts: list[str], value: Any, where: str) -> Any:
    if not parts:
        return value
    parent = _parent(document, parts, where)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, where, for_add=True), value)
    else:
        raise FHIRError(f"{where}: the parent is not an object or array", expression=where)
    return document


def apply_patch(resource: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The resource after ``patch``; raises :class:`FHIRError` (path ``Patch[i]``) on a bad op."""
    if not isinstance(patch, list):
        raise FHIRError(
            "A JSON Patch body is an array of operations "
            "(Content-Type: application/json-patch+json)",
            expression="Patch",
        )
    document: Any = copy.deepcopy(resource)
    for number, operation in enumerate(patch):
        where = f"Patch[{number}]"
        if not isinstance(operation, dict) or operation.get("op") not in _OPERATIONS:
            raise FHIRError(
                f"{where} needs an 'op' of {', '.join(sorted(_OPERATIONS))}", expression=where
            )
        op = operation["op"]
        path = _pointer(operation.get("path"), f"{where}.path")
        if op in {"add", "replace", "test"} and "value" not in operation:
            raise FHIRError(f"{where} ({op}) needs a 'value'", expression=where)
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation["value"]), where)
        elif op == "remove":
            _remove(document, path, where)
        elif op == "replace":
            _get(document, path, where)
            if path:
                _remove(document, path, where)
            document = _add(document, path, copy.deepcopy(operation["value"]), where)
        elif op == "test":
            if _get(document, path, where) != operation["value"]:
                raise FHIRError(
                    f"{where}: test failed, the value differs", expression=where, status=422
                )
        else:
            source = _pointer(operation.get("from"), f"{where}.from")
            if op == "move" and path[: len(source)] == source and path != source:
                raise FHIRError(f"{where}: cannot move a value into itself", expression=where)
            value = (
                _remove(document, source, where)
                if op == "move"
                else copy.deepcopy(_get(document, source, where))
            )
            document = _add(document, path, value, where)
    if not isinstance(document, dict):
        raise FHIRError("The patched resource is not a JSON object", expression="Patch")
    for fixed in ("resourceType", "id"):
        if document.get(fixed) != resource.get(fixed):
            raise FHIRError(f"A patch may not change {fixed}", expression=f"Patch.{fixed}")
    return document
