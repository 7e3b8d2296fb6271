"""FHIRPath-subset expressions compiled to SQLGlot expressions.

Every compiled expression carries a *kind* (``kinds.py``) saying what SQL value stands for the
FHIRPath collection, so that simple paths stay simple SQL. Over a columnar source the resource
is a typed row: member access, ``where``, ``first``, indexers, ``exists``/``empty``,
comparisons and key functions stay typed (``struct_sql.py``); every other operation takes the
value as JSON and goes on as over a JSON source.

The semantics are those of ``fhirpath/evaluate.py`` (the reference engine); where data breaks
a rule (two values where one is required, a non-boolean condition) the SQL raises an error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlglot import exp

from joinedup.views.compile.boundary_sql import decimal_text, temporal_text
from joinedup.views.compile.kinds import ELEMENT, EMPTY, LISTS, SCALARS, TYPED, Sql
from joinedup.views.compile.reference_sql import reference_key
from joinedup.views.compile.shapes import Struct
from joinedup.views.compile.struct_sql import ROW, StructAccess
from joinedup.views.dialects import SQL_TYPES, Dialect, call, case, cast, is_null, number, text, var
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
from joinedup.views.fhirpath.boundary import temporal_kind
from joinedup.views.fhirpath.resolve import PathError

_PRIMITIVE_TEST = {
    "string": "string", "code": "string", "id": "string", "uri": "string", "url": "string",
    "boolean": "boolean", "integer": "integer", "decimal": "number",
}  # fmt: skip


@dataclass(frozen=True)
class Scope:
    focus: Sql
    row_index: exp.Expression
    resource_type: str | None
    """Set while the focus is the resource itself, so ``Patient.name`` can name it."""
    raw: exp.Expression | None = None
    """The resource's JSON text, while the focus is the resource itself."""


PREFETCHED = "m"
"""Column holding the resource's prefetched members (see ``Dialect.get_many``)."""


