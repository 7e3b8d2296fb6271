"""The shape of the ICS in numbers: Places, PCNs and GP practices with their list sizes.

Planned before any person exists, so the PCN size rule can be checked at full scale without
generating a population (``plan_structure(1_500_000, 3, seed)`` takes milliseconds).

Practice list sizes follow the real distribution. Source: NHS Digital "Patients Registered at
a GP Practice", January 2021 list sizes of the 6,458 practices that belonged to a PCN in the
January 2022 practice -> PCN map (OGL v3; see ``../shared/reference/nhs-org-structure``).
Percentiles of practice list size (the 0th is floored at 1,000: the few smaller lists are
closing or merging practices). PCN list size: median 43,642, inter-quartile range
35,219-54,222 from the same files.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass

PRACTICE_SIZE_PERCENTILES: tuple[tuple[float, float], ...] = (
    (0.00, 1_000),
    (0.01, 1_798),
    (0.05, 2_745),
    (0.10, 3_496),
    (0.20, 4_683),
    (0.30, 5_792),
    (0.40, 6_900),
    (0.50, 8_030),
    (0.60, 9_333),
    (0.70, 10_857),
    (0.80, 12_712),
    (0.90, 15_828),
    (0.95, 19_387),
    (0.99, 30_414),
    (1.00, 89_786),
)
MEDIAN_PCN = 43_642
#: The policy rule (NHS England PCN specification): PCNs serve 30,000-50,000 people.
PCN_MIN, PCN_MAX = 30_000, 50_000
#: Below this many people left to place, the remainder joins the last practice drawn.
PRACTICE_FLOOR = 1_000
#: In a scaled-down miniature no practice is smaller than this (fewer, not tinier, practices).
MINIATURE_FLOOR = 50


@dataclass(frozen=True)
class Practice:
    index: int
    place: int
    pcn: int
    list_size: int


@dataclass(frozen=True)
class Pcn:
    index: int
    place: int
    practices: tuple[int, ...]
    list_size: int


@dataclass(frozen=True)
class Place:
    index: int
    population: int
    pcns: tuple[int, ...]


@dataclass(frozen=True)
class StructurePlan:
    places: tuple[Place, ...]
    pcns: tuple[Pcn, ...]
    practices: tuple[Practice, ...]
    #: cumulative list sizes: person serials [first[j], first[j+1]) are registered at practice j
    first_serial: tuple[int, ...]

    @property
    def people(self) -> int:
        return self.first_serial[-1]

    def practice_of(self, serial: int) -> Practice:
        return self.practices[bisect.bisect_right(self.first_serial, serial) - 1]


def _quantile(u: float) -> float:
    """Inverse of the practice list-size distribution (linear between percentiles)."""
    points = PRACTICE_SIZE_PERCENTILES
    for (p0, v0), (p1, v1) in itertools.pairwise(points):
        if u <= p1:
            return v0 + (v1 - v0) * (u - p0) / (p1 - p0)
    return points[-1][1]


def _cdf(size: float) -> float:
    points = PRACTICE_SIZE_PERCENTILES
    if size <= points[0][1]:
        return 0.0
    for (p0, v0), (p1, v1) in itertools.pairwise(points):
        if size <= v1:
            return p0 + (p1 - p0) * (size - v0) / (v1 - v0)
    return 1.0


def split_evenly(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to ``weights`` summing exactly to ``total`` (largest remainder)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    parts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _pcn_sizes(population: int, rng: random.Random) -> list[int]:
    """Split a Place into PCNs, each within 30k-50k whenever the Place is big enough."""
    if population < PCN_MIN:
        return [population]
    lowest, highest = math.ceil(population / PCN_MAX), max(1, population // PCN_MIN)
    count = min(max(round(population / MEDIAN_PCN), lowest), max(lowest, highest))
    sizes = split_evenly(population, [rng.uniform(0.8, 1.2) for _ in range(count)])
    if lowest > highest:  # e.g. 55k people: no split keeps every PCN in range
        return sizes
    # Move people from PCNs outside the range to PCNs with room, until all are inside.
    while True:
        over = [i for i, s in enumerate(sizes) if s > PCN_MAX]
        under = [i for i, s in enumerate(sizes) if s < PCN_MIN]
        if not over and not under:
            return sizes
        if over:
            giver = over[0]
            taker = min(range(count), key=lambda i: sizes[i])
            amount = min(sizes[giver] - PCN_MAX, PCN_MAX - sizes[taker])
        else:
            taker = under[0]
            giver = max(range(count), key=lambda i: sizes[i])
            amount = min(PCN_MIN - sizes[taker], sizes[giver] - PCN_MIN)
        sizes[giver] -= amount
        sizes[taker] += amount


def _practice_sizes(pcn_size: int, scale: float, rng: random.Random) -> list[int]:
    """Draw practices from the real distribution (times ``scale``) until the PCN is full."""
    floor = max(MINIATURE_FLOOR, round(PRACTICE_FLOOR * scale))
    sizes: list[int] = []
    remaining = pcn_size
    while remaining > 0:
        if remaining <= 2 * floor:
            sizes.append(remaining)
            break
        # Truncate the distribution at the room left so no draw overshoots the PCN.
        top = _cdf(remaining / scale)
        size = max(floor, min(remaining, round(_quantile(rng.uniform(0.0, top)) * scale)))
        if remaining - size < floor:
            size = remaining
        sizes.append(size)
        remaining -= size
    return sizes


def plan_structure(people: int, places: int, seed: int) -> StructurePlan:
    """Places of varied size, PCNs of 30k-50k and practices drawn from the real distribution.

    With fewer people than a PCN in a Place, the Place keeps one PCN and its practices are
    a scaled-down miniature (list sizes times people/median PCN), so every organisation type
    is still present.
    """
    rng = random.Random(f"{seed}:structure")
    place_sizes = split_evenly(people, [rng.uniform(0.7, 1.3) for _ in range(places)])
    place_plans: list[Place] = []
    pcn_plans: list[Pcn] = []
    practice_plans: list[Practice] = []
    for place_index, population in enumerate(place_sizes):
        scale = min(1.0, population / MEDIAN_PCN)
        pcn_indexes: list[int] = []
        for pcn_size in _pcn_sizes(population, rng):
            pcn_index = len(pcn_plans)
            members: list[int] = []
            for list_size in _practice_sizes(pcn_size, scale, rng):
                members.append(len(practice_plans))
                practice_plans.append(
                    Practice(len(practice_plans), place_index, pcn_index, list_size)
                )
            pcn_plans.append(Pcn(pcn_index, place_index, tuple(members), pcn_size))
            pcn_indexes.append(pcn_index)
        place_plans.append(Place(place_index, population, tuple(pcn_indexes)))
    first = [0]
    for practice in practice_plans:
        first.append(first[-1] + practice.list_size)
    return StructurePlan(tuple(place_plans), tuple(pcn_plans), tuple(practice_plans), tuple(first))
