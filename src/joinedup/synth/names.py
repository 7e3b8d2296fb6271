"""Invented names for people and staff (common English given and family names)."""

from __future__ import annotations

import random
from typing import Any

GIVEN_FEMALE = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Sophia", "Grace", "Lily", "Freya", "Emily",
    "Margaret", "Susan", "Patricia", "Linda", "Sarah", "Helen", "Joan", "Aisha", "Priya", "Fatima",
    "Zainab", "Chloe", "Ruth", "Eleanor", "Wendy",
)  # fmt: skip
GIVEN_MALE = (
    "Oliver", "George", "Noah", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Charlie", "Jacob",
    "David", "John", "Michael", "Peter", "Robert", "Stephen", "Mohammed", "Ali", "Arjun", "Kwame",
    "Daniel", "Thomas", "William", "Graham", "Brian",
)  # fmt: skip
FAMILY = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Khan", "Begum", "Hussain", "Lewis", "Clarke", "Jackson", "Wood", "Turner", "Hill", "Ahmed",
    "Okafor", "Mensah", "Nowak", "Kowalski", "Murphy", "Kelly", "Chen", "Singh",
)  # fmt: skip


def human_name(rng: random.Random, sex: str) -> dict[str, Any]:
    given = GIVEN_FEMALE if sex == "female" else GIVEN_MALE
    return {"use": "official", "family": rng.choice(FAMILY), "given": [rng.choice(given)]}
