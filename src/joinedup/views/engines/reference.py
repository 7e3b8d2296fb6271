"""The reference engine: runs a view over resources one by one, in pure Python.

It is the correctness oracle the SQL engines are checked against (conformance suite and
Hypothesis tests), not the fast path. Rows follow SQL on FHIR v2 §"Processing algorithm":
for each focus of a select (its forEach/forEachOrNull/repeat, else the parent's focus) the
row is the cross product of its own columns, each nested select's rows and the
concatenated rows of its unionAll branches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import orjson

from joinedup.views.fhirpath.evaluate import Context, EvaluationError, as_boolean, evaluate
from joinedup.views.model import Column, Select, ViewDefinition

Row = dict[str, Any]

_INTEGER_TYPES = frozenset({"integer", "integer64", "positiveInt", "unsignedInt"})


class ViewRunError(ValueError):
    """The data makes the view fail (a non-boolean where, several values in a scalar column)."""


def run_reference(view: ViewDefinition, resources: Iterable[dict[str, Any]]) -> Iterator[Row]:
    """Rows of ``view`` over ``resources`` (other resource types are skipped)."""
    for resource in resources:
        if resource.get("resourceType") != view.resource:
            continue
        ctx = Context([resource], resource, 0)
        if all(_keep(path, where, ctx) for path, where in view.where):
            yield from _rows(view.root, ctx)


def _keep(path: Any, where: str, ctx: Context) -> bool:
    try:
        return as_boolean(evaluate(path, ctx), "a where path") is True
    except EvaluationError as exc:
        raise ViewRunError(f"{where}: {exc}") from exc


def _foci(select: Select, ctx: Context) -> list[Any]:
    if select.for_each is not None:
        return evaluate(select.for_each, ctx)
    found: list[Any] = []

    def walk(focus: list[Any]) -> None:
        for path in select.repeat:
            for item in evaluate(path, Context(focus, ctx.resource, 0)):
                found.append(item)
                walk([item])

    walk(ctx.focus)
    return found


def _rows(select: Select, ctx: Context) -> list[Row]:
    if not select.iterates:
        return _rows_for_focus(select, ctx)
    foci = _foci(select, ctx)
    if not foci:
        if not select.or_null:
            return []
        row = dict.fromkeys(select.column_names())
        row.update(_column_values(select.columns, Context([], ctx.resource, 0)))
        return [row]
    out: list[Row] = []
    for index, focus in enumerate(foci):
        out.extend(_rows_for_focus(select, Context([focus], ctx.resource, index)))
    return out


def _rows_for_focus(select: Select, ctx: Context) -> list[Row]:
    rows: list[Row] = [_column_values(select.columns, ctx)]
    parts = [_rows(child, ctx) for child in select.selects]
    if select.union_all:
        parts.append([row for branch in select.union_all for row in _rows(branch, ctx)])
    for part in parts:
        rows = [{**left, **right} for left in rows for right in part]
    return rows


def _column_values(columns: tuple[Column, ...], ctx: Context) -> Row:
    row: Row = {}
    for column in columns:
        try:
            values = evaluate(column.path, ctx)
        except EvaluationError as exc:
            raise ViewRunError(f"{column.where}.path: {exc}") from exc
        if column.collection:
            row[column.name] = [convert(value, column.type) for value in values]
        elif len(values) > 1:
            raise ViewRunError(
                f"{column.where}.path: {column.source!r} returned {len(values)} values; "
                "set collection: true or narrow the path (e.g. with first())"
            )
        else:
            row[column.name] = convert(values[0], column.type) if values else None
    return row


def convert(value: Any, kind: str | None) -> Any:
    """A FHIRPath value as the column's output value (the SQL engines cast the same way)."""
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=_decimal_text).decode()
    if kind in _INTEGER_TYPES and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return int(value)
    if kind == "decimal" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return float(value)
    if kind not in {None, "boolean", "decimal", *_INTEGER_TYPES} and not isinstance(value, str):
        return _text(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decimal_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)
