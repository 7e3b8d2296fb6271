"""Checks a parsed path and puts it in the normal form every engine evaluates.

* ``%name`` constants are replaced by their literal values (unknown names are errors);
* ``x.ofType(T)`` on a member ``x`` becomes the choice element ``xT`` (``value.ofType(Quantity)``
  is ``valueQuantity`` in FHIR JSON), so engines never guess choice types;
* type arguments (``ofType(T)``, ``getReferenceKey(T)``) become ``Literal(T, "type")``;
* functions outside the subset and wrong argument counts are rejected.
"""

from __future__ import annotations

from joinedup.views.fhirpath.ast import (
    Binary,
    Call,
    ConstantRef,
    Expr,
    Index,
    Literal,
    Member,
    Negate,
)

# name -> (minimum, maximum) number of arguments
FUNCTIONS: dict[str, tuple[int, int]] = {
    "where": (1, 1),
    "exists": (0, 1),
    "empty": (0, 0),
    "not": (0, 0),
    "first": (0, 0),
    "join": (0, 1),
    "extension": (1, 1),
    "ofType": (1, 1),
    "lowBoundary": (0, 0),
    "highBoundary": (0, 0),
    "getResourceKey": (0, 0),
    "getReferenceKey": (0, 1),
}
_TYPE_ARGUMENT = frozenset({"ofType", "getReferenceKey"})
_UNSUPPORTED_OPERATORS = frozenset({"|", "in", "contains", "~", "!~"})


class PathError(ValueError):
    """A path that parses but cannot be evaluated (unknown function or constant, bad argument)."""


def resolve(expr: Expr, constants: dict[str, Literal]) -> Expr:
    if isinstance(expr, ConstantRef):
        if expr.name not in constants:
            known = ", ".join(f"%{name}" for name in sorted(constants)) or "none"
            raise PathError(f"constant %{expr.name} is not defined (defined: {known})")
        return constants[expr.name]
    if isinstance(expr, Member):
        base = None if expr.base is None else resolve(expr.base, constants)
        return Member(base, expr.name)
    if isinstance(expr, Index):
        return Index(resolve(expr.base, constants), resolve(expr.index, constants))
    if isinstance(expr, Binary):
        if expr.op in _UNSUPPORTED_OPERATORS:
            raise PathError(f"operator {expr.op!r} is not in the SQL on FHIR subset")
        return Binary(expr.op, resolve(expr.left, constants), resolve(expr.right, constants))
    if isinstance(expr, Negate):
        return Negate(resolve(expr.operand, constants))
    if isinstance(expr, Call):
        return _resolve_call(expr, constants)
    return expr


def _type_name(arg: Expr, function: str) -> str:
    if isinstance(arg, Member) and arg.base is None:
        return arg.name
    if isinstance(arg, Member) and isinstance(arg.base, Member) and arg.base.base is None:
        return arg.name  # FHIR.Patient / System.String
    raise PathError(f"{function}() takes a type name such as Quantity or Patient")


def _resolve_call(call: Call, constants: dict[str, Literal]) -> Expr:
    if call.name not in FUNCTIONS:
        supported = ", ".join(sorted(FUNCTIONS))
        raise PathError(f"function {call.name}() is not in the SQL on FHIR subset ({supported})")
    low, high = FUNCTIONS[call.name]
    if not low <= len(call.args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise PathError(f"{call.name}() takes {wanted} argument(s), got {len(call.args)}")
    base = None if call.base is None else resolve(call.base, constants)
    if call.name in _TYPE_ARGUMENT and call.args:
        type_name = _type_name(call.args[0], call.name)
        if call.name == "ofType" and isinstance(base, Member):
            return Member(base.base, base.name + type_name[0].upper() + type_name[1:])
        return Call(base, call.name, (Literal(type_name, "type"),))
    args = tuple(resolve(arg, constants) for arg in call.args)
    if call.name in {"join", "extension"} and args and not isinstance(args[0], Literal):
        raise PathError(f"{call.name}() takes a string literal or constant")
    return Call(base, call.name, args)
