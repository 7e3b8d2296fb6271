"""The ViewDefinition model: immutable, validated before any data is read.

:func:`parse_view` turns ViewDefinition JSON into a :class:`ViewDefinition` whose paths are
already parsed and resolved. Every problem is a :class:`ViewError` (a
:class:`~joinedup.fhir.outcome.FHIRError`) naming the element inside the ViewDefinition, e.g.
``ViewDefinition.select[1].column[0].path``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from joinedup.fhir.outcome import FHIRError
from joinedup.views.fhirpath.ast import Expr, Literal
from joinedup.views.fhirpath.parser import FHIRPathSyntaxError, parse
from joinedup.views.fhirpath.resolve import PathError, resolve


class ViewError(FHIRError):
    """A ViewDefinition that cannot run; ``expression`` holds the failing element's path."""

    def __init__(self, diagnostics: str, where: str) -> None:
        super().__init__(f"{where}: {diagnostics}", code="invalid", expression=where)


# SQL on FHIR v2: column names must be usable as database column names.
_COLUMN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")

# valueX of ViewDefinition.constant -> FHIRPath literal type
_CONSTANT_KINDS: dict[str, str] = {
    "valueBase64Binary": "string",
    "valueBoolean": "boolean",
    "valueCanonical": "string",
    "valueCode": "string",
    "valueDate": "date",
    "valueDateTime": "dateTime",
    "valueDecimal": "decimal",
    "valueId": "string",
    "valueInstant": "dateTime",
    "valueInteger": "integer",
    "valueInteger64": "integer",
    "valueOid": "string",
    "valueString": "string",
    "valuePositiveInt": "integer",
    "valueTime": "time",
    "valueUnsignedInt": "integer",
    "valueUri": "string",
    "valueUrl": "string",
    "valueUuid": "string",
}

