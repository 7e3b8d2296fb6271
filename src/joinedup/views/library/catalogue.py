"""Loading the shipped ViewDefinitions by name."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from joinedup.views.model import ViewDefinition, parse_view

_FOLDER = resources.files("joinedup.views.library") / "definitions"

VIEW_NAMES: tuple[str, ...] = tuple(
    sorted(
        item.name.removesuffix(".json") for item in _FOLDER.iterdir() if item.name.endswith(".json")
    )
)


def library_view_json(name: str) -> dict[str, Any]:
    """The ViewDefinition resource as shipped (JSON), e.g. to post it to ``ViewDefinition/$run``."""
    if name not in VIEW_NAMES:
        raise KeyError(f"no standard view {name!r}; choose one of {', '.join(VIEW_NAMES)}")
    data: dict[str, Any] = json.loads((_FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    return data


@cache
def library_view(name: str) -> ViewDefinition:
    """The parsed, validated standard view ``name``."""
    return parse_view(library_view_json(name))
