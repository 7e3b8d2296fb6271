"""Who the people are: age, sex, ethnicity, where they live, smoking, and when they die.

Figures (rounded; England unless said):
- Age pyramid: ONS mid-2020 population estimates for England, thousands per five-year band.
- Share of males by band: the same estimates (women outlive men, so older bands are female).
- Ethnicity: 2011 Census, England (KS201EW), mapped to the 2001 census categories of the
  NHS Data Dictionary (Gypsy/Irish Traveller within "any other White", Arab within "any other
  ethnic group"), plus about 4% "not stated" as seen in GP records.
- Smoking: ONS Annual Population Survey 2019 (about 14% of adults smoke, about 3x more in
  the most deprived decile than in the least).
- Mortality: a Gompertz curve (annual death probability doubling every ~7.3 years of age)
  whose level is set so that, after the hazard ratios for the conditions that shorten life,
  care-home residence and deprivation, the crude death rate is near England's ~9-10 per
  1,000 a year (ONS deaths registered 2019) and ages match ONS National Life Tables 2017-19.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from joinedup.synth.geography import Lsoa

AGE_BANDS_THOUSANDS: tuple[tuple[int, int, float], ...] = (
    (0, 4, 3_299), (5, 9, 3_526), (10, 14, 3_406), (15, 19, 3_154), (20, 24, 3_518),
    (25, 29, 3_829), (30, 34, 3_879), (35, 39, 3_738), (40, 44, 3_474), (45, 49, 3_670),
    (50, 54, 3_895), (55, 59, 3_700), (60, 64, 3_186), (65, 69, 2_769), (70, 74, 2_788),
    (75, 79, 2_033), (80, 84, 1_433), (85, 89, 855), (90, 99, 550),
)  # fmt: skip
MALE_SHARE: tuple[tuple[int, float], ...] = (
    (0, 0.512), (20, 0.503), (45, 0.495), (65, 0.48), (75, 0.45), (85, 0.37), (90, 0.30),
)  # fmt: skip
ETHNICITY_SHARES: tuple[tuple[str, float], ...] = (
    ("A", 79.8), ("B", 1.0), ("C", 4.7), ("D", 0.8), ("E", 0.3), ("F", 0.6), ("G", 0.5),
    ("H", 2.6), ("J", 2.1), ("K", 0.8), ("L", 1.5), ("M", 1.1), ("N", 1.8), ("P", 0.5),
    ("R", 0.7), ("S", 1.0), ("Z", 4.0),
)  # fmt: skip


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


_AGE_CUMULATIVE = _cumulative([w for _, _, w in AGE_BANDS_THOUSANDS])
_ETHNICITY_CUMULATIVE = _cumulative([w for _, w in ETHNICITY_SHARES])


@dataclass
class Person:
    serial: int
    sex: str
    birth: date
    age: int
    """age in whole years on the first day of the period"""
    ethnicity: str
    lsoa: Lsoa
    practice: int
    place: int
    smoking: str
    conditions: dict[str, date] = field(default_factory=dict)
    """condition key -> onset date (before or during the period)"""
    death: date | None = None
    in_care_home_from: date | None = None

    @property
    def id(self) -> str:
        return f"pat-{self.serial + 1}"

    @property
    def deprivation(self) -> float:
        """+1 for the most deprived IMD quintile, -1 for the least (0 = middle)."""
        quintile = (self.lsoa.decile + 1) // 2
        return (3 - quintile) / 2

    def has(self, condition: str, on: date) -> bool:
        onset = self.conditions.get(condition)
        return onset is not None and onset <= on

    def count_conditions(self, on: date) -> int:
        return sum(1 for onset in self.conditions.values() if onset <= on)


def draw_age(rng: random.Random) -> int:
    band = bisect.bisect_left(_AGE_CUMULATIVE, rng.random() * _AGE_CUMULATIVE[-1])
    low, high, _ = AGE_BANDS_THOUSANDS[min(band, len(AGE_BANDS_THOUSANDS) - 1)]
    return rng.randint(low, high)


def draw_sex(rng: random.Random, age: int) -> str:
    share = MALE_SHARE[0][1]
    for from_age, value in MALE_SHARE:
        if age >= from_age:
            share = value
    return "male" if rng.random() < share else "female"


def draw_ethnicity(rng: random.Random) -> str:
    index = bisect.bisect_left(_ETHNICITY_CUMULATIVE, rng.random() * _ETHNICITY_CUMULATIVE[-1])
    return ETHNICITY_SHARES[min(index, len(ETHNICITY_SHARES) - 1)][0]


def draw_smoking(rng: random.Random, age: int, deprivation: float) -> str:
    if age < 16:
        return "never"
    current = (0.14 if age < 65 else 0.08) * (1 + 0.7 * deprivation)
    former = min(0.45, 0.1 + 0.006 * (age - 16))
    draw = rng.random()
    if draw < current:
        return "current"
    if draw < current + former:
        return "former"
    return "never"


def birth_date(rng: random.Random, age: int, start: date) -> date:
    latest = start.replace(year=start.year - age) - timedelta(days=1)
    return latest - timedelta(days=rng.randrange(365))


#: Care-home residents die at about 3x the rate of people of the same age at home (ONS,
#: "Deaths of care home residents" 2019: roughly a third of residents die each year).
CARE_HOME_DEATH_HAZARD = 3.0
#: Hazard ratios for death (rounded from published cohort studies; see docs/synthetic-data.md).
DEATH_HAZARD = {
    "heart_failure": 2.0,
    "dementia": 2.2,
    "cancer": 1.8,
    "copd": 1.5,
    "ckd": 1.3,
    "frailty": 1.8,
    "stroke": 1.3,
    "diabetes": 1.2,
    "smi": 1.6,
}


def draw_death(rng: random.Random, person: Person, start: date, end: date) -> date | None:
    """Walk the period a year at a time with an annual death probability."""
    year_start = start
    age = person.age
    while year_start <= end:
        hazard = math.exp(-11.3 + 0.095 * age) * (1 + 0.15 * person.deprivation)
        if person.in_care_home_from is not None:
            hazard *= CARE_HOME_DEATH_HAZARD
        for condition, ratio in DEATH_HAZARD.items():
            if person.has(condition, year_start):
                hazard *= ratio
        if rng.random() < min(0.6, hazard):
            death = year_start + timedelta(days=rng.randrange(365))
            return death if death <= end else None
        year_start += timedelta(days=365)
        age += 1
    return None