COLUMN_TYPES = frozenset(
    {
        "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
        "instant", "integer", "integer64", "markdown", "oid", "positiveInt", "string", "time",
        "unsignedInt", "uri", "url", "uuid",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    name: str
    path: Expr
    source: str
    """The path as written, for messages and docs."""
    type: str | None
    collection: bool
    where: str


@dataclass(frozen=True)
class Select:
    columns: tuple[Column, ...]
    selects: tuple[Select, ...]
    union_all: tuple[Select, ...]
    for_each: Expr | None
    or_null: bool
    """``forEachOrNull`` rather than ``forEach``: keep one all-null row when nothing matches."""
    repeat: tuple[Expr, ...]
    where: str

    @property
    def iterates(self) -> bool:
        return self.for_each is not None or bool(self.repeat)

    def column_names(self) -> tuple[str, ...]:
        """Output columns of this select in spec order: own columns, nested selects, unionAll."""
        names = [column.name for column in self.columns]
        for child in self.selects:
            names.extend(child.column_names())
        if self.union_all:
            names.extend(self.union_all[0].column_names())
        return tuple(names)

    def all_columns(self) -> tuple[Column, ...]:
        found = list(self.columns)
        for child in self.selects:
            found.extend(child.all_columns())
        if self.union_all:
            found.extend(self.union_all[0].all_columns())
        return tuple(found)


@dataclass(frozen=True)
class ViewDefinition:
    name: str | None
    resource: str
    root: Select
    """The view's ``select`` list as one select without a forEach."""
    where: tuple[tuple[Expr, str], ...]
    """``(path, location)`` filters that must all be true."""
    constants: Mapping[str, Literal]

    @property
    def column_names(self) -> tuple[str, ...]:
        return self.root.column_names()

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.root.all_columns()


def parse_view(data: Any) -> ViewDefinition:
    """Validate ViewDefinition JSON (already decoded) into a :class:`ViewDefinition`."""
    where = "ViewDefinition"
    if not isinstance(data, dict):
        raise ViewError("a ViewDefinition must be a JSON object", where)
    kind = data.get("resourceType", "ViewDefinition")
    if kind != "ViewDefinition":
        raise ViewError(f"resourceType is {kind!r}, expected 'ViewDefinition'", where)
    resource = data.get("resource")
    if not isinstance(resource, str) or not _RESOURCE_TYPE.match(resource):
        raise ViewError(
            "resource must name a FHIR resource type, e.g. 'Patient'", f"{where}.resource"
        )
    constants = _parse_constants(data.get("constant", []), f"{where}.constant")
    select_list = data.get("select")
    if not isinstance(select_list, list) or not select_list:
        raise ViewError("select must be a non-empty list of selects", f"{where}.select")
    selects = tuple(
        _parse_select(item, f"{where}.select[{i}]", constants) for i, item in enumerate(select_list)
    )
    root = Select((), selects, (), None, False, (), where)
    _check_unique_columns(root)
    filters = data.get("where", [])
    if not isinstance(filters, list):
        raise ViewError("where must be a list of {path: ...}", f"{where}.where")
    parsed_filters = []
    for i, item in enumerate(filters):
        at = f"{where}.where[{i}]"
        if not isinstance(item, dict):
            raise ViewError("each where must be an object with a path", at)
        parsed_filters.append(
            (_parse_path(item.get("path"), f"{at}.path", constants), f"{at}.path")
        )
    name = data.get("name")
    return ViewDefinition(
        name if isinstance(name, str) else None, resource, root, tuple(parsed_filters), constants
    )


def _parse_constants(items: Any, where: str) -> dict[str, Literal]:
    if not isinstance(items, list):
        raise ViewError("constant must be a list", where)
    constants: dict[str, Literal] = {}
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ViewError("each constant needs a name", at)
        values = [key for key in item if key.startswith("value")]
        if len(values) != 1 or values[0] not in _CONSTANT_KINDS:
            raise ViewError(
                "each constant needs exactly one value[x] of a primitive type, e.g. valueString",
                at,
            )
        kind = _CONSTANT_KINDS[values[0]]
        raw = item[values[0]]
        constants[item["name"]] = Literal(_constant_value(raw, kind, f"{at}.{values[0]}"), kind)
    return constants


def _constant_value(raw: Any, kind: str, where: str) -> str | int | Decimal | bool:
    if kind == "boolean" and isinstance(raw, bool):
        return raw
    if kind == "integer" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind == "decimal" and isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        return Decimal(str(raw))
    if kind in {"string", "date", "dateTime", "time"} and isinstance(raw, str):
        return raw
    raise ViewError(f"value does not match its type ({kind})", where)


def _parse_path(text: Any, where: str, constants: dict[str, Literal]) -> Expr:
    if not isinstance(text, str):
        raise ViewError("path must be a FHIRPath string", where)
    try:
        return resolve(parse(text), constants)
    except (FHIRPathSyntaxError, PathError) as exc:
        raise ViewError(f"{exc} in {text!r}", where) from exc


def _parse_select(data: Any, where: str, constants: dict[str, Literal]) -> Select:
    if not isinstance(data, dict):
        raise ViewError("a select must be an object", where)
    iterators = [key for key in ("forEach", "forEachOrNull", "repeat") if key in data]
    if len(iterators) > 1:
        raise ViewError(f"use only one of {', '.join(iterators)}", where)
    for_each = None
    or_null = False
    repeat: tuple[Expr, ...] = ()
    if "forEach" in data or "forEachOrNull" in data:
        key = "forEach" if "forEach" in data else "forEachOrNull"
        for_each = _parse_path(data[key], f"{where}.{key}", constants)
        or_null = key == "forEachOrNull"
    elif "repeat" in data:
        paths = data["repeat"]
        if not isinstance(paths, list) or not paths:
            raise ViewError("repeat must be a non-empty list of paths", f"{where}.repeat")
        repeat = tuple(
            _parse_path(p, f"{where}.repeat[{i}]", constants) for i, p in enumerate(paths)
        )
    columns = tuple(
        _parse_column(item, f"{where}.column[{i}]", constants)
        for i, item in enumerate(_list(data, "column", where))
    )
    selects = tuple(
        _parse_select(item, f"{where}.select[{i}]", constants)
        for i, item in enumerate(_list(data, "select", where))
    )
    union_all = tuple(
        _parse_select(item, f"{where}.unionAll[{i}]", constants)
        for i, item in enumerate(_list(data, "unionAll", where))
    )
    if not columns and not selects and not union_all:
        raise ViewError("a select needs at least one column, select or unionAll", where)
    if union_all:
        first = union_all[0].column_names()
        for i, branch in enumerate(union_all[1:], start=1):
            if branch.column_names() != first or _types(branch) != _types(union_all[0]):
                raise ViewError(
                    f"unionAll branches must have the same columns (and types) in the same order: "
                    f"{list(first)} vs {list(branch.column_names())}",
                    f"{where}.unionAll[{i}]",
                )
    return Select(columns, selects, union_all, for_each, or_null, repeat, where)


def _types(select: Select) -> tuple[str | None, ...]:
    return tuple(column.type for column in select.all_columns())


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ViewError(f"{key} must be a list", f"{where}.{key}")
    return value


def _parse_column(data: Any, where: str, constants: dict[str, Literal]) -> Column:
    if not isinstance(data, dict):
        raise ViewError("a column must be an object with name and path", where)
    name = data.get("name")
    if not isinstance(name, str) or not _COLUMN_NAME.match(name):
        raise ViewError(
            "column name must start with a letter and hold only letters, digits and _",
            f"{where}.name",
        )
    path = _parse_path(data.get("path"), f"{where}.path", constants)
    kind = data.get("type")
    if kind is not None and kind not in COLUMN_TYPES:
        raise ViewError(
            f"type {kind!r} is not a FHIR primitive type ({', '.join(sorted(COLUMN_TYPES))})",
            f"{where}.type",
        )
    collection = data.get("collection", False)
    if not isinstance(collection, bool):
        raise ViewError("collection must be true or false", f"{where}.collection")
    return Column(name, path, data["path"], kind, collection, where)


def _check_unique_columns(root: Select) -> None:
    seen: dict[str, str] = {}
    for column in root.all_columns():
        if column.name in seen:
            raise ViewError(
                f"column name {column.name!r} is already used at {seen[column.name]}",
                f"{column.where}.name",
            )
        seen[column.name] = column.where
