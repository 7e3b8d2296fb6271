"""Care outside hospital that follows from need: community rehabilitation (referral,
episode, contacts and the wait between), reablement, adult social care assessments and
permanent care-home admissions."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from joinedup.synth import vocabulary as v
from joinedup.synth.context import SynthContext
from joinedup.synth.record import PersonRecord, ref

#: Reablement runs up to six weeks (Care Act 2014 statutory guidance: usually free for 6 weeks).
REABLEMENT_DAYS = 42


def episode(
    record: PersonRecord,
    kind: str,
    organisation: str,
    start: date,
    end: date | None,
    *,
    referral: str | None = None,
    last_day: date,
) -> str:
    period: dict[str, str] = {"start": start.isoformat()}
    finished = end is not None and end <= last_day
    if end is not None and finished:
        period["end"] = end.isoformat()
    body = {
        "status": "finished" if finished else "active",
        "type": [v.concept(v.EPISODE_TYPE, kind)],
        "patient": record.patient_ref,
        "managingOrganization": ref("Organization", organisation),
        "period": period,
    }
    if referral is not None:
        body["referralRequest"] = [ref("ServiceRequest", referral)]
    return record.add("EpisodeOfCare", body)


def refer_to_rehab(
    record: PersonRecord,
    ctx: SynthContext,
    rng: random.Random,
    on: date,
    requester: str,
    last_day: date,
    encounter: str | None = None,
) -> None:
    """A referral to the community rehabilitation service, the wait, then the contacts.

    Waits are log-normal around the Place's median (spread: about 90th percentile = 2.6x
    the median), so Places differ in both median and tail.
    """
    place = ctx.directory.places[record.person.place]
    wait = max(1, round(place.median_rehab_wait_days * math.exp(rng.gauss(0, 0.75))))
    first = on + timedelta(days=wait)
    seen = first <= last_day
    body = {
        "status": "completed" if seen else "active",
        "intent": "order",
        "category": [
            v.concept(v.SERVICE_CATEGORY, "community-rehabilitation", "Community rehabilitation")
        ],
        "code": v.concept(v.SNOMED, "52052004", "Rehabilitation therapy"),
        "subject": record.patient_ref,
        "authoredOn": on.isoformat(),
        "requester": ref("PractitionerRole", requester),
        "performer": [ref("Organization", ctx.directory.rehab_service)],
    }
    if encounter is not None:
        body["encounter"] = ref("Encounter", encounter)
    request = record.add("ServiceRequest", body)
    if not seen:
        return
    contacts = rng.randint(1, 5)
    finish = first + timedelta(days=7 * (contacts - 1))
    care = episode(
        record,
        "community-rehabilitation",
        ctx.directory.rehab_service,
        first,
        finish,
        referral=request,
        last_day=last_day,
    )
    for k in range(contacts):
        day = first + timedelta(days=7 * k)
        if day > last_day:
            break
        record.encounter(
            klass="HH",
            kind="community-rehab-contact",
            start=day,
            end=day,
            provider=ctx.directory.rehab_service,
            practitioner=rng.choice(place.rehab_staff),
            extra={
                "basedOn": [ref("ServiceRequest", request)],
                "episodeOfCare": [ref("EpisodeOfCare", care)],
                "location": [{"location": ref("Location", place.rehab_location)}],
            },
        )


def social_care_assessment(
    record: PersonRecord, ctx: SynthContext, rng: random.Random, on: date
) -> None:
    place = ctx.directory.places[record.person.place]
    record.encounter(
        klass="HH",
        kind="asc-assessment",
        start=on,
        end=on,
        provider=place.asc,
        practitioner=rng.choice(place.social_workers),
    )


def reablement(
    record: PersonRecord, ctx: SynthContext, rng: random.Random, on: date, last_day: date
) -> None:
    place = ctx.directory.places[record.person.place]
    episode(
        record, "reablement", place.asc, on, on + timedelta(days=REABLEMENT_DAYS), last_day=last_day
    )
    record.encounter(
        klass="HH",
        kind="reablement-visit",
        start=on + timedelta(days=1),
        end=on + timedelta(days=1),
        provider=place.asc,
        practitioner=rng.choice(place.care_workers),
    )


def move_into_care_home(record: PersonRecord, on: date, last_day: date) -> None:
    """Record the earliest permanent care-home admission; the episode is written once at the end."""
    if on > last_day:
        return
    current = record.person.in_care_home_from
    if current is None or on < current:
        record.person.in_care_home_from = on


def add_care_home_episode(
    record: PersonRecord, ctx: SynthContext, rng: random.Random, last_day: date
) -> None:
    person = record.person
    admitted = person.in_care_home_from
    if admitted is None:
        return
    place = ctx.directory.places[person.place]
    home = place.care_homes[rng.randrange(len(place.care_homes))]
    end = person.death if person.death is not None else None
    episode(record, "long-term-care-home", home, admitted, end, last_day=last_day)
