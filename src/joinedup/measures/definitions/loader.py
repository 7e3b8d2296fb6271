"""Reading measure YAML files; errors name the file and the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from joinedup.measures.definitions.model import MeasureDefinition

STARTER_LIBRARY = Path(str(resources.files("joinedup.measures") / "library"))


class MeasureDefinitionError(ValueError):
    """A measure file that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        super().__init__(f"{path}: {field}: {problem}")


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "(file)"


def load_measure(path: Path) -> MeasureDefinition:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MeasureDefinitionError(path, "(file)", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MeasureDefinitionError(path, "(file)", "must be a YAML mapping of field: value")
    try:
        measure = MeasureDefinition.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        field = _field_name(error["loc"])
        if field == "(file)" and ":" in message:
            field, message = (part.strip() for part in message.split(":", 1))
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "is not a measure field (check the spelling; see docs/outcomes.md)"
        raise MeasureDefinitionError(path, field, message) from None
    if measure.id != path.stem:
        raise MeasureDefinitionError(
            path, "id", f"{measure.id!r} must match the file name {path.stem!r}"
        )
    return measure


def load_library(folder: Path = STARTER_LIBRARY) -> list[MeasureDefinition]:
    """Every ``*.yaml`` measure in ``folder``, in id order."""
    if not folder.is_dir():
        raise MeasureDefinitionError(
            folder, "(folder)", "does not exist; pass a folder of measure YAML files"
        )
    measures = [load_measure(path) for path in sorted(folder.glob("*.yaml"))]
    if not measures:
        raise MeasureDefinitionError(folder, "(folder)", "holds no *.yaml measure files")
    return measures
