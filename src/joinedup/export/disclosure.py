"""Disclosure control for every published output: small-number suppression, rounding and
secondary suppression over tables with totals.

The rule is NHS Digital's for hospital data ("HES analysis guide", small numbers): counts of
1 to 7 are suppressed and every other count is rounded to the nearest 5; both thresholds come
from settings (``suppress_below``, ``round_to``). Zero is published: it discloses nothing about
a person.

Secondary suppression. A table is published with all its margins (one ``TOTAL`` member per
dimension), so its cells obey linear constraints: in each dimension, the members sum to the
total. Suppressing a small cell is worthless if those constraints pin it down, e.g. the only
hidden cell of a row whose total is shown. We treat the attacker generously: they know every
published cell *exactly* (not just rounded) and may combine any number of constraints. A
hidden cell is then recoverable exactly when every solution of the constraints over the hidden
cells agrees on it, i.e. when the null space of the constraint matrix restricted to the hidden
cells is zero in that cell's coordinate. We add complementary suppressions until no hidden cell
is recoverable, preferring cells that close a cycle with cells already hidden, then inner cells
over margins, then small values (least information lost), then the earlier cell. Complements
are never zero cells, so every hidden cell can move over a range of non-negative values, not
only in the algebra. Many one-way tables (a breakdown's groups and their total) are protected
at once by :func:`protect_one_way_tables`, the same choice in closed form.

Derived values (rates, proportions, intervals) carried on a row are blanked whenever the row's
count is hidden, since a rate times its (often public) denominator gives the count back.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from scipy.linalg import null_space

from joinedup.config import Settings, get_settings


class _Total:
    """The margin member of a dimension ("all values of this dimension")."""

    _instance: _Total | None = None

    def __new__(cls) -> _Total:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TOTAL"


TOTAL: Final = _Total()
"""Marks the margin of a dimension in a protected table's rows."""

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

_EXPOSURE_TOLERANCE = 1e-9
#: How many complementary candidates are tried for an exact fix before the best-ranked is taken.
_CANDIDATES_TRIED = 25


