"""``generate(options)``: the synthetic ICS from options to a published output directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from joinedup.fhir import nhs_number
from joinedup.synth.context import SynthContext, practice_catchments
from joinedup.synth.errors import SynthInputError
from joinedup.synth.geography import read_imd_areas, synthetic_areas
from joinedup.synth.organisations import build_directory
from joinedup.synth.runner import Chunk, default_workers, run_chunks
from joinedup.synth.serialise import render_people
from joinedup.synth.structure import plan_structure
from joinedup.synth.writer import AtomicOutput, check_output_dir

FORMATS = ("ndjson", "bundles")
MAX_PLACES = 50


@dataclass(frozen=True)
class SynthOptions:
    people: int
    seed: int
    out: Path
    places: int = 3
    start: date = date(2021, 4, 1)
    end: date = date(2025, 3, 31)
    output_format: str = "ndjson"
    imd: Path | None = None
    force: bool = False
    workers: int = field(default_factory=default_workers)


@dataclass(frozen=True)
class PlaceSummary:
    name: str
    people: int
    pcns: int
    practices: int
    deprived_lsoas: float
    """share of the Place's LSOAs in the most deprived national IMD quintile (Core20)"""


@dataclass(frozen=True)
class SynthSummary:
    out: Path
    people: int
    places: tuple[PlaceSummary, ...]
    pcns: int
    practices: int
    counts: dict[str, int]
    """lines written per file (resources, or Bundles with ``--format bundles``)"""


def validate(options: SynthOptions) -> None:
    """Every check that needs no work done, so bad input fails before anything is written."""
    validate_settings(options)
    check_output_dir(options.out, options.force)


def validate_settings(options: SynthOptions) -> None:
    """The checks that need no file system (numbers, dates, format)."""
    if options.people <= 0:
        raise SynthInputError(
            f"--people must be a positive number of people (got {options.people})"
        )
    if options.people > nhs_number.CAPACITY:
        raise SynthInputError(
            f"--people {options.people} is more than the {nhs_number.CAPACITY:,} synthetic NHS "
            "numbers in the reserved test range; use at most that many"
        )
    if not 1 <= options.places <= MAX_PLACES:
        raise SynthInputError(f"--places must be between 1 and {MAX_PLACES} (got {options.places})")
    if options.people < options.places:
        raise SynthInputError(
            f"--people ({options.people}) must be at least --places ({options.places})"
        )
    if options.seed < 0:
        raise SynthInputError(f"--seed must be zero or more (got {options.seed})")
    if options.end < options.start:
        raise SynthInputError(
            f"--end {options.end} is before --start {options.start}; "
            "give an end on or after the start"
        )
    if options.output_format not in FORMATS:
        raise SynthInputError(f"--format must be one of {', '.join(FORMATS)}")
    if options.workers < 1:
        raise SynthInputError(f"--workers must be at least 1 (got {options.workers})")


def build_context(options: SynthOptions) -> SynthContext:
    plan = plan_structure(options.people, options.places, options.seed)
    if options.imd is not None:
        areas = read_imd_areas(options.imd, options.places, options.seed)
    else:
        areas = synthetic_areas([place.population for place in plan.places], options.seed)
    return SynthContext(
        seed=options.seed,
        start=options.start,
        end=options.end,
        plan=plan,
        areas=tuple(areas),
        directory=build_directory(plan, areas, options.seed),
        catchments=tuple(practice_catchments(plan, areas)),
    )


def generate(
    options: SynthOptions, on_chunk: Callable[[Chunk], None] | None = None
) -> SynthSummary:
    validate(options)
    ctx = build_context(options)
    with AtomicOutput(options.out, options.force) as output:
        output.write(render_people([ctx.directory.resources], options.output_format))
        for rendered in run_chunks(ctx, options.output_format, options.workers, on_chunk):
            output.write(rendered)
    return SynthSummary(
        out=options.out,
        people=options.people,
        places=tuple(
            PlaceSummary(
                name=area.name,
                people=place.population,
                pcns=len(place.pcns),
                practices=sum(len(ctx.plan.pcns[i].practices) for i in place.pcns),
                deprived_lsoas=sum(1 for s in area.lsoas if s.decile <= 2) / len(area.lsoas),
            )
            for area, place in zip(ctx.areas, ctx.plan.places, strict=True)
        ),
        pcns=len(ctx.plan.pcns),
        practices=len(ctx.plan.practices),
        counts=dict(sorted(output.counts.items())),
    )
