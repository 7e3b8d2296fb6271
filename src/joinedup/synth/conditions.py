"""Long-term conditions: prevalence by age and deprivation, and how they occur together.

Each condition is drawn in turn on the odds scale: a baseline prevalence by age (interpolated
between anchor ages), times an odds ratio per IMD-quintile step towards deprivation, times odds
ratios for smoking and for the conditions already drawn. The order follows cause before
consequence (hypertension before stroke, COPD before osteoporosis), so co-occurrence comes
from the odds ratios rather than from a shared latent factor.

Sources (rounded; see ``docs/synthetic-data.md``): baseline prevalence by age from QOF 2019-20
registers and the Health Survey for England; deprivation gradients from QOF prevalence by IMD
quintile; co-occurrence targets from Barnett et al., Lancet 2012 (multimorbidity in 1.75M
Scottish patients), the Cambridge Multimorbidity Score work (Payne et al., CMAJ 2020) and the
Health Foundation's "Understanding the health care needs of people with multiple health
conditions" (2018): people with COPD about twice as likely to have depression and over a
third with osteoporosis; a third of people with heart disease with arthritis/joint pain;
almost everyone with a stroke has at least one other condition.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from joinedup.synth.population import Person

ANCHOR_AGES = (0, 18, 40, 60, 75, 85)


@dataclass(frozen=True)
class ConditionModel:
    key: str
    snomed: str
    display: str
    prevalence: tuple[float, ...]
    """baseline prevalence at each of ANCHOR_AGES"""
    deprivation_or: float
    """odds ratio per IMD-quintile step towards the most deprived"""
    smoking_or: float = 1.0
    after: tuple[tuple[str, float], ...] = ()
    """odds ratios given conditions drawn earlier"""


CONDITIONS: tuple[ConditionModel, ...] = (
    ConditionModel(
        "hypertension", "38341003", "Hypertensive disorder", (0, 0.01, 0.05, 0.25, 0.45, 0.55), 1.08
    ),
    ConditionModel(
        "diabetes",
        "44054006",
        "Type 2 diabetes mellitus",
        (0.001, 0.005, 0.03, 0.09, 0.14, 0.14),
        1.18,
        1.2,
        (("hypertension", 2.5),),
    ),
    ConditionModel(
        "ckd",
        "709044004",
        "Chronic kidney disease",
        (0, 0, 0.005, 0.025, 0.09, 0.2),
        1.08,
        1.2,
        (("hypertension", 3.0), ("diabetes", 2.5)),
    ),
    ConditionModel(
        "chd",
        "414545008",
        "Ischemic heart disease",
        (0, 0, 0.004, 0.035, 0.09, 0.13),
        1.15,
        1.8,
        (("hypertension", 2.2), ("diabetes", 2.0)),
    ),
    ConditionModel(
        "atrial_fibrillation",
        "49436004",
        "Atrial fibrillation",
        (0, 0, 0.002, 0.015, 0.06, 0.12),
        1.0,
        1.1,
        (("hypertension", 1.8), ("chd", 1.8)),
    ),
    ConditionModel(
        "heart_failure",
        "84114007",
        "Heart failure",
        (0, 0, 0.001, 0.006, 0.025, 0.06),
        1.15,
        1.3,
        (("chd", 4.0), ("atrial_fibrillation", 3.0), ("hypertension", 1.8), ("ckd", 1.8)),
    ),
    ConditionModel(
        "stroke",
        "230690007",
        "Cerebrovascular accident",
        (0, 0, 0.002, 0.012, 0.04, 0.07),
        1.12,
        1.6,
        (("hypertension", 3.0), ("atrial_fibrillation", 3.5), ("diabetes", 1.8), ("chd", 1.8)),
    ),
    ConditionModel(
        "copd",
        "13645005",
        "Chronic obstructive lung disease",
        (0, 0, 0.004, 0.025, 0.06, 0.07),
        1.35,
        1.0,
    ),
    ConditionModel(
        "asthma", "195967001", "Asthma", (0.08, 0.07, 0.065, 0.065, 0.07, 0.065), 1.05, 1.2
    ),
    ConditionModel(
        "depression",
        "35489007",
        "Depressive disorder",
        (0.005, 0.07, 0.12, 0.12, 0.1, 0.1),
        1.15,
        1.3,
        (("copd", 2.2), ("stroke", 2.0), ("chd", 1.6), ("heart_failure", 1.6), ("diabetes", 1.4)),
    ),
    ConditionModel(
        "smi", "69322001", "Psychotic disorder", (0, 0.005, 0.01, 0.01, 0.008, 0.008), 1.3, 1.5
    ),
    ConditionModel(
        "osteoarthritis",
        "396275006",
        "Osteoarthritis",
        (0, 0.005, 0.03, 0.12, 0.22, 0.28),
        1.08,
        1.0,
        (("chd", 2.5), ("diabetes", 1.3), ("depression", 1.4)),
    ),
    ConditionModel(
        "osteoporosis",
        "64859006",
        "Osteoporosis",
        (0, 0, 0.003, 0.03, 0.08, 0.14),
        1.05,
        1.3,
        (("copd", 8.0), ("osteoarthritis", 1.4)),
    ),
    ConditionModel(
        "cancer",
        "363346000",
        "Malignant neoplastic disease",
        (0.001, 0.002, 0.01, 0.04, 0.08, 0.1),
        1.02,
        1.5,
    ),
    ConditionModel(
        "dementia",
        "52448006",
        "Dementia",
        (0, 0, 0, 0.003, 0.03, 0.14),
        1.08,
        1.1,
        (("stroke", 2.5), ("diabetes", 1.3)),
    ),
    ConditionModel(
        "frailty",
        "248279007",
        "Frailty",
        (0, 0, 0, 0.03, 0.1, 0.28),
        1.15,
        1.2,
        (
            ("dementia", 3.0),
            ("heart_failure", 2.5),
            ("stroke", 2.5),
            ("copd", 2.0),
            ("osteoarthritis", 1.8),
            ("osteoporosis", 1.8),
            ("diabetes", 1.5),
            ("ckd", 1.5),
        ),
    ),
)
BY_KEY = {model.key: model for model in CONDITIONS}
#: Share of people with a condition at the end of the period who already had it at the start.
PREVALENT_AT_START = 0.85


def baseline(model: ConditionModel, age: float) -> float:
    if age >= ANCHOR_AGES[-1]:
        return model.prevalence[-1]
    for i in range(len(ANCHOR_AGES) - 1):
        a0, a1 = ANCHOR_AGES[i], ANCHOR_AGES[i + 1]
        if age < a1:
            p0, p1 = model.prevalence[i], model.prevalence[i + 1]
            return p0 + (p1 - p0) * (age - a0) / (a1 - a0)
    return model.prevalence[-1]


def draw_conditions(rng: random.Random, person: Person, start: date, end: date) -> None:
    """Fill ``person.conditions`` with the conditions held by the end of the period."""
    age = person.age + (end - start).days / 730
    steps = 2 * person.deprivation  # quintile steps from the middle quintile
    smoking = {"current": 1.0, "former": 0.6}.get(person.smoking, 0.0)
    drawn: set[str] = set()
    for model in CONDITIONS:
        p = baseline(model, age)
        if p <= 0:
            continue
        odds = p / (1 - p) * model.deprivation_or**steps
        odds *= 1 + (model.smoking_or - 1) * smoking
        for earlier, ratio in model.after:
            if earlier in drawn:
                odds *= ratio
        if model.key == "copd":
            # COPD is mostly a smoking disease (about 4x the odds in current smokers).
            odds *= 1 + 3.0 * smoking
        if rng.random() < odds / (1 + odds):
            drawn.add(model.key)
            person.conditions[model.key] = _onset(rng, person, start, end)


def _onset(rng: random.Random, person: Person, start: date, end: date) -> date:
    if rng.random() < PREVALENT_AT_START:
        earliest = max(person.birth, start - timedelta(days=365 * 15))
        return earliest + timedelta(days=rng.randrange(max(1, (start - earliest).days)))
    return start + timedelta(days=rng.randrange((end - start).days + 1))
