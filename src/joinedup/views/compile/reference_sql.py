"""``getReferenceKey()`` in SQL: the key at the end of a reference's text."""

from __future__ import annotations

from sqlglot import exp

from joinedup.views.dialects import call, case, cast, number, text

_REFERENCE = r"^(?:.*/)?([A-Za-z]+)/([^/]+?)(?:/_history/.*)?$"


def reference_key(reference: exp.Expression, type_name: str | None) -> exp.Expression:
    """The id in a reference's text: ``[base/]Type/id[/_history/v]`` (NULL when ``type_name``
    is given and differs) or the uuid of ``urn:uuid:`` (only without ``type_name``)."""
    key = exp.Nullif(
        this=call("regexp_extract", reference, text(_REFERENCE), number(2)), expression=text("")
    )
    urn = exp.Like(this=reference, expression=text("urn:uuid:%"))
    if type_name is None:
        return case((urn, call("substr", reference, number(10))), default=key)
    found_type = call("regexp_extract", reference, text(_REFERENCE), number(1))
    return case(
        (
            exp.And(
                this=exp.Not(this=urn),
                expression=exp.EQ(this=found_type, expression=text(type_name)),
            ),
            key,
        ),
        default=cast(exp.Null(), "VARCHAR"),
    )
