"""Hospital activity: A&E attendances, emergency and elective admissions, falls, discharge
destinations and pathways, rehabilitation prescriptions and emergency readmissions.

Rates (per person-year; rounded from NHS England Hospital Episode Statistics 2019-20 and
A&E attendance statistics: about 0.45 A&E attendances and 0.11 emergency admissions per
person per year, both rising steeply with age, conditions and deprivation). Discharge
pathways follow the Hospital Discharge Service model (pathway 0: home, no new support ~50%
of older patients with needs; 1: home with reablement ~45%; 2: rehabilitation bed ~4%;
3: care home ~1-3%) skewed here towards those with a rehabilitation need.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from joinedup.synth import community
from joinedup.synth import vocabulary as v
from joinedup.synth.conditions import BY_KEY
from joinedup.synth.context import SynthContext
from joinedup.synth.record import PersonRecord, ref
from joinedup.synth.timing import event_dates

#: Ambulatory-care-sensitive chronic conditions (NHS Outcomes Framework 2.3.i) the model admits for.
ACSC_CONDITIONS = (
    "copd",
    "heart_failure",
    "diabetes",
    "asthma",
    "chd",
    "atrial_fibrillation",
    "hypertension",
)
ACUTE_REASONS: tuple[tuple[str, str], ...] = (
    ("68566005", "Urinary tract infectious disease"),
    ("233604007", "Pneumonia"),
    ("29857009", "Chest pain"),
    ("21522001", "Abdominal pain"),
    ("128045006", "Cellulitis"),
)
INJURY = ("417746004", "Traumatic injury")
FALL = ("217082002", "Accidental fall")
STROKE = ("230690007", "Cerebrovascular accident")
ADMITTED_FROM_AE = v.concept(
    "http://terminology.hl7.org/CodeSystem/admit-source",
    "emd",
    "From accident/emergency department",
)
ELECTIVE_REASONS: tuple[tuple[str, str], ...] = (
    ("179344006", "Total replacement of hip joint"),
    ("179345007", "Total replacement of knee joint"),
    ("54885007", "Cataract extraction"),
    ("73761001", "Colonoscopy"),
)


class HospitalStays:
    def __init__(
        self, record: PersonRecord, ctx: SynthContext, rng: random.Random, last_day: date
    ) -> None:
        self.record = record
        self.ctx = ctx
        self.rng = rng
        self.last_day = last_day
        self.person = record.person
        self.place = ctx.directory.places[self.person.place]
        self.busy_until = ctx.start - timedelta(days=1)

    def run(self, died_in_hospital: bool) -> None:
        person, ctx, rng = self.person, self.ctx, self.rng
        n = person.count_conditions(ctx.end)
        old = max(0, person.age - 60)
        frail = person.has("frailty", ctx.end)
        scale = 1 + 0.3 * person.deprivation
        ae_rate = (0.25 + 0.08 * n + 0.008 * old) * scale
        emergency_rate = (0.03 + 0.035 * n + 0.004 * old) * scale
        falls_rate = 0.0
        if person.age >= 65:
            falls_rate = (0.015 + 0.04 * frail + 0.02 * person.has("osteoporosis", ctx.end)
                          + 0.02 * person.has("dementia", ctx.end)) * scale  # fmt: skip
        events: list[tuple[date, str]] = [
            (d, "ae") for d in event_dates(rng, ae_rate, ctx.start, self.last_day)
        ]
        events += [
            (d, "emergency") for d in event_dates(rng, emergency_rate, ctx.start, self.last_day)
        ]
        events += [(d, "fall") for d in event_dates(rng, falls_rate, ctx.start, self.last_day)]
        events += [
            (d, "elective") for d in event_dates(rng, 0.04 + 0.02 * n, ctx.start, self.last_day)
        ]
        stroke = person.conditions.get("stroke")
        if stroke is not None and stroke >= ctx.start and stroke <= self.last_day:
            events.append((stroke, "stroke"))
        for day, kind in sorted(events):
            if day <= self.busy_until:
                continue
            if kind == "ae":
                reason = FALL if person.age >= 65 and rng.random() < 0.25 else INJURY
                if rng.random() < 0.5:
                    reason = rng.choice(ACUTE_REASONS)
                self.attend(day, reason)
            elif kind == "elective":
                self.admit(day, emergency=False, reason=rng.choice(ELECTIVE_REASONS))
            else:
                self.emergency(day, kind)
        if died_in_hospital and person.death is not None and person.death > self.busy_until:
            stay = min(rng.randint(1, 14), (person.death - ctx.start).days)
            reason = self._reason("emergency", person.death)
            self.attend(person.death - timedelta(days=stay), reason)
            self.admit(
                person.death - timedelta(days=stay), emergency=True, reason=reason, died=True
            )

    def attend(self, day: date, reason: tuple[str, str]) -> str:
        return self.record.encounter(
            klass="EMER",
            kind="ae-attendance",
            start=day,
            end=day,
            provider=self.place.acute,
            practitioner=self.rng.choice(self.place.hospital_doctors),
            reasons=[v.concept(v.SNOMED, *reason)],
        )

    def _reason(self, kind: str, day: date) -> tuple[str, str]:
        """SNOMED CT code and display: the fall or stroke, a long-term condition held that
        day (ambulatory-care-sensitive), or an acute illness."""
        if kind == "fall":
            return FALL
        if kind == "stroke":
            return STROKE
        held = [c for c in ACSC_CONDITIONS if self.person.has(c, day)]
        if held and self.rng.random() < 0.45:
            model = BY_KEY[self.rng.choice(held)]
            return model.snomed, model.display
        return self.rng.choice(ACUTE_REASONS)

    def emergency(self, day: date, kind: str) -> None:
        reason = self._reason(kind, day)
        self.attend(day, reason)
        discharge, admission = self.admit(day, emergency=True, reason=reason, kind=kind)
        if admission is None:
            return
        person, rng = self.person, self.rng
        n = person.count_conditions(day)
        frail = person.has("frailty", day)
        # NHS Outcomes Framework 3b: ~14-15% of emergency admissions return within 30 days.
        if rng.random() < 0.09 + 0.02 * n + 0.05 * frail:
            back = discharge + timedelta(days=rng.randint(1, 30))
            if back <= self.last_day and (person.death is None or back < person.death):
                reason = self._reason("emergency", back)
                self.attend(back, reason)
                self.admit(back, emergency=True, reason=reason, kind="emergency")

    def admit(
        self,
        day: date,
        *,
        emergency: bool,
        reason: tuple[str, str],
        kind: str = "elective",
        died: bool = False,
        until: date | None = None,
    ) -> tuple[date, str | None]:
        """One hospital spell; returns the discharge date and the admission id (None if died)."""
        person, rng, _ctx = self.person, self.rng, self.ctx
        if emergency:
            mean = (
                1.5
                + 0.12 * max(0, person.age - 50)
                + 3 * person.has("frailty", day)
                + 5 * (kind == "stroke")
            )
            stay = int(rng.expovariate(1 / mean))
        else:
            stay = 0 if rng.random() < 0.7 else rng.randint(1, 4)
        discharge = day + timedelta(days=stay)
        if until is not None:
            discharge = max(discharge, until)
        if person.death is not None and discharge >= person.death:
            discharge, died = person.death, True
        discharge = min(discharge, self.last_day)
        self.busy_until = discharge
        in_care_home = person.in_care_home_from is not None and person.in_care_home_from <= day
        rehab_need = (
            emergency
            and not died
            and (
                kind in ("fall", "stroke")
                or (person.age >= 65 and (person.has("frailty", day) or stay >= 7))
            )
        )
        pathway = self._pathway(in_care_home, rehab_need, died)
        if died:
            destination = "79"
        elif in_care_home:
            destination = "85"
        elif pathway == 2:
            destination = "51"
        elif pathway == 3:
            destination = rng.choice(("54", "65", "85"))
        else:
            destination = "19"
        admission = self.record.encounter(
            klass="IMP",
            kind="emergency-admission" if emergency else "elective-admission",
            start=day,
            end=discharge,
            provider=self.place.acute,
            practitioner=rng.choice(self.place.hospital_doctors),
            reasons=[v.concept(v.SNOMED, *reason)],
            extra={
                "priority": v.concept(v.ACT_PRIORITY, "EM" if emergency else "EL"),
                "hospitalization": {
                    **({"admitSource": ADMITTED_FROM_AE} if emergency else {}),
                    "dischargeDisposition": v.concept(
                        v.DISCHARGE_DESTINATION, destination, v.DISCHARGE_DESTINATIONS[destination]
                    ),
                },
            },
        )
        if died:
            return discharge, None
        if rehab_need:
            self._after_rehab_need(admission, discharge, pathway)
        return discharge, admission

    def _pathway(self, in_care_home: bool, rehab_need: bool, died: bool) -> int | None:
        if died or in_care_home or not rehab_need:
            return None
        draw = self.rng.random()
        frail = self.person.has("frailty", self.ctx.end)
        if draw < 0.01 + 0.02 * frail:
            return 3
        if draw < 0.2:
            return 2
        if draw < 0.7:
            return 1
        return 0

    def _after_rehab_need(self, admission: str, discharge: date, pathway: int | None) -> None:
        record, rng, ctx, place = self.record, self.rng, self.ctx, self.place
        therapist = rng.choice(place.ward_therapists)
        record.observation(
            v.concept(
                v.OBSERVATION_CODE, "rehabilitation-need", "Rehabilitation need at discharge"
            ),
            discharge,
            {"valueBoolean": True},
            category="survey",
            encounter=admission,
        )
        if rng.random() < place.rehab_prescription_rate:
            record.add(
                "CarePlan",
                {
                    "status": "active"
                    if discharge + timedelta(days=91) > self.last_day
                    else "completed",
                    "intent": "plan",
                    "category": [
                        v.concept(
                            v.CAREPLAN_CATEGORY,
                            "rehabilitation-prescription",
                            "Rehabilitation prescription",
                        )
                    ],
                    "title": "Integrated rehabilitation prescription",
                    "subject": record.patient_ref,
                    "encounter": ref("Encounter", admission),
                    "period": {"start": discharge.isoformat()},
                    "created": discharge.isoformat(),
                    "author": ref("PractitionerRole", therapist),
                },
            )
        if pathway == 3:
            community.move_into_care_home(record, discharge, self.last_day)
            return
        if pathway == 1:
            community.reablement(record, ctx, rng, discharge, self.last_day)
        if pathway == 2 or (pathway in (0, 1) and rng.random() < 0.6):
            community.refer_to_rehab(
                record, ctx, rng, discharge, therapist, self.last_day, admission
            )
        if rng.random() < 0.4:
            community.social_care_assessment(
                record, ctx, rng, discharge + timedelta(days=rng.randint(1, 14))
            )
        if pathway in (1, 2):
            # ASCOF 2B(1): about 82% still at home 91 days after reablement/rehabilitation.
            success = place.reablement_success - 0.06 * self.person.has("frailty", discharge)
            if rng.random() > success:
                self._not_home_at_91_days(discharge)

    def _not_home_at_91_days(self, discharge: date) -> None:
        """Either a permanent care-home admission or back in hospital on day 91."""
        rng = self.rng
        if rng.random() < 0.2:
            day = discharge + timedelta(days=rng.randint(14, 90))
            community.move_into_care_home(self.record, day, self.last_day)
            return
        back = discharge + timedelta(days=rng.randint(60, 90))
        if back > self.last_day or (self.person.death is not None and back >= self.person.death):
            return
        reason = self._reason("emergency", back)
        self.attend(back, reason)
        self.admit(
            back,
            emergency=True,
            reason=reason,
            kind="emergency",
            until=discharge + timedelta(days=92),
        )
