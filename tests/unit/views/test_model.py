"""A ViewDefinition is validated before any data is read; errors name the element."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.views.model import ViewError, parse_view


def _view(**extra: Any) -> dict[str, Any]:
    return {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}], **extra}


def test_valid_view_is_immutable() -> None:
    view = parse_view(_view(name="patients"))
    assert view.column_names == ("id",)
    with pytest.raises(AttributeError):
        view.resource = "Observation"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        ({"select": []}, "ViewDefinition.resource", "resource"),
        (_view(select=[]), "ViewDefinition.select", "non-empty"),
        (
            _view(select=[{"column": [{"name": "id", "path": "id.bogus()"}]}]),
            "ViewDefinition.select[0].column[0].path",
            "bogus",
        ),
        (
            _view(select=[{"column": [{"name": "1d", "path": "id"}]}]),
            "ViewDefinition.select[0].column[0].name",
            "column name",
        ),
        (
            _view(select=[{"column": [{"name": "id", "path": "id", "type": "varchar"}]}]),
            "ViewDefinition.select[0].column[0].type",
            "not a FHIR primitive",
        ),
        (
            _view(
                select=[
                    {"column": [{"name": "a", "path": "id"}]},
                    {"column": [{"name": "a", "path": "id"}]},
                ]
            ),
            "ViewDefinition.select[1].column[0].name",
            "already used",
        ),
        (_view(where=[{"path": "name.where("}]), "ViewDefinition.where[0].path", "expected"),
        (_view(constant=[{"name": "x"}]), "ViewDefinition.constant[0]", r"value\[x\]"),
        (
            _view(
                select=[
                    {
                        "forEach": "name",
                        "forEachOrNull": "name",
                        "column": [{"name": "a", "path": "id"}],
                    }
                ]
            ),
            "ViewDefinition.select[0]",
            "only one of",
        ),
    ],
)
def test_errors_name_the_element(data: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(ViewError, match=message) as caught:
        parse_view(data)
    assert caught.value.expression == [where]
    outcome = caught.value.to_resource()
    assert outcome["issue"][0]["expression"] == [where]
