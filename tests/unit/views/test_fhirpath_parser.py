from __future__ import annotations

from decimal import Decimal

import pytest

from joinedup.views.fhirpath.ast import (
    Binary,
    Call,
    ConstantRef,
    Index,
    Literal,
    Member,
    RowIndex,
    This,
)
from joinedup.views.fhirpath.parser import FHIRPathSyntaxError, parse
from joinedup.views.fhirpath.resolve import PathError, resolve


def test_paths_functions_and_indexers() -> None:
    assert parse("name[0].family") == Member(
        Index(Member(None, "name"), Literal(0, "integer")), "family"
    )
    assert parse("name.where(use = 'official').exists()") == Call(
        Call(
            Member(None, "name"),
            "where",
            (Binary("=", Member(None, "use"), Literal("official", "string")),),
        ),
        "exists",
        (),
    )
    assert parse("$this") == This()
    assert parse("%rowIndex") == RowIndex()
    assert parse("%use") == ConstantRef("use")


def test_precedence_and_literals() -> None:
    assert parse("a = 1 or b and c") == Binary(
        "or",
        Binary("=", Member(None, "a"), Literal(1, "integer")),
        Binary("and", Member(None, "b"), Member(None, "c")),
    )
    assert parse("1 + 2 * 3") == Binary(
        "+", Literal(1, "integer"), Binary("*", Literal(2, "integer"), Literal(3, "integer"))
    )
    assert parse("-1.50") == Literal(Decimal("-1.50"), "decimal")
    assert parse("@2020-01-02") == Literal("2020-01-02", "date")
    assert parse("'it\\'s'") == Literal("it's", "string")
    assert parse("`div`") == Member(None, "div")


@pytest.mark.parametrize("text", ["@@", "name.", "name.where(", "a = ", "", "name]"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(FHIRPathSyntaxError):
        parse(text)


def test_resolve_rewrites_choice_types_and_substitutes_constants() -> None:
    resolved = resolve(parse("value.ofType(Quantity).value = %v"), {"v": Literal(1, "integer")})
    assert resolved == Binary(
        "=", Member(Member(None, "valueQuantity"), "value"), Literal(1, "integer")
    )
    keyed = resolve(parse("subject.getReferenceKey(Patient)"), {})
    assert keyed == Call(Member(None, "subject"), "getReferenceKey", (Literal("Patient", "type"),))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name.count()", "not in the SQL on FHIR subset"),
        ("name.first(1)", "takes 0 argument"),
        ("%missing", "constant %missing is not defined"),
        ("a | b", "operator '|'"),
        ("ofType('x')", "takes a type name"),
    ],
)
def test_resolve_errors(text: str, message: str) -> None:
    with pytest.raises(PathError, match=message):
        resolve(parse(text), {})