@dataclass(frozen=True)
class DisclosureRule:
    """Counts ``1 .. suppress_below - 1`` are hidden; the rest are rounded to ``round_to``."""

    suppress_below: int = 8
    round_to: int = 5

    def __post_init__(self) -> None:
        if self.suppress_below < 1 or self.round_to < 1:
            raise ValueError("suppress_below and round_to must both be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DisclosureRule:
        settings = settings or get_settings()
        return cls(suppress_below=settings.suppress_below, round_to=settings.round_to)

    def is_small(self, count: int) -> bool:
        return bool(self.is_small_count(np.asarray(count)))

    def is_small_count(self, counts: IntArray) -> BoolArray:
        """:meth:`is_small` of every count at once."""
        return (counts > 0) & (counts < self.suppress_below)

    def rounded(self, count: int) -> int:
        return int(self.rounded_counts(np.asarray(count)))

    def rounded_counts(self, counts: IntArray) -> IntArray:
        """:meth:`rounded` of every count at once."""
        # Half rounds up (12.5 -> 15), as NHS Digital publishes; Python's round() would go to even.
        if self.round_to == 1:
            return counts
        return (counts + self.round_to // 2) // self.round_to * self.round_to


@dataclass(frozen=True)
class ProtectedCell:
    """One published cell: its coordinates, the published count (``None`` when hidden) and why."""

    coordinates: tuple[Any, ...]
    count: int | None
    suppressed: str | None
    """``"primary"`` (a small count), ``"secondary"`` (hidden to protect another) or ``None``."""
    derived: Mapping[str, Any]


@dataclass(frozen=True)
class ProtectedTable:
    """A table with all its margins, safe to publish."""

    dimensions: tuple[str, ...]
    count: str
    cells: tuple[ProtectedCell, ...]
    rule: DisclosureRule

    def to_pylist(self, total_label: str = "Total") -> list[dict[str, Any]]:
        """Rows as dicts (margins labelled ``total_label``), ready for CSV or
        ``pyarrow.Table.from_pylist``."""
        rows = []
        for cell in self.cells:
            row: dict[str, Any] = {
                dim: total_label if value is TOTAL else value
                for dim, value in zip(self.dimensions, cell.coordinates, strict=True)
            }
            row[self.count] = cell.count
            row.update(cell.derived)
            row["suppressed"] = cell.suppressed
            rows.append(row)
        return rows

    def hidden(self) -> list[tuple[Any, ...]]:
        return [cell.coordinates for cell in self.cells if cell.suppressed]


def protect_table(
    rows: Iterable[Mapping[str, Any]] | Any,
    *,
    dimensions: Sequence[str],
    count: str,
    derived: Sequence[str] = (),
    rule: DisclosureRule | None = None,
) -> ProtectedTable:
    """Protect a table of counts for publication.

    ``rows`` is a list of dicts, a ``pyarrow.Table`` or record batch reader, or a DuckDB
    relation, holding one row per combination of ``dimensions``
    with an integer ``count``; absent combinations count zero. Margins are computed here, over
    every dimension, and published with the table; ``derived`` names per-row values (rates,
    proportions) that are blanked on hidden rows and left ``None`` on margins.
    """
    if not dimensions:
        raise ValueError(
            "protect_table needs at least one dimension; use protect_count for a single number"
        )
    rule = rule or DisclosureRule.from_settings()
    grid = _Grid.from_rows(_as_pylist(rows), tuple(dimensions), count, tuple(derived))
    hidden, primary = _suppress(grid, rule)
    cells = []
    for index, coordinates in enumerate(grid.coordinates):
        value = int(grid.values[index])
        if index in hidden:
            reason = "primary" if index in primary else "secondary"
            cells.append(ProtectedCell(coordinates, None, reason, {name: None for name in derived}))
        else:
            cells.append(ProtectedCell(coordinates, rule.rounded(value), None, grid.derived[index]))
    return ProtectedTable(tuple(dimensions), count, tuple(cells), rule)


def protect_count(value: int, rule: DisclosureRule | None = None) -> int | None:
    """A single published count with no margins: hidden (``None``) when small, else rounded."""
    rule = rule or DisclosureRule.from_settings()
    return None if rule.is_small(value) else rule.rounded(value)


def protect_one_way_tables(counts: IntArray, table: IntArray, rule: DisclosureRule) -> BoolArray:
    """Which cells of many one-way tables, each published with its total, are hidden: what
    :func:`protect_table` hides among the inner cells of each table, for all tables at once.

    ``counts[i]`` is cell ``i``'s count and ``table[i]`` the table it belongs to (any
    integers); a table's cells come in the order of their rows. In a one-way table the
    published total is the one equation, so a hidden set is safe exactly when it holds no
    cell or at least two (with two unknowns summing to a known number, neither is pinned).
    The small cells are hidden; a table whose only hidden cell is one inner cell (its total is
    then not small, so other non-zero cells exist) also hides its smallest other non-zero
    cell, the earliest on ties: the complement :func:`protect_table` chooses.
    """
    counts = np.asarray(counts, dtype=np.int64)
    _, codes = np.unique(np.asarray(table), return_inverse=True)
    small = rule.is_small_count(counts)
    hidden = small.copy()
    totals = np.bincount(codes, weights=counts).astype(np.int64)
    lone = (np.bincount(codes, weights=small) == 1) & ~rule.is_small_count(totals)
    open_cells = np.flatnonzero(lone[codes] & ~small & (counts > 0))
    # The first cell of each table in (table, count, position) order is its complement.
    ranked = open_cells[np.lexsort((open_cells, counts[open_cells], codes[open_cells]))]
    if len(ranked):
        tables_of = codes[ranked]
        hidden[ranked[np.r_[True, tables_of[1:] != tables_of[:-1]]]] = True
    return hidden


def recoverable_cells(constraints: np.ndarray, hidden: Sequence[int]) -> list[int]:
    """The hidden cells whose exact value follows from the published ones by linear algebra.

    ``constraints`` has one row per linear equation over all cells (``constraints @ cells == 0``).
    A hidden cell is recoverable when every null-space vector of the constraints restricted to
    the hidden cells is zero there.
    """
    if not hidden:
        return []
    restricted = constraints[:, list(hidden)]
    basis = null_space(restricted)
    if basis.shape[1] == 0:
        return list(hidden)
    exposed = np.all(np.abs(basis) < _EXPOSURE_TOLERANCE, axis=1)
    return [cell for cell, is_exposed in zip(hidden, exposed, strict=True) if is_exposed]


@dataclass
class _Grid:
    """Every cell of the table including margins, with the constraints tying them together."""

    coordinates: list[tuple[Any, ...]]
    values: np.ndarray
    derived: list[dict[str, Any]]
    is_margin: list[bool]
    constraints: np.ndarray
    lines: list[list[int]]
    """For each constraint, the cells it involves."""

    @classmethod
    def from_rows(
        cls,
        rows: list[dict[str, Any]],
        dimensions: tuple[str, ...],
        count: str,
        derived: tuple[str, ...],
    ) -> _Grid:
        members: list[dict[Any, None]] = [{} for _ in dimensions]
        inner: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
        for row in rows:
            try:
                key = tuple(row[dim] for dim in dimensions)
                value = row[count]
            except KeyError as missing:
                raise ValueError(
                    f"every row needs the dimensions {list(dimensions)} and {count!r}; "
                    f"missing {missing}"
                ) from None
            if not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"counts must be non-negative integers; got {value!r} for {key}")
            if key in inner:
                raise ValueError(f"the combination {key} appears twice; aggregate the rows first")
            for seen, member in zip(members, key, strict=True):
                seen[member] = None
            inner[key] = (int(value), {name: row.get(name) for name in derived})

        axes = [[*seen.keys(), TOTAL] for seen in members]
        coordinates = list(itertools.product(*axes))
        position = {coords: index for index, coords in enumerate(coordinates)}
        values = np.zeros(len(coordinates), dtype=np.int64)
        derived_values: list[dict[str, Any]] = [dict.fromkeys(derived) for _ in coordinates]
        for key, (value, extra) in inner.items():
            derived_values[position[key]] = extra
            # Each inner cell adds to every margin that collapses any subset of its dimensions.
            for collapse in itertools.product((False, True), repeat=len(dimensions)):
                target = tuple(TOTAL if c else k for k, c in zip(key, collapse, strict=True))
                values[position[target]] += value

        lines: list[list[int]] = []
        for axis, dim_members in enumerate(axes):
            others = [axes[i] for i in range(len(axes)) if i != axis]
            for rest in itertools.product(*others):

                def at(member: Any, rest: tuple[Any, ...] = rest, axis: int = axis) -> int:
                    return position[(*rest[:axis], member, *rest[axis:])]

                lines.append([at(member) for member in dim_members])
        constraints = np.zeros((len(lines), len(coordinates)))
        for row_index, line in enumerate(lines):
            constraints[row_index, line[:-1]] = 1.0
            constraints[row_index, line[-1]] = -1.0
        is_margin = [any(c is TOTAL for c in coords) for coords in coordinates]
        return cls(coordinates, values, derived_values, is_margin, constraints, lines)


def _suppress(grid: _Grid, rule: DisclosureRule) -> tuple[set[int], set[int]]:
    primary = {i for i, value in enumerate(grid.values) if rule.is_small(int(value))}
    hidden = set(primary)
    lines_of: dict[int, list[int]] = {i: [] for i in range(len(grid.values))}
    for line_index, line in enumerate(grid.lines):
        for cell in line:
            lines_of[cell].append(line_index)

    order = sorted(primary)
    while exposed := set(recoverable_cells(grid.constraints, sorted(hidden))):
        # Repairing the most recently hidden exposed cell walks around a cycle of hidden cells
        # (the cheapest protection in a two-way table) instead of fanning out from one cell.
        target = next(cell for cell in reversed(order) if cell in exposed)
        # Only non-zero cells serve as complements: with every hidden count positive, any
        # direction that leaves the equations unchanged can be followed a little way without
        # any count going negative, so "not pinned by linear algebra" really means "a range".
        # Hiding every non-zero cell always suffices (the true table is then such a direction),
        # so the wider pool never runs dry.
        neighbours = {
            c
            for line in lines_of[target]
            for c in grid.lines[line]
            if c not in hidden and grid.values[c]
        }
        pool = neighbours or {
            c for c in range(len(grid.values)) if c not in hidden and grid.values[c]
        }
        # Ties go to the earlier cell, so a table is always protected the same way.
        candidates = sorted(pool, key=lambda c: (*_complement_cost(grid, hidden, lines_of, c), c))
        chosen = candidates[0]
        for candidate in candidates[:_CANDIDATES_TRIED]:
            if target not in recoverable_cells(grid.constraints, sorted(hidden | {candidate})):
                chosen = candidate
                break
        hidden.add(chosen)
        order.append(chosen)
    return hidden, primary


def _complement_cost(
    grid: _Grid, hidden: set[int], lines_of: dict[int, list[int]], cell: int
) -> tuple[int, ...]:
    # Opening a line that holds no hidden cell yet creates a new exposure to repair, so cells
    # whose every line already has a hidden cell close cycles and come first.
    lines_opened = sum(
        1 for line in lines_of[cell] if not any(c in hidden for c in grid.lines[line])
    )
    value = int(grid.values[cell])
    return (lines_opened, int(grid.is_margin[cell]), value)


def _as_pylist(rows: Any) -> list[dict[str, Any]]:
    # A DuckDB relation gives Arrow, which may come as a stream of batches (read_all).
    if callable(getattr(rows, "arrow", None)):
        rows = rows.arrow()
    if callable(getattr(rows, "read_all", None)):
        rows = rows.read_all()
    to_pylist = getattr(rows, "to_pylist", None)
    if callable(to_pylist):
        return list(to_pylist())
    return [dict(row) for row in rows]
