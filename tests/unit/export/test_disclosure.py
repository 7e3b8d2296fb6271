"""Disclosure control: the NHS Digital rule, and an attacker who cannot recover hidden cells.

The attacker here is written independently of the module: from the published rows alone
(plus, generously, the *exact* value of every published cell) it writes the sum equations of
the table and asks whether each hidden cell is pinned down (rank test), and then what range
of values it could take given that counts are non-negative (linear programming).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from joinedup.config import Settings
from joinedup.export.disclosure import (
    TOTAL as TOTAL_CELL,
)
from joinedup.export.disclosure import (
    DisclosureRule,
    protect_count,
    protect_one_way_tables,
    protect_table,
)

RULE = DisclosureRule(suppress_below=8, round_to=5)
TOTAL = "Total"


def truth(rows: list[dict[str, Any]], dims: list[str]) -> dict[tuple[Any, ...], int]:
    """Every cell of the table with margins, computed the plain way."""
    values: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in rows:
        for collapse in itertools.product((False, True), repeat=len(dims)):
            key = tuple(TOTAL if c else row[d] for d, c in zip(dims, collapse, strict=True))
            values[key] += row["n"]
    return values


def attack(
    published: list[dict[str, Any]], dims: list[str], exact: dict[tuple[Any, ...], int]
) -> dict[tuple[Any, ...], tuple[float, float]]:
    """For each hidden cell: (min, max) it can take consistent with everything published.

    Also asserts, by a rank test, that no hidden cell is uniquely determined.
    """
    keys = [tuple(row[d] for d in dims) for row in published]
    hidden = [k for k, row in zip(keys, published, strict=True) if row["n"] is None]
    unknown = {k: i for i, k in enumerate(hidden)}
    members = [sorted({k[i] for k in keys} - {TOTAL}, key=str) for i in range(len(dims))]
    equations: list[tuple[np.ndarray, float]] = []
    for axis in range(len(dims)):
        others = [[*members[i], TOTAL] for i in range(len(dims)) if i != axis]
        for rest in itertools.product(*others):

            def cell(m: Any, rest: tuple[Any, ...] = rest, axis: int = axis) -> tuple[Any, ...]:
                return (*rest[:axis], m, *rest[axis:])

            coefficients = np.zeros(len(hidden))
            constant = 0.0
            for key, sign in [(cell(m), 1.0) for m in members[axis]] + [(cell(TOTAL), -1.0)]:
                if key in unknown:
                    coefficients[unknown[key]] += sign
                else:
                    constant -= sign * exact.get(key, 0)
            equations.append((coefficients, constant))
    a = np.array([e[0] for e in equations])
    b = np.array([e[1] for e in equations])
    rank = np.linalg.matrix_rank(a) if len(hidden) else 0
    ranges = {}
    for key, index in unknown.items():
        probe = np.zeros(len(hidden))
        probe[index] = 1.0
        assert np.linalg.matrix_rank(np.vstack([a, probe])) > rank, (
            f"{key} is recoverable from the margins"
        )
        bounds = [(0, None)] * len(hidden)
        low = linprog(probe, A_eq=a, b_eq=b, bounds=bounds)
        high = linprog(-probe, A_eq=a, b_eq=b, bounds=bounds)
        assert low.status == 0 and high.status in (0, 3)  # 3: unbounded above, even safer
        ranges[key] = (low.fun, -high.fun if high.status == 0 else float("inf"))
    return ranges


def table(cells: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [{"place": p, "sex": s, "n": n} for (p, s), n in cells.items()]


def test_the_nhs_digital_rule_hides_one_to_seven_and_rounds_the_rest_to_five() -> None:
    assert [protect_count(v, RULE) for v in [0, 1, 7, 8, 12, 13, 102, 103]] == [
        0,
        None,
        None,
        10,
        10,
        15,
        100,
        105,
    ]


def test_thresholds_come_from_settings() -> None:
    rule = DisclosureRule.from_settings(Settings(suppress_below=11, round_to=10))
    assert protect_count(10, rule) is None
    assert protect_count(11, rule) == 10
    assert protect_count(15, rule) == 20


def test_a_lone_small_cell_in_a_two_way_table_cannot_be_recovered_from_its_margins() -> None:
    rows = table(
        {
            ("A", "f"): 3,
            ("A", "m"): 40,
            ("B", "f"): 30,
            ("B", "m"): 41,
            ("C", "f"): 25,
            ("C", "m"): 28,
        }
    )
    published = protect_table(rows, dimensions=["place", "sex"], count="n", rule=RULE).to_pylist()
    by_key = {(r["place"], r["sex"]): r for r in published}
    assert by_key[("A", "f")]["suppressed"] == "primary"
    assert by_key[("A", "Total")]["n"] == 45 and by_key[("Total", "Total")]["n"] == 165
    ranges = attack(published, ["place", "sex"], truth(rows, ["place", "sex"]))
    assert len(ranges) >= 4
    low, high = ranges[("A", "f")]
    assert high - low >= RULE.suppress_below, (
        "the hidden count's feasible range is too narrow to protect it"
    )


def test_a_small_margin_is_hidden_with_everything_that_would_give_it_away() -> None:
    rows = table({("A", "f"): 2, ("A", "m"): 3, ("B", "f"): 50, ("B", "m"): 60})
    published = protect_table(rows, dimensions=["place", "sex"], count="n", rule=RULE).to_pylist()
    by_key = {(r["place"], r["sex"]): r for r in published}
    assert by_key[("A", "Total")]["n"] is None
    attack(published, ["place", "sex"], truth(rows, ["place", "sex"]))


def test_one_way_table_with_total_needs_a_second_hidden_cell() -> None:
    rows = [{"band": b, "n": n} for b, n in [("0-17", 5), ("18-64", 120), ("65+", 60)]]
    protected = protect_table(rows, dimensions=["band"], count="n", rule=RULE)
    assert len(protected.hidden()) == 2
    assert protected.to_pylist()[-1] == {"band": "Total", "n": 185, "suppressed": None}
    attack(protected.to_pylist(), ["band"], truth(rows, ["band"]))


def test_rates_on_hidden_counts_are_hidden_too() -> None:
    rows = [
        {"place": "A", "n": 4, "rate": 4 / 1000},
        {"place": "B", "n": 90, "rate": 90 / 1200},
        {"place": "C", "n": 70, "rate": 70 / 900},
    ]
    published = protect_table(
        rows, dimensions=["place"], count="n", derived=["rate"], rule=RULE
    ).to_pylist()
    for row in published:
        if row["n"] is None:
            assert row["rate"] is None
    assert published[0]["rate"] is None
    assert any(row["rate"] == pytest.approx(90 / 1200) for row in published)


def test_accepts_a_pyarrow_table() -> None:
    arrow = pa.Table.from_pylist(
        table({("A", "f"): 1, ("A", "m"): 9, ("B", "f"): 20, ("B", "m"): 30})
    )
    protected = protect_table(arrow, dimensions=["place", "sex"], count="n", rule=RULE)
    assert ("A", "f") in protected.hidden()


def test_bad_input_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="non-negative integers"):
        protect_table([{"place": "A", "n": -1}], dimensions=["place"], count="n", rule=RULE)
    with pytest.raises(ValueError, match="appears twice"):
        protect_table(
            [{"place": "A", "n": 1}, {"place": "A", "n": 2}],
            dimensions=["place"],
            count="n",
            rule=RULE,
        )
    with pytest.raises(ValueError, match="missing"):
        protect_table([{"place": "A"}], dimensions=["place"], count="n", rule=RULE)


counts = st.sampled_from([0, 1, 2, 5, 7, 8, 9, 15, 40, 120])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)),
    data=st.data(),
)
def test_no_hidden_cell_is_ever_recoverable_in_random_three_way_tables(
    shape: tuple[int, int, int], data: st.DataObject
) -> None:
    dims = ["x", "y", "z"]
    rows = [
        {"x": f"x{i}", "y": f"y{j}", "z": f"z{k}", "n": data.draw(counts)}
        for i, j, k in itertools.product(*(range(size) for size in shape))
    ]
    protected = protect_table(rows, dimensions=dims, count="n", rule=RULE)
    exact = truth(rows, dims)
    published = protected.to_pylist()
    for row in published:
        value = exact[tuple(row[d] for d in dims)]
        if RULE.is_small(value):
            assert row["n"] is None, "every small count, margins included, is hidden"
        elif row["n"] is not None:
            assert row["n"] == RULE.rounded(value)
    for low, high in attack(published, dims, exact).values():
        assert high > low


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=st.lists(st.lists(counts, min_size=1, max_size=8), min_size=1, max_size=6))
def test_one_way_tables_at_once_hide_what_protect_table_hides(tables: list[list[int]]) -> None:
    # Rows of all tables interleaved, table ids neither sorted nor dense: only membership and
    # the order of a table's own rows (ties go to the earlier row) may count.
    flat = [(t, i, n) for t, table in enumerate(tables) for i, n in enumerate(table)]
    flat = [flat[k] for k in np.random.default_rng(len(flat)).permutation(len(flat))]
    hidden = protect_one_way_tables(
        np.array([n for _, _, n in flat]), np.array([(7 * t) % 11 for t, _, _ in flat]), RULE
    )
    for t in range(len(tables)):
        mine = [(k, i, n) for k, (u, i, n) in enumerate(flat) if u == t]
        rows: list[dict[str, Any]] = [{"group": f"g{i}", "n": n} for _, i, n in mine]
        protected = protect_table(rows, dimensions=["group"], count="n", rule=RULE)
        expected = {cell.coordinates[0] for cell in protected.cells if cell.suppressed}
        assert {f"g{i}" for k, i, _ in mine if hidden[k]} == expected - {TOTAL_CELL}
        total = sum(n for _, _, n in mine)
        published = [{"group": f"g{i}", "n": None if hidden[k] else n} for k, i, n in mine]
        published.append({"group": TOTAL, "n": None if RULE.is_small(total) else total})
        attack(published, ["group"], truth(rows, ["group"]))
