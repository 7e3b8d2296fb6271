"""Disclosure control of measure results: small counts hidden with their values, the
complement of proportions protected, and no hidden group recoverable from the ICS total."""

from __future__ import annotations

import numpy as np

from joinedup.export.disclosure import DisclosureRule
from joinedup.measures.compute.estimate import Estimates
from joinedup.measures.compute.protect import protect

RULE = DisclosureRule(suppress_below=8, round_to=5)


def estimates(numerators: list[int], denominators: list[float]) -> Estimates:
    n = len(numerators)
    groups = ["ICS"] + [f"g{i}" for i in range(1, n)]
    return Estimates(
        breakdown=np.array(["ics"] + ["place"] * (n - 1)),
        group_id=np.array(groups),
        period_start=np.array(["2024-04-01"] * n),
        period_end=np.array(["2024-04-30"] * n),
        numerator=np.array(numerators, dtype=float),
        denominator=np.array(denominators, dtype=float),
        value=np.zeros(n),
        lower=np.zeros(n),
        upper=np.zeros(n),
    )


def test_small_group_and_a_complement_are_hidden_and_the_rest_rounded() -> None:
    hidden, numerator, _ = protect(
        estimates([63, 3, 30, 30], [300, 100, 100, 100]), with_complement=False, rule=RULE
    )
    assert not hidden[0] and numerator[0] == 65
    assert hidden[1], "a count of 3 is suppressed"
    # With the ICS total published, one more group must go so the 3 cannot be worked out.
    assert hidden[2:].sum() == 1


def test_proportion_complement_is_protected() -> None:
    # 95 of 98: the numerator is large but only 3 people are left over.
    hidden, _, denominator = protect(
        estimates([190, 95, 95], [200, 98, 102]), with_complement=True, rule=RULE
    )
    assert hidden[1]
    assert denominator[1] is None


def test_zero_counts_are_published() -> None:
    hidden, numerator, _ = protect(
        estimates([40, 0, 40], [100, 50, 50]), with_complement=False, rule=RULE
    )
    assert not hidden.any() and numerator[1] == 0