class PathCompiler:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._names = itertools.count()
        self.prefetched: list[str] = []
        """Members of the resource read with one parse (dialects with ``get_many``)."""
        self.structs = StructAccess(dialect, self.fresh, self.bound)

    def resource(self, shape: Struct | None) -> Sql:
        """The resource: a typed row over a columnar source (``shape``), else one JSON value."""
        return Sql(ROW, "struct", shape) if shape is not None else Sql(var("r"), "json")

    def fresh(self) -> str:
        return f"x{next(self._names)}"

    def bound(
        self, value: exp.Expression, body: Callable[[exp.Expression], exp.Expression]
    ) -> exp.Expression:
        """``body(value)`` evaluating ``value`` once, however often ``body`` uses it.

        Without this, nested paths would repeat their inner SQL at every level and grow
        exponentially with path depth.
        """
        if _simple(value):
            return body(value)
        name = self.fresh()
        result = body(var(name))
        uses = [node for node in result.find_all(exp.Column) if node.name == name]
        if len(uses) == 1 and _always_evaluated(uses[0], result):
            # Used once, and whatever else happens: in place it is evaluated exactly as often
            # (raising the same errors) without the one-item list a binding costs per row.
            if uses[0] is result:
                return value
            uses[0].replace(value)
            return result
        return self.dialect.let(value, name, result)

    # --- conversions ---
    def null(self, kind: str) -> exp.Expression:
        if kind in TYPED:
            return self.dialect.list_of() if kind == "structs" else exp.Null()
        if kind in LISTS:
            return self.dialect.empty_list(self.dialect.json_type if kind == "list" else "VARCHAR")
        return cast(exp.Null(), self.dialect.json_type if kind == "json" else SQL_TYPES[kind])

    def single(self, sql: Sql, what: str, message: str | None = None) -> Sql:
        """One value or NULL; more than one item is an error at run time."""
        if sql.kind not in LISTS:
            return sql
        kind = ELEMENT[sql.kind]
        error = message or f"{what} needs a single value"

        def pick(items: exp.Expression) -> exp.Expression:
            too_many = exp.GT(this=self.dialect.length(items), expression=number(1))
            return case(
                (too_many, self._error(error, kind)),
                default=self.dialect.element(items, number(1)),
            )

        return sql.item(self.bound(sql.expr, pick))

    def _error(self, message: str, kind: str) -> exp.Expression:
        # A struct's type comes from the other branch of the CASE the error sits in.
        return self.dialect.error(message, None if kind == "struct" else self._sql_type(kind))

    def _sql_type(self, kind: str) -> str:
        return self.dialect.json_type if kind == "json" else SQL_TYPES[kind]

    def scalar(self, sql: Sql, kind: str, what: str) -> exp.Expression:
        """A singleton as a SQL scalar of ``kind``: string, number, integer or boolean."""
        one = self.structs.as_json(self.single(sql, what))
        if one.kind == "empty":
            return self.null(kind)
        if one.kind == "json":
            return self.bound(one.expr, lambda value: self.dialect.to_scalar(value, kind))
        if one.kind == kind or (kind == "number" and one.kind == "integer"):
            return one.expr
        if kind == "string":
            return cast(one.expr, "VARCHAR")
        if one.kind == "boolean" or kind == "boolean":
            raise PathError(f"{what} needs a {kind}, got a {one.kind}")
        return exp.TryCast(this=one.expr, to=exp.DataType.build(SQL_TYPES[kind]))

    def boolean(self, sql: Sql, what: str) -> exp.Expression:
        """A condition: a boolean singleton, NULL when empty, an error for anything else."""
        one = self.structs.as_json(self.single(sql, what))
        if one.kind == "boolean":
            return one.expr
        if one.kind == "empty":
            return self.null("boolean")
        if one.kind != "json":
            raise PathError(f"{what} must be a boolean, got a {one.kind}")
        return self.bound(
            one.expr,
            lambda value: case(
                (is_null(value), self.null("boolean")),
                (
                    self.dialect.type_test(value, "boolean"),
                    self.dialect.to_scalar(value, "boolean"),
                ),
                default=self.dialect.error(f"{what} must be a boolean", "BOOLEAN"),
            ),
        )

    def as_items(self, sql: Sql) -> Sql:
        """Any compiled value as a ``list``/``strings`` collection."""
        sql = self.structs.as_json(sql)
        if sql.kind in LISTS:
            return sql
        if sql.kind == "json":
            return Sql(self.bound(sql.expr, self.dialect.as_list), "list")
        if sql.kind == "empty":
            return Sql(self.null("list"), "list")
        as_text = self.scalar(sql, "string", "a collection")
        return Sql(
            case((is_null(as_text), self.null("strings")), default=self.dialect.list_of(as_text)),
            "strings",
        )

    def iterable(self, sql: Sql) -> Sql:
        """A collection to iterate over: ``structs`` stay typed, the rest as :meth:`as_items`."""
        if sql.kind == "struct":
            return Sql(
                self.bound(
                    sql.expr,
                    lambda one: case(
                        (is_null(one), self.null("structs")), default=self.dialect.list_of(one)
                    ),
                ),
                "structs",
                sql.shape,
            )
        return sql if sql.kind == "structs" else self.as_items(sql)

    def exists(self, sql: Sql) -> exp.Expression:
        if sql.kind in LISTS:
            return exp.GT(this=self.dialect.length(sql.expr), expression=number(0))
        if sql.kind == "empty":
            return exp.false()
        return exp.Not(this=is_null(sql.expr))

    # --- expressions ---
    def compile(self, expr: Expr, scope: Scope) -> Sql:
        if isinstance(expr, Literal):
            return self._literal(expr)
        if isinstance(expr, EmptySet):
            return EMPTY
        if isinstance(expr, This):
            return scope.focus
        if isinstance(expr, RowIndex):
            return Sql(scope.row_index, "integer")
        if isinstance(expr, Member):
            return self._member(expr, scope)
        if isinstance(expr, Index):
            return self._index(expr, scope)
        if isinstance(expr, Negate):
            value = self.compile(expr.operand, scope)
            kind = "integer" if value.kind == "integer" else "number"
            return Sql(exp.Neg(this=self.scalar(value, kind, "unary minus")), kind)
        if isinstance(expr, Binary):
            return self._binary(expr, scope)
        assert isinstance(expr, Call)
        return self._call(expr, scope)

    def _literal(self, expr: Literal) -> Sql:
        value = expr.value
        if expr.kind == "boolean":
            return Sql(exp.true() if value else exp.false(), "boolean")
        if expr.kind == "integer":
            return Sql(cast(number(str(value)), "BIGINT"), "integer")
        if expr.kind == "decimal":
            return Sql(cast(number(str(value)), "DOUBLE"), "number")
        if expr.kind == "type":
            return EMPTY
        return Sql(text(str(value)), "string")

    def _base(self, base: Expr | None, scope: Scope) -> Sql:
        return scope.focus if base is None else self.compile(base, scope)

    def _member(self, expr: Member, scope: Scope) -> Sql:
        if expr.base is None and scope.resource_type == expr.name:
            return scope.focus
        base = self._base(expr.base, scope)
        if base.kind in TYPED:
            return self.structs.member(base, expr.name)
        if expr.base is None and scope.resource_type is not None and self.dialect.get_many_name:
            return Sql(self.bound(self._prefetched(expr.name), self.dialect.as_list), "list")
        if base.kind == "json":
            return Sql(
                self.bound(base.expr, lambda obj: self.dialect.member(obj, expr.name)), "list"
            )
        if base.kind == "list":
            item = self.fresh()
            inner = self.dialect.member(var(item), expr.name)
            return Sql(self.dialect.flatten(self.dialect.transform(base.expr, item, inner)), "list")
        return EMPTY  # primitives have no members

    def _prefetched(self, key: str) -> exp.Expression:
        if key not in self.prefetched:
            self.prefetched.append(key)
        position = number(self.prefetched.index(key) + 1)
        return self.dialect.element(var(PREFETCHED), position)

    def _index(self, expr: Index, scope: Scope) -> Sql:
        base = self._base(expr.base, scope)
        position = self.scalar(self.compile(expr.index, scope), "integer", "an index")
        if base.kind in LISTS:
            element = ELEMENT[base.kind]

            def at(index: exp.Expression) -> exp.Expression:
                one_based = exp.Add(this=index, expression=number(1))
                return case(
                    (
                        exp.GTE(this=index, expression=number(0)),
                        self.dialect.element(base.expr, one_based),
                    ),
                    default=self.null(element),
                )

            return base.item(self.bound(position, at))
        if base.kind == "empty":
            return EMPTY
        zero = exp.EQ(this=position, expression=number(0))
        return replace(base, expr=case((zero, base.expr), default=self.null(base.kind)))

    def _filter(self, base: Sql, keep: Callable[[Sql], exp.Expression]) -> Sql:
        """Items of ``base`` for which ``keep(item_sql)`` (a SQL boolean) is true."""
        if base.kind in LISTS:
            item = self.fresh()
            condition = keep(base.item(var(item)))
            return replace(base, expr=self.dialect.filter(base.expr, item, condition))
        if base.kind == "empty":
            return EMPTY
        return replace(
            base,
            expr=self.bound(
                base.expr,
                lambda value: case(
                    (keep(replace(base, expr=value)), value), default=self.null(base.kind)
                ),
            ),
        )

    def _where(self, base: Sql, condition: Expr, scope: Scope, what: str) -> Sql:
        return self._filter(
            base,
            lambda item: self.boolean(
                self.compile(condition, Scope(item, scope.row_index, None)), what
            ),
        )

    def _call(self, expr: Call, scope: Scope) -> Sql:
        name = expr.name
        if name == "extension":
            url = Binary("=", Member(None, "url"), expr.args[0])
            return self.compile(Call(Member(expr.base, "extension"), "where", (url,)), scope)
        base = self._base(expr.base, scope)
        if name == "where":
            return self._where(base, expr.args[0], scope, "where()")
        if name == "exists":
            if expr.args:
                base = self._where(base, expr.args[0], scope, "exists()")
            return Sql(self.exists(base), "boolean")
        if name == "empty":
            return Sql(exp.Not(this=exp.Paren(this=self.exists(base))), "boolean")
        if name == "not":
            return Sql(exp.Not(this=exp.Paren(this=self.boolean(base, "not()"))), "boolean")
        if name == "first":
            if base.kind in LISTS:
                return base.item(self.dialect.first(base.expr))
            return base
        if name == "join":
            separator = (
                str(expr.args[0].value) if expr.args and isinstance(expr.args[0], Literal) else ""
            )
            return Sql(self._join(self.structs.as_json(base), separator), "string")
        if name == "ofType":
            assert isinstance(expr.args[0], Literal)
            return self._of_type(self.structs.as_json(base), str(expr.args[0].value))
        if name in {"lowBoundary", "highBoundary"}:
            kind = None if expr.base is None else temporal_kind(expr.base)
            digits = self._number_text(expr.base, scope)
            one = self.structs.as_json(self.single(base, "lowBoundary()/highBoundary()"))
            return self._boundary(one, kind, name == "highBoundary", digits)
        if name == "getResourceKey" and expr.base is None and scope.resource_type is not None:
            return Sql(
                self.scalar(self.compile(Member(None, "id"), scope), "string", name), "string"
            )
        if name == "getResourceKey":
            return Sql(self._id(self.single(base, "getResourceKey()")), "string")
        assert name == "getReferenceKey"
        type_name = (
            str(expr.args[0].value) if expr.args and isinstance(expr.args[0], Literal) else None
        )
        return self._reference_keys(base, type_name)

    def _join(self, base: Sql, separator: str) -> exp.Expression:
        if base.kind == "list":
            item = self.fresh()
            texts = self.dialect.transform(
                base.expr, item, self.dialect.to_scalar(var(item), "string")
            )
            return self.dialect.join(texts, separator)
        if base.kind == "strings":
            return self.dialect.join(base.expr, separator)
        if base.kind == "empty":
            return text("")
        return exp.Coalesce(this=self.scalar(base, "string", "join()"), expressions=[text("")])

    def _of_type(self, base: Sql, type_name: str) -> Sql:
        wanted = _PRIMITIVE_TEST.get(type_name)
        if base.kind in SCALARS:
            matches = wanted == base.kind or (wanted == "number" and base.kind == "integer")
            return base if matches else EMPTY

        def keep(item: Sql) -> exp.Expression:
            if wanted is not None:
                return self.dialect.type_test(item.expr, wanted)
            resource_type = self.dialect.to_scalar(
                self.dialect.get(item.expr, "resourceType"), "string"
            )
            same = exp.Or(
                this=is_null(resource_type),
                expression=exp.EQ(this=resource_type, expression=text(type_name)),
            )
            return exp.And(
                this=self.dialect.type_test(item.expr, "object"), expression=exp.Paren(this=same)
            )

        if base.kind == "strings":
            return base if wanted == "string" else EMPTY
        return self._filter(base, keep)

    def _number_text(self, base: Expr | None, scope: Scope) -> exp.Expression | None:
        """The number's text as written, for dialects whose parsed numbers forget trailing
        zeros (Spark's VARIANT stores 1.0 as 1): read straight from the resource's JSON text
        when the path is a plain chain of members from the resource."""
        if self.dialect.keeps_number_text or scope.raw is None:
            return None
        keys: list[str] = []
        node = base
        while isinstance(node, Member):
            keys.append(node.name)
            node = node.base
        if node is not None or not keys:
            return None
        return self.dialect.raw_member_text(scope.raw, list(reversed(keys)))

    def _boundary(
        self, base: Sql, kind: str | None, high: bool, written: exp.Expression | None = None
    ) -> Sql:
        one = self.single(base, "lowBoundary()/highBoundary()")
        if one.kind == "empty" or one.kind == "boolean":
            return EMPTY
        d = self.dialect
        if one.kind in {"number", "integer"}:
            raw = cast(one.expr, "VARCHAR")
            return Sql(self.bound(raw, lambda t: decimal_text(d, t, high)), "string")
        if one.kind == "string":
            return Sql(self.bound(one.expr, lambda t: temporal_text(d, t, kind, high)), "string")

        def edge(value: exp.Expression) -> exp.Expression:
            raw_text = d.raw_text(value)
            if written is not None:
                plain = exp.RegexpLike(this=written, expression=text(r"^-?[0-9]+(\.[0-9]+)?$"))
                raw_text = case((plain, written), default=raw_text)
            numeric = self.bound(raw_text, lambda raw: decimal_text(d, raw, high))
            temporal = self.bound(
                d.to_scalar(value, "string"), lambda s: temporal_text(d, s, kind, high)
            )
            return case(
                (d.type_test(value, "number"), numeric),
                (d.type_test(value, "string"), temporal),
                default=self.null("string"),
            )

        return Sql(self.bound(one.expr, edge), "string")

    def _id(self, one: Sql) -> exp.Expression:
        if one.kind == "struct":
            return self.scalar(self.structs.member(one, "id"), "string", "getResourceKey()")
        if one.kind != "json":
            return self.null("string")
        return self.dialect.to_scalar(self.dialect.get(one.expr, "id"), "string")

    def _reference_key(self, item: exp.Expression, type_name: str | None) -> exp.Expression:
        return self.bound(
            self.dialect.to_scalar(self.dialect.get(item, "reference"), "string"),
            lambda reference: reference_key(reference, type_name),
        )

    def _reference_keys(self, base: Sql, type_name: str | None) -> Sql:
        if base.kind in TYPED:
            return self._typed_reference_keys(base, type_name)
        if base.kind == "json":
            return Sql(self._reference_key(base.expr, type_name), "string")
        if base.kind != "list":
            return EMPTY
        item, key = self.fresh(), self.fresh()
        keys = self.dialect.transform(base.expr, item, self._reference_key(var(item), type_name))
        return Sql(self.dialect.filter(keys, key, exp.Not(this=is_null(var(key)))), "strings")

    def _typed_reference_keys(self, base: Sql, type_name: str | None) -> Sql:
        assert base.shape is not None
        reference = base.shape.field("reference")
        if reference is None:
            return EMPTY
        if reference != "string":
            return self._reference_keys(self.structs.as_json(base), type_name)
        if base.kind == "struct":
            value = self.structs.member(base, "reference").expr
            return Sql(self.bound(value, lambda ref: reference_key(ref, type_name)), "string")
        shape = base.shape

        def key_of(item: exp.Expression) -> exp.Expression:
            value = self.structs.member(Sql(item, "struct", shape), "reference").expr
            return reference_key(value, type_name)

        key = self.fresh()
        keys = self.structs.each_kept(base.expr, key_of)
        return Sql(self.dialect.filter(keys, key, exp.Not(this=is_null(var(key)))), "strings")

    # --- operators ---
    def _binary(self, expr: Binary, scope: Scope) -> Sql:
        op = expr.op
        left = self.compile(expr.left, scope)
        right = self.compile(expr.right, scope)
        if op in {"and", "or", "xor", "implies"}:
            a = self.boolean(left, f"'{op}'")
            b = self.boolean(right, f"'{op}'")
            if op == "and":
                return Sql(exp.And(this=exp.Paren(this=a), expression=exp.Paren(this=b)), "boolean")
            if op == "or":
                return Sql(exp.Or(this=exp.Paren(this=a), expression=exp.Paren(this=b)), "boolean")
            if op == "xor":
                return Sql(exp.NEQ(this=exp.Paren(this=a), expression=exp.Paren(this=b)), "boolean")
            return Sql(
                exp.Or(this=exp.Not(this=exp.Paren(this=a)), expression=exp.Paren(this=b)),
                "boolean",
            )
        if op == "&":
            parts = [
                exp.Coalesce(this=self.scalar(side, "string", "'&'"), expressions=[text("")])
                for side in (left, right)
            ]
            return Sql(exp.DPipe(this=parts[0], expression=parts[1], safe=True), "string")
        if op in {"=", "!="}:
            equal = self._equal(left, right)
            return Sql(equal if op == "=" else exp.Not(this=exp.Paren(this=equal)), "boolean")
        if op in {"<", "<=", ">", ">="}:
            return Sql(
                self._compare(op, self.single(left, f"'{op}'"), self.single(right, f"'{op}'")),
                "boolean",
            )
        return self._arithmetic(op, left, right)

    def _equal(self, left: Sql, right: Sql) -> exp.Expression:
        if left.kind == "empty" or right.kind == "empty":
            return self.null("boolean")
        if left.kind not in LISTS and right.kind not in LISTS:
            return self._compare("=", left, right)
        one, items = (right, left) if right.kind not in LISTS else (left, right)
        if items.kind == "strings" and one.kind in SCALARS:
            return self._equal_one(items, one)
        a, b = (self.as_items(side) for side in (left, right))
        return self.bound(
            a.expr,
            lambda x: self.bound(
                b.expr, lambda y: self._equal_lists(Sql(x, a.kind), Sql(y, b.kind))
            ),
        )

    def _equal_one(self, items: Sql, one: Sql) -> exp.Expression:
        """``items = one`` for a list of strings and a singleton: :meth:`_equal_lists` with
        the singleton's side known to hold at most one item, so only one side is bound."""
        wanted = self.scalar(one, "string", "a collection")

        def test(values: exp.Expression, value: exp.Expression) -> exp.Expression:
            size = self.dialect.length(values)
            first = self.dialect.element(values, number(1))
            return case(
                (
                    exp.Or(this=is_null(value), expression=exp.EQ(this=size, expression=number(0))),
                    self.null("boolean"),
                ),
                (
                    exp.EQ(this=size, expression=number(1)),
                    self._compare("=", Sql(first, "string"), Sql(value, "string")),
                ),
                # Two or more strings (never NULL) against one: unequal lists.
                default=exp.false(),
            )

        return self.bound(
            items.expr, lambda values: self.bound(wanted, lambda value: test(values, value))
        )

    def _equal_lists(self, *lists: Sql) -> exp.Expression:
        sizes = [self.dialect.length(side.expr) for side in lists]
        firsts = [side.item(self.dialect.element(side.expr, number(1))) for side in lists]
        texts = [self._texts(side) for side in lists]
        return case(
            (
                exp.Or(
                    this=exp.EQ(this=sizes[0], expression=number(0)),
                    expression=exp.EQ(this=sizes[1], expression=number(0)),
                ),
                self.null("boolean"),
            ),
            (
                exp.And(
                    this=exp.EQ(this=sizes[0], expression=number(1)),
                    expression=exp.EQ(this=sizes[1], expression=number(1)),
                ),
                self._compare("=", *firsts),
            ),
            default=exp.EQ(this=texts[0], expression=texts[1]),
        )

    def _texts(self, items: Sql) -> exp.Expression:
        if items.kind == "strings":
            return items.expr
        item = self.fresh()
        return self.dialect.transform(items.expr, item, self.dialect.to_scalar(var(item), "string"))

    def _compare(self, op: str, left: Sql, right: Sql) -> exp.Expression:
        left, right = self.structs.as_json(left), self.structs.as_json(right)
        if left.kind == "empty" or right.kind == "empty":
            return self.null("boolean")
        kinds = {left.kind, right.kind}
        if kinds & {"number", "integer"}:
            common = "number"
        elif "boolean" in kinds:
            common = "boolean"
        elif "string" in kinds:
            common = "string"
        else:
            return self.bound(
                left.expr,
                lambda a: self.bound(right.expr, lambda b: self._compare_json(op, a, b)),
            )
        return _comparison(
            op, self.scalar(left, common, f"'{op}'"), self.scalar(right, common, f"'{op}'")
        )

    def _compare_json(self, op: str, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        d = self.dialect
        both_numbers = exp.And(this=d.type_test(a, "number"), expression=d.type_test(b, "number"))
        return case(
            (exp.Or(this=is_null(a), expression=is_null(b)), self.null("boolean")),
            (both_numbers, _comparison(op, d.to_scalar(a, "number"), d.to_scalar(b, "number"))),
            default=_comparison(op, d.to_scalar(a, "string"), d.to_scalar(b, "string")),
        )

    def _arithmetic(self, op: str, left: Sql, right: Sql) -> Sql:
        a, b = self.single(left, f"'{op}'"), self.single(right, f"'{op}'")
        if a.kind == "empty" or b.kind == "empty":
            return EMPTY
        if op == "+" and "string" in {a.kind, b.kind}:
            joined = exp.DPipe(
                this=self.scalar(a, "string", "'+'"), expression=self.scalar(b, "string", "'+'")
            )
            return Sql(joined, "string")
        integer = a.kind == "integer" and b.kind == "integer"
        kind = "integer" if integer and op in {"+", "-", "*", "div", "mod"} else "number"
        x, y = self.scalar(a, kind, f"'{op}'"), self.scalar(b, kind, f"'{op}'")
        if op == "+":
            return Sql(exp.Add(this=x, expression=y), kind)
        if op == "-":
            return Sql(exp.Sub(this=x, expression=y), kind)
        if op == "*":
            return Sql(exp.Mul(this=x, expression=y), kind)
        if op == "/":
            return Sql(self.dialect.divide(x, y), "number")
        zero = exp.EQ(this=y, expression=number(0))
        if op == "div":
            quotient = call("floor", self.dialect.divide(x, y))
            return Sql(
                case((zero, self.null("integer")), default=cast(quotient, "BIGINT")), "integer"
            )
        remainder = exp.Mod(this=x, expression=y)
        return Sql(case((zero, self.null(kind)), default=remainder), kind)


def _comparison(op: str, a: exp.Expression, b: exp.Expression) -> exp.Expression:
    nodes: dict[str, Callable[..., exp.Expression]] = {
        "=": exp.EQ,
        "<": exp.LT,
        "<=": exp.LTE,
        ">": exp.GT,
        ">=": exp.GTE,
    }
    return nodes[op](this=a, expression=b)


def with_focus(scope: Scope, focus: Sql, row_index: exp.Expression) -> Scope:
    return replace(scope, focus=focus, row_index=row_index, resource_type=None, raw=None)


_CONDITIONAL = (exp.Case, exp.If, exp.Lambda, exp.Coalesce, exp.And, exp.Or)
"""Nodes that may evaluate a child never, or once per list item."""


def _always_evaluated(node: exp.Expr, root: exp.Expression) -> bool:
    """Whether ``node`` is evaluated once whenever ``root`` is (no conditional between)."""
    step = node
    while step is not root and step.parent is not None:
        if isinstance(step.parent, _CONDITIONAL):
            return False
        step = step.parent
    return True


def _simple(value: exp.Expression) -> bool:
    """Cheap to repeat: a column or variable, a literal, a cast literal, or a struct field of
    a column or variable."""
    if isinstance(value, exp.Cast):
        value = value.this
    if isinstance(value, exp.Anonymous) and value.name == "struct_extract":
        return _simple(value.expressions[0])
    return isinstance(value, exp.Column | exp.Literal | exp.Null | exp.Boolean)
