"""Pure-Python evaluation of resolved FHIRPath-subset expressions over decoded FHIR JSON.

Values are what ``json.loads(..., parse_float=Decimal)`` gives (dict, list, str, int,
Decimal, bool); a FHIRPath collection is a Python list. This is the reference semantics
the SQL compiler is tested against, so it favours clarity over speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from joinedup.views.fhirpath.ast import (
    Binary,
    Call,
    EmptySet,
    Expr,
    Index,
    Literal,
    Member,
    Negate,
    RowIndex,
    This,
)
from joinedup.views.fhirpath.boundary import boundary, temporal_kind


class EvaluationError(ValueError):
    """A path that is valid but cannot be applied to this data (e.g. ``<`` on two items)."""


@dataclass(frozen=True)
class Context:
    focus: list[Any]
    """The collection paths without a base apply to (``$this``)."""
    resource: dict[str, Any]
    row_index: int


_PRIMITIVE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "code": (str,),
    "id": (str,),
    "uri": (str,),
    "url": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "decimal": (Decimal, int),
}


def evaluate(expr: Expr, ctx: Context) -> list[Any]:
    if isinstance(expr, Literal):
        return [] if expr.kind == "type" else [expr.value]
    if isinstance(expr, EmptySet):
        return []
    if isinstance(expr, This):
        return ctx.focus
    if isinstance(expr, RowIndex):
        return [ctx.row_index]
    if isinstance(expr, Member):
        items = ctx.focus if expr.base is None else evaluate(expr.base, ctx)
        return member(items, expr.name)
    if isinstance(expr, Index):
        items = evaluate(expr.base, ctx)
        position = _singleton(evaluate(expr.index, ctx), "an index")
        if not isinstance(position, int) or isinstance(position, bool):
            raise EvaluationError("an index must be an integer")
        return items[position : position + 1] if position >= 0 else []
    if isinstance(expr, Negate):
        value = _singleton(evaluate(expr.operand, ctx), "unary minus")
        return [] if value is None else [-value]
    if isinstance(expr, Binary):
        return _binary(expr, ctx)
    assert isinstance(expr, Call)
    return _call(expr, ctx)


def member(items: list[Any], name: str) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        value = item.get(name)
        if value is None and item.get("resourceType") == name:
            out.append(item)  # `Patient.name` names the resource itself first
        elif isinstance(value, list):
            out.extend(v for v in value if v is not None)
        elif value is not None:
            out.append(value)
    return out


def _singleton(items: list[Any], what: str) -> Any:
    if len(items) > 1:
        raise EvaluationError(f"{what} needs a single value, got {len(items)}")
    return items[0] if items else None


def as_boolean(items: list[Any], what: str) -> bool | None:
    value = _singleton(items, what)
    if value is None or isinstance(value, bool):
        return value
    raise EvaluationError(f"{what} must be a boolean, got {type(value).__name__}")


def _equal(left: list[Any], right: list[Any]) -> bool:
    if len(left) != len(right):
        return False
    return all(_same(a, b) for a, b in zip(left, right, strict=True))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _binary(expr: Binary, ctx: Context) -> list[Any]:
    op = expr.op
    left = evaluate(expr.left, ctx)
    right = evaluate(expr.right, ctx)
    if op in {"and", "or", "xor", "implies"}:
        return _logic(op, as_boolean(left, f"'{op}'"), as_boolean(right, f"'{op}'"))
    if op == "&":
        return ["".join(str(_singleton(side, "'&'") or "") for side in (left, right))]
    if not left or not right:
        return []
    if op in {"=", "!="}:
        return [_equal(left, right) == (op == "=")]
    a = _singleton(left, f"'{op}'")
    b = _singleton(right, f"'{op}'")
    try:
        return [_ORDERED[op](a, b)] if op in _ORDERED else _arithmetic(op, a, b)
    except TypeError as exc:
        raise EvaluationError(f"cannot apply '{op}' to {a!r} and {b!r}") from exc


_ORDERED = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _arithmetic(op: str, a: Any, b: Any) -> list[Any]:
    if op == "+" and isinstance(a, str):
        return [a + b]
    try:
        if op == "+":
            return [a + b]
        if op == "-":
            return [a - b]
        if op == "*":
            return [a * b]
        if op == "/":
            return [Decimal(a) / Decimal(b)]
        if op == "div":
            return [int(Decimal(a) // Decimal(b))]
        return [
            Decimal(a) % Decimal(b) if isinstance(a, Decimal) or isinstance(b, Decimal) else a % b
        ]
    except (ZeroDivisionError, DivisionByZero, InvalidOperation):
        return []  # FHIRPath: division by zero gives the empty collection


def _logic(op: str, a: bool | None, b: bool | None) -> list[Any]:
    if op == "and":
        result = False if a is False or b is False else (None if a is None or b is None else True)
    elif op == "or":
        result = True if a is True or b is True else (None if a is None or b is None else False)
    elif op == "xor":
        result = None if a is None or b is None else a != b
    else:  # implies
        result = True if a is False or b is True else (None if a is None or b is None else False)
    return [] if result is None else [result]


def reference_key(reference: Any, type_name: str | None) -> str | None:
    """The key of the resource a Reference points to: the id in ``[base/]Type/id[/_history/v]``."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    text = reference["reference"].split("/_history/")[0]
    if text.startswith("urn:uuid:"):
        return text[len("urn:uuid:") :] if type_name is None else None
    parts = text.split("/")
    if len(parts) < 2:
        return None
    if type_name is not None and parts[-2] != type_name:
        return None
    return parts[-1]


