"""How SQL is spelled: the JSON and list operations the view compiler needs, per dialect.

The compiler (``joinedup.views.compile``) builds one SQLGlot expression tree out of these
primitives and never names a function itself, so DuckDB and Spark differ only here. A FHIR
resource is a semi-structured value: DuckDB's ``JSON`` type, Spark's ``VARIANT``. A FHIRPath
collection is a SQL list of such values; a singleton is the value itself (NULL = empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlglot import exp

SQL_TYPES = {"boolean": "BOOLEAN", "integer": "BIGINT", "number": "DOUBLE", "string": "VARCHAR"}


def call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def text(value: str) -> exp.Expression:
    return exp.Literal.string(value)


def number(value: int | float | str) -> exp.Expression:
    return exp.Literal.number(value)


def var(name: str) -> exp.Expression:
    return exp.column(name)


def lam(body: exp.Expression, *names: str) -> exp.Expression:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(name) for name in names])


def case(
    *branches: tuple[exp.Expression, exp.Expression], default: exp.Expression | None = None
) -> exp.Expression:
    return exp.Case(
        ifs=[exp.If(this=cond, true=value) for cond, value in branches], default=default
    )


def is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=value, expression=exp.Null())


def cast(value: exp.Expression, to: str) -> exp.Expression:
    return exp.Cast(this=value, to=exp.DataType.build(to))


def json_path(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


class Dialect:
    """The operations every dialect spells; lists are 1-based in the compiler's view."""

    name: str
    sqlglot: str
    json_type: str
    keeps_number_text = True
    """Whether a parsed number keeps the digits it was written with (``1.0`` vs ``1``)."""
    get_many_name: str | None = None
    """A function reading several members with one parse, if the dialect needs one."""
    filter_name: str
    """The function :meth:`filter` calls, by which :meth:`filtered` recognises its result."""

    def get_many(self, value: exp.Expression, keys: Sequence[str]) -> exp.Expression:
        """Members ``keys`` of ``value`` as a list (NULL items for absent members)."""
        assert self.get_many_name is not None
        paths = exp.Array(expressions=[text(json_path(key)) for key in keys])
        return call(self.get_many_name, value, paths)

    # --- semi-structured values ---
    def parse(self, json_text: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def get(self, value: exp.Expression, key: str) -> exp.Expression:
        """Member ``key`` of an object (NULL when absent)."""
        raise NotImplementedError

    def as_list(self, value: exp.Expression) -> exp.Expression:
        """A value as a collection: an array's items, ``[value]``, or ``[]`` for null/absent.
        ``value`` is used several times, so callers pass a variable or a column."""
        raise NotImplementedError

    def member(self, obj: exp.Expression, key: str) -> exp.Expression:
        """Member ``key`` of the object ``obj`` as a collection (``obj`` may be used twice)."""
        return self.as_list(self.get(obj, key))

    def let(self, value: exp.Expression, name: str, body: exp.Expression) -> exp.Expression:
        """``body`` with ``name`` bound to ``value``, evaluating ``value`` once."""
        return self.element(self.transform(self.list_of(value), name, body), number(1))

    def type_test(self, value: exp.Expression, kind: str) -> exp.Expression:
        """True when the value is a JSON string, number, integer, boolean or object."""
        raise NotImplementedError

    def to_scalar(self, value: exp.Expression, kind: str) -> exp.Expression:
        """The value as a SQL scalar of ``kind`` (NULL when it is not one)."""
        raise NotImplementedError

    def raw_text(self, value: exp.Expression) -> exp.Expression:
        """The value's JSON text (a number keeps its digits if ``keeps_number_text``)."""
        raise NotImplementedError

    def raw_member_text(self, json_text: exp.Expression, keys: list[str]) -> exp.Expression:
        """Text of the member at ``keys`` read from unparsed JSON text, as written."""
        raise NotImplementedError

    # --- lists ---
    def empty_list(self, element: str) -> exp.Expression:
        raise NotImplementedError

    def list_of(self, *items: exp.Expression) -> exp.Expression:
        return exp.Array(expressions=list(items))

    def length(self, items: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def element(self, items: exp.Expression, position: exp.Expression) -> exp.Expression:
        """Item at 1-based ``position``, NULL when out of range."""
        raise NotImplementedError

    def transform(self, items: exp.Expression, item: str, body: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def transform_indexed(
        self, items: exp.Expression, item: str, index: str, body: exp.Expression
    ) -> exp.Expression:
        """``body`` may use ``index`` as the 0-based position of ``item``."""
        raise NotImplementedError

    def filter(self, items: exp.Expression, item: str, keep: exp.Expression) -> exp.Expression:
        return call(self.filter_name, items, lam(keep, item))

    def filtered(self, items: exp.Expression) -> tuple[exp.Expression, str, exp.Expression] | None:
        """``(list, item, keep)`` when ``items`` is what :meth:`filter` built, else None."""
        if not (isinstance(items, exp.Anonymous) and items.name == self.filter_name):
            return None
        inner, keep = items.expressions
        assert isinstance(keep, exp.Lambda)
        return inner, keep.expressions[0].name, keep.this

    def first(self, items: exp.Expression) -> exp.Expression:
        """The first item of a list, NULL when it is empty."""
        return self.element(items, number(1))

    def flatten(self, lists: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def concat(self, lists: Sequence[exp.Expression]) -> exp.Expression:
        raise NotImplementedError

    def join(self, items: exp.Expression, separator: str) -> exp.Expression:
        raise NotImplementedError

    # --- rows ---
    def struct(self, fields: Sequence[tuple[str, exp.Expression]]) -> exp.Expression:
        raise NotImplementedError

    def field(self, struct: exp.Expression, name: str) -> exp.Expression:
        return exp.Dot(this=struct, expression=exp.to_identifier(name, quoted=True))

    # --- typed (columnar) values; only DuckDB compiles against them ---
    def struct_field(self, struct: exp.Expression, name: str) -> exp.Expression:
        """Field ``name`` of a typed struct value (NULL when the struct is NULL)."""
        raise NotImplementedError(f"{self.name} reads resources as JSON, not typed columns")

    def to_json(self, value: exp.Expression) -> exp.Expression:
        """A typed value (struct, list, scalar) as a semi-structured value."""
        raise NotImplementedError(f"{self.name} reads resources as JSON, not typed columns")

    def rows_query(
        self, rows: exp.Expression, relation: exp.Expression, columns: Sequence[str]
    ) -> exp.Expression:
        """``SELECT columns`` from the list-of-structs ``rows`` of each row of ``relation``."""
        raise NotImplementedError

    # --- scalars ---
    def error(self, message: str, sql_type: str | None) -> exp.Expression:
        """Raises ``message`` when evaluated; typed ``sql_type``, or untyped for None."""
        raise NotImplementedError

    def divide(self, left: exp.Expression, right: exp.Expression) -> exp.Expression:
        zero = exp.EQ(this=right, expression=number(0))
        return case(
            (zero, cast(exp.Null(), "DOUBLE")), default=exp.Div(this=left, expression=right)
        )

    def last_day(self, year_month: exp.Expression) -> exp.Expression:
        """Day-of-month text (``'30'``) of the last day of ``'YYYY-MM'``."""
        raise NotImplementedError


class DuckDBDialect(Dialect):
    name = "duckdb"
    sqlglot = "duckdb"
    json_type = "JSON"
    # JSON is text in DuckDB: every json_extract parses the resource again, so the members a
    # view reads from the resource are extracted together, with one parse.
    get_many_name = "json_extract"

    def parse(self, json_text: exp.Expression) -> exp.Expression:
        return cast(json_text, "JSON")

    def get(self, value: exp.Expression, key: str) -> exp.Expression:
        return call("json_extract", value, text(json_path(key)))

    def as_list(self, value: exp.Expression) -> exp.Expression:
        kind = call("json_type", value)
        return case(
            (
                exp.EQ(this=kind, expression=text("ARRAY")),
                call("json_extract", value, text("$[*]")),
            ),
            (
                exp.Or(this=is_null(value), expression=exp.EQ(this=kind, expression=text("NULL"))),
                self.empty_list(self.json_type),
            ),
            default=self.list_of(value),
        )

    def member(self, obj: exp.Expression, key: str) -> exp.Expression:
        # json_type/json_extract with a path look into `obj` without materialising the member
        # first, which keeps the common case (a member of a lambda variable) cheap.
        path = text(json_path(key))
        kind = call("json_type", obj, path)
        return case(
            (
                exp.EQ(this=kind, expression=text("ARRAY")),
                call("json_extract", obj, text(f"{json_path(key)}[*]")),
            ),
            (
                exp.Or(this=is_null(kind), expression=exp.EQ(this=kind, expression=text("NULL"))),
                self.empty_list(self.json_type),
            ),
            default=self.list_of(call("json_extract", obj, path)),
        )

    _TYPE_NAMES: ClassVar[dict[str, tuple[str, ...]]] = {
        "string": ("VARCHAR",),
        "number": ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT"),
        "integer": ("BIGINT", "UBIGINT", "HUGEINT"),
        "boolean": ("BOOLEAN",),
        "object": ("OBJECT",),
    }

    def type_test(self, value: exp.Expression, kind: str) -> exp.Expression:
        names = [text(name) for name in self._TYPE_NAMES[kind]]
        return exp.In(this=call("json_type", value), expressions=names)

    def to_scalar(self, value: exp.Expression, kind: str) -> exp.Expression:
        if kind == "string":
            # json_extract_string(x, path) reads the member without materialising it first.
            if isinstance(value, exp.Anonymous) and value.name == "json_extract":
                return call("json_extract_string", *value.expressions)
            return call("json_extract_string", value, text("$"))
        return exp.TryCast(this=value, to=exp.DataType.build(SQL_TYPES[kind]))

    def raw_text(self, value: exp.Expression) -> exp.Expression:
        return cast(value, "VARCHAR")

    def empty_list(self, element: str) -> exp.Expression:
        return cast(exp.Array(expressions=[]), f"{element}[]")

    def length(self, items: exp.Expression) -> exp.Expression:
        return call("len", items)

    def element(self, items: exp.Expression, position: exp.Expression) -> exp.Expression:
        return call("list_extract", items, position)

    def transform(self, items: exp.Expression, item: str, body: exp.Expression) -> exp.Expression:
        return call("list_transform", items, lam(body, item))

    def transform_indexed(
        self, items: exp.Expression, item: str, index: str, body: exp.Expression
    ) -> exp.Expression:
        # DuckDB's lambda index is 1-based.
        position = f"{index}_1"
        body = body.transform(
            lambda node: (
                exp.Sub(this=var(position), expression=number(1))
                if isinstance(node, exp.Column) and node.name == index
                else node
            )
        )
        return call("list_transform", items, lam(body, item, position))

    filter_name = "list_filter"

    def first(self, items: exp.Expression) -> exp.Expression:
        # The first item is NULL for a NULL list as for an empty one, so the empty-list
        # default of a column read (a copy of every list) is not needed here.
        items = _nullable(items)
        # list_any_value skips NULLs itself, so a filter dropping them is a lambda saved.
        parts = self.filtered(items)
        if parts is not None and parts[2] == exp.Not(this=is_null(var(parts[1]))):
            return call("list_any_value", parts[0])
        return super().first(items)

    def flatten(self, lists: exp.Expression) -> exp.Expression:
        return call("flatten", lists)

    def concat(self, lists: Sequence[exp.Expression]) -> exp.Expression:
        return call("list_concat", *lists)

    def join(self, items: exp.Expression, separator: str) -> exp.Expression:
        return call("array_to_string", items, text(separator))

    def struct(self, fields: Sequence[tuple[str, exp.Expression]]) -> exp.Expression:
        return call(
            "struct_pack",
            *(
                exp.PropertyEQ(this=exp.to_identifier(n, quoted=True), expression=v)
                for n, v in fields
            ),
        )

    def struct_field(self, struct: exp.Expression, name: str) -> exp.Expression:
        return call("struct_extract", struct, text(name))

    def to_json(self, value: exp.Expression) -> exp.Expression:
        # A NULL struct field is an absent element: dropped, as FHIR JSON has no nulls in
        # objects (nulls inside arrays stay; they align ``_given`` with ``given``).
        return call("json_strip_nulls", call("to_json", value))

    def rows_query(
        self, rows: exp.Expression, relation: exp.Expression, columns: Sequence[str]
    ) -> exp.Expression:
        inner = exp.select(exp.alias_(call("unnest", rows), "u")).from_(relation)
        return exp.select(
            *(exp.alias_(self.field(var("u"), name), name, quoted=True) for name in columns)
        ).from_(inner.subquery("rows"))

    def error(self, message: str, sql_type: str | None) -> exp.Expression:
        raised = call("error", text(message))
        return raised if sql_type is None else cast(raised, sql_type)

    def last_day(self, year_month: exp.Expression) -> exp.Expression:
        first = cast(exp.DPipe(this=year_month, expression=text("-01")), "DATE")
        return call("strftime", call("last_day", first), text("%d"))


_NULL_IN_NULL_OUT = frozenset({"list_transform", "list_filter", "flatten"})


def _nullable(items: exp.Expression) -> exp.Expression:
    """``items`` without the ``coalesce(list, [])`` at the root of its chain of list functions
    (each of which gives NULL for NULL): a list that is NULL where ``items`` is empty."""
    if isinstance(items, exp.Coalesce) and items.expressions == [exp.Array(expressions=[])]:
        return items.this
    if isinstance(items, exp.Anonymous) and items.name.lower() in _NULL_IN_NULL_OUT:
        source, *rest = items.expressions
        stripped = _nullable(source)
        if stripped is not source:
            return exp.Anonymous(this=items.name, expressions=[stripped, *rest])
    return items


class SparkDialect(Dialect):
    name = "spark"
    sqlglot = "spark"
    json_type = "VARIANT"
    keeps_number_text = False  # VARIANT stores 1.0 as the decimal 1

    def raw_member_text(self, json_text: exp.Expression, keys: list[str]) -> exp.Expression:
        path = "$" + "".join(f"['{key}']" for key in keys)
        return call("get_json_object", json_text, text(path))

    def parse(self, json_text: exp.Expression) -> exp.Expression:
        return call("parse_json", json_text)

    def get(self, value: exp.Expression, key: str) -> exp.Expression:
        # Spark's variant paths take bracketed names, not quoted ones.
        return call("try_variant_get", value, text(f"$['{key}']"), text("variant"))

    def as_list(self, value: exp.Expression) -> exp.Expression:
        single = case(
            (
                exp.Or(this=is_null(value), expression=call("is_variant_null", value)),
                self.empty_list(self.json_type),
            ),
            default=self.list_of(value),
        )
        as_array = call("try_variant_get", value, text("$"), text("array<variant>"))
        return exp.Coalesce(this=as_array, expressions=[single])

    _TYPE_PATTERNS: ClassVar[dict[str, tuple[str, ...]]] = {
        "string": ("STRING",),
        "number": ("BIGINT", "INT", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "DECIMAL%"),
        "integer": ("BIGINT", "INT", "SMALLINT", "TINYINT", "DECIMAL(%,0)"),
        "boolean": ("BOOLEAN",),
        "object": ("OBJECT%",),
    }

    def type_test(self, value: exp.Expression, kind: str) -> exp.Expression:
        schema = call("schema_of_variant", value)
        tests = [exp.Like(this=schema, expression=text(p)) for p in self._TYPE_PATTERNS[kind]]
        result: exp.Expression = tests[0]
        for test in tests[1:]:
            result = exp.Or(this=result, expression=test)
        return exp.Paren(this=result)

    def to_scalar(self, value: exp.Expression, kind: str) -> exp.Expression:
        if kind == "string":
            # A string as its characters, anything else (numbers, objects) as its JSON text.
            return case(
                (
                    self.type_test(value, "string"),
                    call("try_variant_get", value, text("$"), text("string")),
                ),
                default=call("to_json", value),
            )
        spark_type = {"boolean": "boolean", "integer": "bigint", "number": "double"}[kind]
        return call("try_variant_get", value, text("$"), text(spark_type))

    def raw_text(self, value: exp.Expression) -> exp.Expression:
        return call("to_json", value)

    def empty_list(self, element: str) -> exp.Expression:
        return cast(exp.Array(expressions=[]), f"ARRAY<{element}>")

    def length(self, items: exp.Expression) -> exp.Expression:
        return call("size", items)

    def element(self, items: exp.Expression, position: exp.Expression) -> exp.Expression:
        return call("try_element_at", items, cast(position, "INT"))

    def transform(self, items: exp.Expression, item: str, body: exp.Expression) -> exp.Expression:
        return call("transform", items, lam(body, item))

    def transform_indexed(
        self, items: exp.Expression, item: str, index: str, body: exp.Expression
    ) -> exp.Expression:
        return call("transform", items, lam(body, item, index))

    filter_name = "filter"

    def flatten(self, lists: exp.Expression) -> exp.Expression:
        return call("flatten", lists)

    def concat(self, lists: Sequence[exp.Expression]) -> exp.Expression:
        return call("concat", *lists)

    def join(self, items: exp.Expression, separator: str) -> exp.Expression:
        return call("array_join", items, text(separator))

    def struct(self, fields: Sequence[tuple[str, exp.Expression]]) -> exp.Expression:
        args: list[exp.Expression] = []
        for name, value in fields:
            args.extend((text(name), value))
        return call("named_struct", *args)

    def rows_query(
        self, rows: exp.Expression, relation: exp.Expression, columns: Sequence[str]
    ) -> exp.Expression:
        inner = exp.select(call("inline", rows)).from_(relation)
        return exp.select(*(exp.column(name, quoted=True) for name in columns)).from_(
            inner.subquery("rows")
        )

    def error(self, message: str, sql_type: str | None) -> exp.Expression:
        raised = call("raise_error", text(message))
        return raised if sql_type is None else cast(raised, sql_type)

    def divide(self, left: exp.Expression, right: exp.Expression) -> exp.Expression:
        return call("try_divide", cast(left, "DOUBLE"), cast(right, "DOUBLE"))

    def last_day(self, year_month: exp.Expression) -> exp.Expression:
        first = call("to_date", exp.DPipe(this=year_month, expression=text("-01")))
        return call("date_format", call("last_day", first), text("dd"))


DIALECTS: dict[str, Dialect] = {"duckdb": DuckDBDialect(), "spark": SparkDialect()}
