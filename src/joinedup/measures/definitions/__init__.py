"""Measure definitions are data: one YAML file per measure, validated into
:class:`MeasureDefinition`. A bad file raises :class:`MeasureDefinitionError` naming the file
and the field."""

from joinedup.measures.definitions.loader import (
    STARTER_LIBRARY,
    MeasureDefinitionError,
    load_library,
    load_measure,
)
from joinedup.measures.definitions.model import (
    BREAKDOWNS,
    Breakdown,
    Grain,
    MeasureDefinition,
    MeasureType,
    Polarity,
    TrajectoryPoint,
)

__all__ = [
    "BREAKDOWNS",
    "STARTER_LIBRARY",
    "Breakdown",
    "Grain",
    "MeasureDefinition",
    "MeasureDefinitionError",
    "MeasureType",
    "Polarity",
    "TrajectoryPoint",
    "load_library",
    "load_measure",
]