def _call(call: Call, ctx: Context) -> list[Any]:
    items = ctx.focus if call.base is None else evaluate(call.base, ctx)
    name = call.name
    if name == "where":
        return [
            item
            for item in items
            if as_boolean(evaluate(call.args[0], _with_focus(ctx, [item])), "where()") is True
        ]
    if name == "exists":
        if call.args:
            items = [
                item
                for item in items
                if as_boolean(evaluate(call.args[0], _with_focus(ctx, [item])), "exists()") is True
            ]
        return [bool(items)]
    if name == "empty":
        return [not items]
    if name == "not":
        value = as_boolean(items, "not()")
        return [] if value is None else [not value]
    if name == "first":
        return items[:1]
    if name == "join":
        separator = (
            str(call.args[0].value) if call.args and isinstance(call.args[0], Literal) else ""
        )
        return [separator.join(str(item) for item in items)]
    if name == "extension":
        assert isinstance(call.args[0], Literal)
        url = call.args[0].value
        return [ext for ext in member(items, "extension") if ext.get("url") == url]
    if name == "ofType":
        assert isinstance(call.args[0], Literal)
        return [item for item in items if is_of_type(item, str(call.args[0].value))]
    if name in {"lowBoundary", "highBoundary"}:
        kind = None if call.base is None else temporal_kind(call.base)
        found = (boundary(item, kind, name == "highBoundary") for item in items)
        return [value for value in found if value is not None]
    if name == "getResourceKey":
        return [item["id"] for item in items if isinstance(item, dict) and "id" in item]
    assert name == "getReferenceKey"
    type_name = None
    if call.args and isinstance(call.args[0], Literal):
        type_name = str(call.args[0].value)
    keys = (reference_key(item, type_name) for item in items)
    return [key for key in keys if key is not None]


def is_of_type(item: Any, type_name: str) -> bool:
    if type_name in _PRIMITIVE_TYPES:
        wanted = _PRIMITIVE_TYPES[type_name]
        return isinstance(item, wanted) and (bool not in wanted) == (not isinstance(item, bool))
    return isinstance(item, dict) and item.get("resourceType", type_name) == type_name


def _with_focus(ctx: Context, focus: list[Any]) -> Context:
    return Context(focus, ctx.resource, ctx.row_index)
