"""Making Data Count variation and assurance icons.

Variation: the point type of the latest point, drawn high or low by the improvement direction.
Assurance: can the process hit the target? With the latest limits, a target beyond the upper
limit always fails (if higher is better) or always passes (if lower is better), a target
beyond the lower limit the other way round; a target inside or on the limits is inconsistent.
There is no assurance for neutral measures or without a target.
"""

from __future__ import annotations

import math
from typing import Literal

Direction = Literal["increase", "decrease", "neutral"]
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "neutral")

ASSURANCE_ICONS = {
    "consistent_pass": "pass",
    "consistent_fail": "fail",
    "inconsistent": "inconsistent",
}


def assurance_type(
    improvement_direction: Direction, target: float | None, lpl: float, upl: float
) -> str | None:
    """consistent_pass / consistent_fail / inconsistent, or None when no assurance applies."""
    if improvement_direction == "neutral" or target is None or math.isnan(target):
        return None
    if target > upl:
        return "consistent_fail" if improvement_direction == "increase" else "consistent_pass"
    if target < lpl:
        return "consistent_pass" if improvement_direction == "increase" else "consistent_fail"
    return "inconsistent"


def assurance_icon(assurance: str | None) -> str | None:
    return None if assurance is None else ASSURANCE_ICONS[assurance]


def variation_icon(point_type: str, improvement_direction: Direction) -> str:
    """Icon for the latest point's type: improvement/concern drawn high or low."""
    if point_type == "common_cause":
        return "common_cause"
    if point_type.startswith("special_cause_neutral_"):
        return point_type.removeprefix("special_cause_")
    higher_is_better = improvement_direction == "increase"
    if point_type == "special_cause_improvement":
        return "improvement_high" if higher_is_better else "improvement_low"
    return "concern_low" if higher_is_better else "concern_high"
