"""The measure-definition model: what a measure YAML file may say.

Numerator and denominator are SQL over the standard tables (``docs/view-library.md``) plus
``periods`` (one row per reporting period: ``period_start``, ``period_end``) and
``population`` (person-years alive and registered per person and period, with age then).
Each query returns ``period_start`` and ``person_id``; the denominator may add ``weight``
(person-years; counted as 1 per row otherwise); for ``mean`` and ``median_time`` the
numerator returns ``value`` per unit and there is no denominator.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Polarity(StrEnum):
    higher = "higher"
    lower = "lower"  # type: ignore[assignment]  # the YAML value; shadows str.lower
    none = "none"

    @property
    def spc_direction(self) -> Literal["increase", "decrease", "neutral"]:
        return {"higher": "increase", "lower": "decrease", "none": "neutral"}[self.value]  # type: ignore[return-value]

    def meets(self, value: float, goal: float) -> bool | None:
        """Whether ``value`` reaches ``goal`` in the better direction (None: no direction)."""
        if self is Polarity.higher:
            return value >= goal
        if self is Polarity.lower:
            return value <= goal
        return None


class MeasureType(StrEnum):
    proportion = "proportion"
    crude_rate = "crude_rate"
    dsr = "dsr"
    """directly standardised rate, European Standard Population 2013"""
    isr = "isr"
    """indirectly standardised ratio (x100) against the ICS's age-specific rates"""
    mean = "mean"
    median_time = "median_time"
    """a quantile (median by default) of a time in days; see ``quantile``"""


class Grain(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"
    """financial year, April to March"""
    rolling_12_months = "rolling_12_months"


Breakdown = Literal[
    "ics", "place", "pcn", "practice", "imd_quintile", "age_band", "sex", "ethnicity"
]
BREAKDOWNS: tuple[str, ...] = (
    "ics",
    "place",
    "pcn",
    "practice",
    "imd_quintile",
    "age_band",
    "sex",
    "ethnicity",
)


class TrajectoryPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period_end: date
    value: float


_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


class MeasureDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=3)
    rationale: str = Field(min_length=10, description="what it is for and which policy asks for it")
    policy_source: str = Field(min_length=3, description="the policy or framework it comes from")
    domain: str
    polarity: Polarity
    type: MeasureType
    numerator: str
    denominator: str | None = None
    multiplier: float = Field(default=1.0, gt=0, description="100 for %, 100000 for per 100k")
    unit: str = ""
    quantile: float = Field(default=0.5, gt=0, lt=1, description="median_time only")
    grain: Grain = Grain.month
    warm_up_months: int = Field(
        default=0,
        ge=0,
        le=36,
        description="months of data a look-back needs before the first period is complete",
    )
    breakdowns: tuple[Breakdown, ...] = BREAKDOWNS  # type: ignore[assignment]
    priority: Literal["national", "local"] = "national"
    place: str | None = Field(
        default=None, description="the Place (Organization id) of a local measure"
    )
    target: float | None = None
    trajectory: tuple[TrajectoryPoint, ...] = ()
    confidence: float = 0.95
    owner: str

    def milestone(self, period_end: date) -> TrajectoryPoint | None:
        """The trajectory point in force for a period ending on ``period_end``: the first
        milestone due on or after it (the last one once all are past); None without any."""
        due = sorted(self.trajectory, key=lambda point: point.period_end)
        upcoming = [point for point in due if point.period_end >= period_end]
        return upcoming[0] if upcoming else (due[-1] if due else None)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("use lower-case letters, digits and hyphens (2-64 characters)")
        return value

    @field_validator("numerator", "denominator")
    @classmethod
    def _select_only(cls, value: str | None) -> str | None:
        if value is not None and not value.lstrip().lower().startswith(("select", "with")):
            raise ValueError("must be one SQL query starting with SELECT or WITH")
        if value is not None and ";" in value.rstrip().rstrip(";"):
            raise ValueError("must be a single SQL statement (no ';' inside)")
        return value

    @field_validator("confidence")
    @classmethod
    def _confidence_level(cls, value: float) -> float:
        if value not in (0.95, 0.998):
            raise ValueError("must be 0.95 or 0.998 (the levels Fingertips publishes)")
        return value

    @field_validator("breakdowns")
    @classmethod
    def _has_ics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "ics" not in value:
            raise ValueError("must include 'ics' (every measure has a system-wide value)")
        if len(set(value)) != len(value):
            raise ValueError("lists a breakdown twice")
        return value

    @model_validator(mode="after")
    def _type_needs(self) -> MeasureDefinition:
        counted = self.type in (MeasureType.mean, MeasureType.median_time)
        if counted and self.denominator is not None:
            raise ValueError(
                f"denominator: a {self.type.value} measure has none; its numerator returns value"
            )
        if not counted and self.denominator is None:
            raise ValueError(f"denominator: a {self.type.value} measure needs one")
        if self.priority == "local" and self.place is None:
            raise ValueError(
                "place: a local measure names the Place (Organization id) that chose it"
            )
        return self

    @property
    def standardised(self) -> bool:
        return self.type in (MeasureType.dsr, MeasureType.isr)
