"""Primary care: GP, nurse and first-contact-practitioner appointments and what is recorded
at them (blood pressure, BMI, HbA1c, smoking, physical activity, employment), flu
vaccination, SMI annual health checks and personalised care plans.

Rates and values (rounded): consultation rates from the NHS Digital "Appointments in
General Practice" series and Hippisley-Cox & Vinogradova (QResearch, 2009) — more with age
and with each long-term condition; blood pressure control targets from NICE NG136 (<140/90
under 80, <150/90 from 80); flu uptake in clinical risk groups from UKHSA seasonal flu
reports (about 50-80%); GPPAQ activity categories from the Health Survey for England;
employment of working-age people with a long-term condition from the ONS Labour Force
Survey (the disability employment gap).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from joinedup.synth import community
from joinedup.synth import vocabulary as v
from joinedup.synth.context import SynthContext
from joinedup.synth.record import PersonRecord, quantity, ref
from joinedup.synth.timing import poisson

MSK_REASONS: tuple[tuple[str, str], ...] = (
    ("279039007", "Low back pain"),
    ("57676002", "Joint pain"),
)
SMOKING_VALUES = {
    "current": ("77176002", "Smoker"),
    "former": ("8517006", "Ex-smoker"),
    "never": ("266919005", "Never smoked tobacco"),
}
BP_PANEL = {
    "coding": [
        v.coding(v.LOINC, "85354-9", "Blood pressure panel with all children optional"),
        v.coding(v.SNOMED, "75367002", "Blood pressure"),
    ],
    "text": "Blood pressure",
}
SYSTOLIC = v.concept(v.LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = v.concept(v.LOINC, "8462-4", "Diastolic blood pressure")
BMI = v.concept(v.LOINC, "39156-5", "Body mass index (BMI) [Ratio]")
HBA1C = v.concept(v.LOINC, "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol")
SMOKING = v.concept(v.LOINC, "72166-2", "Tobacco smoking status")
ACTIVITY = v.concept(v.OBSERVATION_CODE, "physical-activity", "Physical activity level (GPPAQ)")
EMPLOYMENT = v.concept(v.LOINC, "67875-5", "Employment status current")
FLU_VACCINE = v.concept(v.SNOMED, "46233009", "Influenza vaccine")
ACTIVITY_LEVELS = ("active", "moderately-active", "moderately-inactive", "inactive")


class PrimaryCare:
    def __init__(
        self, record: PersonRecord, ctx: SynthContext, rng: random.Random, last_day: date
    ) -> None:
        self.record = record
        self.ctx = ctx
        self.rng = rng
        self.last_day = last_day
        self.person = record.person
        self.practice = ctx.directory.practices[self.person.practice]
        self.place = ctx.directory.places[self.person.place]

    def _day(self, start: date | None = None) -> date:
        start = max(start or self.ctx.start, self.ctx.start)
        return start + timedelta(days=self.rng.randrange(max(1, (self.last_day - start).days + 1)))

    def run(self) -> None:
        person, rng, ctx = self.person, self.rng, self.ctx
        if self.last_day < ctx.start:
            return
        years = ((self.last_day - ctx.start).days + 1) / 365.25
        n = person.count_conditions(ctx.end)
        rate = (0.8 + 0.025 * person.age + 0.6 * n) * (1 + 0.1 * person.deprivation)
        appointments = sorted(self._day() for _ in range(poisson(rng, rate * years)))
        hypertensive_bp_chance = 0.6
        for day in appointments:
            encounter = self.appointment(day)
            if person.has("hypertension", day):
                if rng.random() < hypertensive_bp_chance:
                    self.blood_pressure(day, encounter)
            elif person.age >= 40 and rng.random() < 0.12:
                self.blood_pressure(day, encounter)
        if person.age >= 18:
            self.adult_measures(n)
        if person.has("diabetes", self.last_day):
            for year in range(int(years) + 1):
                if rng.random() < 0.85:
                    day = self._day(ctx.start + timedelta(days=365 * year))
                    value = max(35.0, rng.gauss(55 + 4 * person.deprivation, 12))
                    self.record.observation(
                        HBA1C,
                        day,
                        {"valueQuantity": quantity(round(value), "mmol/mol", "mmol/mol")},
                        category="laboratory",
                    )
        self.flu_vaccinations()
        self.smi_checks(years)
        if n >= 2 and rng.random() < self.place.care_plan_rate + 0.1:
            self.care_plan()

    def appointment(self, day: date) -> str:
        person, rng = self.person, self.rng
        msk_chance = 0.08 + 0.25 * person.has("osteoarthritis", day)
        reasons = None
        if rng.random() < msk_chance:
            reasons = [v.concept(v.SNOMED, *rng.choice(MSK_REASONS))]
            if rng.random() < self.practice.fcp_share:
                kind, clinician = "fcp-appointment", rng.choice(self.practice.fcps)
            else:
                kind, clinician = "gp-appointment", rng.choice(self.practice.gps)
            if rng.random() < 0.04:
                community.refer_to_rehab(self.record, self.ctx, rng, day, clinician, self.last_day)
        elif rng.random() < 0.3:
            kind, clinician = "nurse-appointment", rng.choice(self.practice.nurses)
        else:
            kind, clinician = "gp-appointment", rng.choice(self.practice.gps)
        return self.record.encounter(
            klass="AMB",
            kind=kind,
            start=day,
            end=day,
            provider=self.practice.org,
            practitioner=clinician,
            reasons=reasons,
        )

    def blood_pressure(self, day: date, encounter: str | None) -> None:
        person, rng = self.person, self.rng
        age_now = person.age + (day - self.ctx.start).days // 365
        target = 150 if age_now >= 80 else 140
        if person.has("hypertension", day):
            controlled = rng.random() < self.place.hypertension_control - 0.05 * person.deprivation
            if controlled:
                systolic = min(target - 1, round(rng.gauss(target - 12, 7)))
                diastolic = min(89, round(rng.gauss(78, 6)))
            else:
                systolic = max(target, round(rng.gauss(target + 12, 9)))
                diastolic = round(rng.gauss(88, 7))
        else:
            systolic = round(rng.gauss(118 + 0.3 * max(0, age_now - 40), 11))
            diastolic = round(rng.gauss(76, 7))
        self.record.observation(
            BP_PANEL,
            day,
            {
                "component": [
                    {"code": SYSTOLIC, "valueQuantity": quantity(systolic, "mm[Hg]", "mm[Hg]")},
                    {"code": DIASTOLIC, "valueQuantity": quantity(diastolic, "mm[Hg]", "mm[Hg]")},
                ]
            },
            category="vital-signs",
            encounter=encounter,
        )

    def adult_measures(self, conditions: int) -> None:
        person, rng, record = self.person, self.rng, self.record
        if rng.random() < 0.6 + 0.3 * (conditions > 0):
            bmi = round(max(15.0, rng.gauss(27 + person.deprivation, 5)), 1)
            record.observation(
                BMI,
                self._day(),
                {"valueQuantity": quantity(bmi, "kg/m2", "kg/m2")},
                category="vital-signs",
            )
        if rng.random() < 0.75:
            code, display = SMOKING_VALUES[person.smoking]
            record.observation(
                SMOKING,
                self._day(),
                {"valueCodeableConcept": v.concept(v.SNOMED, code, display)},
                category="social-history",
            )
        if rng.random() < 0.45:
            active = (
                0.65
                - 0.005 * max(0, person.age - 18)
                - 0.08 * person.deprivation
                - 0.06 * conditions
            )
            draw = rng.random()
            level = (
                0
                if draw < active
                else min(3, 1 + int((draw - active) / max(0.05, (1 - active) / 3)))
            )
            record.observation(
                ACTIVITY,
                self._day(),
                {"valueCodeableConcept": v.concept(v.PHYSICAL_ACTIVITY, ACTIVITY_LEVELS[level])},
                category="social-history",
            )
        if 16 <= person.age <= 64 and rng.random() < (0.7 if conditions else 0.3):
            record.observation(
                EMPLOYMENT,
                self._day(),
                {"valueCodeableConcept": v.concept(v.EMPLOYMENT, self._employment(conditions))},
                category="social-history",
            )

    def _employment(self, conditions: int) -> str:
        person, rng = self.person, self.rng
        if person.age < 22 and rng.random() < 0.4:
            return "student"
        if person.age >= 60 and rng.random() < 0.3:
            return "retired"
        employed = (
            0.8
            - 0.09 * conditions
            - 0.08 * person.deprivation
            - 0.15 * person.has("smi", self.last_day)
        )
        draw = rng.random()
        if draw < employed:
            return "employed"
        if draw < employed + 0.06:
            return "unemployed"
        return "long-term-sick-or-disabled" if conditions else "looking-after-home"

    def flu_vaccinations(self) -> None:
        """One chance per flu season (September to January) for people with COPD or 65+."""
        person, rng, ctx = self.person, self.rng, self.ctx
        for year in range(ctx.start.year, ctx.end.year + 1):
            season = date(year, 9, 1)
            if season < ctx.start or season > self.last_day:
                continue
            age_then = person.age + (season - ctx.start).days // 365
            eligible = person.has("copd", season) or age_then >= 65
            if not eligible:
                continue
            if rng.random() < self.place.flu_uptake - 0.08 * person.deprivation:
                day = season + timedelta(days=rng.randrange(120))
                if day > self.last_day:
                    continue
                self.record.add(
                    "Immunization",
                    {
                        "status": "completed",
                        "vaccineCode": FLU_VACCINE,
                        "patient": self.record.patient_ref,
                        "occurrenceDateTime": day.isoformat(),
                        "primarySource": True,
                        "performer": [
                            {"actor": ref("PractitionerRole", rng.choice(self.practice.nurses))}
                        ],
                    },
                )

    def smi_checks(self, years: float) -> None:
        person, rng, ctx = self.person, self.rng, self.ctx
        for year in range(int(years) + 1):
            year_start = ctx.start + timedelta(days=365 * year)
            if not person.has("smi", year_start) or year_start > self.last_day:
                continue
            if rng.random() < self.place.smi_check_rate - 0.05 * person.deprivation:
                day = min(self.last_day, year_start + timedelta(days=rng.randrange(365)))
                encounter = self.record.encounter(
                    klass="AMB",
                    kind="smi-health-check",
                    start=day,
                    end=day,
                    provider=self.practice.org,
                    practitioner=rng.choice(self.practice.nurses),
                )
                self.blood_pressure(day, encounter)

    def care_plan(self) -> None:
        day = self._day()
        addresses = [
            ref("Condition", id_)
            for key, id_ in self.record.condition_ids.items()
            if self.person.conditions[key] <= day
        ]
        if len(addresses) < 2:
            return
        self.record.add(
            "CarePlan",
            {
                "status": "active",
                "intent": "plan",
                "category": [
                    v.concept(
                        v.CAREPLAN_CATEGORY,
                        "personalised-care-plan",
                        "Personalised care and support plan",
                    )
                ],
                "title": "Personalised care and support plan",
                "subject": self.record.patient_ref,
                "period": {"start": day.isoformat()},
                "created": day.isoformat(),
                "author": ref("PractitionerRole", self.rng.choice(self.practice.gps)),
                "addresses": addresses,
            },
        )
