"""Everything a worker needs to generate any person, built once and shared read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from joinedup.synth.geography import Lsoa, PlaceArea
from joinedup.synth.organisations import Directory
from joinedup.synth.structure import StructurePlan


@dataclass(frozen=True)
class SynthContext:
    seed: int
    start: date
    end: date
    plan: StructurePlan
    areas: tuple[PlaceArea, ...]
    directory: Directory
    #: per practice, the LSOAs of its catchment (a contiguous run of its Place's LSOAs)
    catchments: tuple[tuple[Lsoa, ...], ...]


def practice_catchments(plan: StructurePlan, areas: list[PlaceArea]) -> list[tuple[Lsoa, ...]]:
    """Give each practice the run of its Place's LSOAs matching its share of the list.

    Neighbouring practices serve neighbouring LSOAs, so practices (and PCNs) differ in
    deprivation the way real ones do.
    """
    result: list[tuple[Lsoa, ...]] = []
    for place in plan.places:
        lsoas = areas[place.index].lsoas
        done = 0
        for pcn_index in place.pcns:
            for practice_index in plan.pcns[pcn_index].practices:
                size = plan.practices[practice_index].list_size
                first = min(len(lsoas) - 1, done * len(lsoas) // max(1, place.population))
                done += size
                last = max(first + 1, done * len(lsoas) // max(1, place.population))
                result.append(lsoas[first:last])
    return result
