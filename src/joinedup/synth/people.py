"""One person from birth to the end of the period: who they are, what they have, what
happens to them, and every resource that records it.

Each person has their own random stream seeded from (seed, serial), so a person's record
does not depend on how the population is split into chunks or across processes.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from typing import Any

from joinedup.synth import choices, community
from joinedup.synth.conditions import draw_conditions
from joinedup.synth.context import SynthContext
from joinedup.synth.hospital import HospitalStays
from joinedup.synth.patient import add_conditions, add_death, add_patient, place_of_death
from joinedup.synth.population import (
    Person,
    birth_date,
    draw_age,
    draw_death,
    draw_ethnicity,
    draw_sex,
    draw_smoking,
)
from joinedup.synth.primary_care import PrimaryCare
from joinedup.synth.record import PersonRecord
from joinedup.synth.timing import event_dates

#: Share of people living in a care home at the start, by age (ONS Census 2011: ~0.4% of
#: 65-74, ~3% of 75-84, ~14% of 85+ lived in care homes).
CARE_HOME_AT_START = ((85, 0.12), (75, 0.03), (65, 0.004))


def draw_person(serial: int, ctx: SynthContext, rng: random.Random) -> Person:
    practice = ctx.plan.practice_of(serial)
    age = draw_age(rng)
    catchment = ctx.catchments[practice.index]
    if rng.random() < 0.15:  # some people live outside their practice's usual catchment
        catchment = ctx.areas[practice.place].lsoas
    lsoa = rng.choices(catchment, weights=[lsoa.weight for lsoa in catchment])[0]
    person = Person(
        serial=serial,
        sex=draw_sex(rng, age),
        birth=birth_date(rng, age, ctx.start),
        age=age,
        ethnicity=draw_ethnicity(rng),
        lsoa=lsoa,
        practice=practice.index,
        place=practice.place,
        smoking="never",
    )
    person.smoking = draw_smoking(rng, age, person.deprivation)
    return person


def _care_home_at_start(person: Person, ctx: SynthContext, rng: random.Random) -> None:
    dementia, frail = person.has("dementia", ctx.start), person.has("frailty", ctx.start)
    for from_age, share in CARE_HOME_AT_START:
        if person.age >= from_age:
            if rng.random() < share * (1 + 2 * dementia + frail):
                person.in_care_home_from = ctx.start - timedelta(days=rng.randrange(1, 1_100))
            return


def _care_home_move(person: Person, ctx: SynthContext, rng: random.Random, last_day: date) -> None:
    """A permanent admission from the community (hospital discharges add more later).

    ASCOF 2A(2): ~560 permanent admissions per 100,000 people aged 65+ a year, concentrated
    in the oldest and in people with dementia or frailty.
    """
    if person.in_care_home_from is not None or person.age < 65:
        return
    dementia, frail = person.has("dementia", ctx.start), person.has("frailty", ctx.start)
    rate = 0.001 * math.exp(0.09 * (person.age - 80)) * (1 + 2 * dementia + 1.5 * frail)
    moves = event_dates(rng, min(rate, 0.5), ctx.start, last_day)
    if moves:
        person.in_care_home_from = moves[0]


def generate_person(serial: int, ctx: SynthContext) -> list[dict[str, Any]]:
    rng = random.Random(ctx.seed * 1_000_003 + serial)
    person = draw_person(serial, ctx, rng)
    draw_conditions(rng, person, ctx.start, ctx.end)
    _care_home_at_start(person, ctx, rng)
    person.death = draw_death(rng, person, ctx.start, ctx.end)
    last_day = person.death or ctx.end
    # Conditions that would have started after death never happen.
    person.conditions = {k: onset for k, onset in person.conditions.items() if onset <= last_day}
    _care_home_move(person, ctx, rng, last_day)
    record = PersonRecord(person)
    add_patient(record, ctx, rng)
    add_conditions(record, ctx)
    where_died = None
    if person.death is not None:
        end_of_life = person.has("cancer", person.death) or person.has("dementia", person.death)
        where_died = place_of_death(person.in_care_home_from is not None, end_of_life, rng)
    HospitalStays(record, ctx, rng, last_day).run(died_in_hospital=where_died == "hospital")
    PrimaryCare(record, ctx, rng, last_day).run()
    community.add_care_home_episode(record, ctx, rng, last_day)
    if person.death is not None and where_died is not None:
        if where_died == "home" and person.in_care_home_from is not None:
            where_died = "care-home"
        add_death(record, where_died, person.death)
    practice_org = ctx.directory.practices[person.practice].org
    choices.add_choices(record, rng, ctx.start, last_day, practice_org)
    return record.resources
