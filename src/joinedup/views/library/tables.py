"""Materialising the standard views in DuckDB, and the derived tables built over them.

Each ViewDefinition runs once through the DuckDB engine into a table of the same name, with
``date``/``dateTime`` columns cast to DATE (the synthetic ICS and most feeds record days; the
time of day is not used by any measure). The derived tables are plain SQL over those tables:
a ViewDefinition cannot join resources, and the organisation hierarchy and "latest per code"
need joins and window functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from joinedup.views.engines.duckdb import DuckDBEngine
from joinedup.views.library.catalogue import VIEW_NAMES, library_view
from joinedup.views.library.reads import columns_read
from joinedup.views.sources import Source

_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
#: SNOMED CT concepts -> long-term-condition group, for records coded in SNOMED CT alone.
LTC_CODES = Path(__file__).parent / "ltc_codes.csv"

#: ESP 2013 five-year bands (0-4 ... 85-89, 90+), the bands DSRs are standardised over.
MACROS = """
CREATE OR REPLACE MACRO age_at(birth, on_day) AS
    year(on_day) - year(birth)
    - CASE WHEN month(on_day) * 100 + day(on_day) < month(birth) * 100 + day(birth)
           THEN 1 ELSE 0 END;
CREATE OR REPLACE MACRO age_band(age) AS
    CASE WHEN age >= 90 THEN '90+'
         ELSE CAST(age // 5 * 5 AS VARCHAR) || '-' || CAST(age // 5 * 5 + 4 AS VARCHAR) END;
"""

# NHS Data Dictionary ethnic category letters -> the five broad census groups.
_ETHNIC_GROUP = """
CASE
    WHEN ethnicity IN ('A', 'B', 'C') THEN 'White'
    WHEN ethnicity IN ('D', 'E', 'F', 'G') THEN 'Mixed'
    WHEN ethnicity IN ('H', 'J', 'K', 'L') THEN 'Asian'
    WHEN ethnicity IN ('M', 'N', 'P') THEN 'Black'
    WHEN ethnicity IN ('R', 'S') THEN 'Other'
    ELSE 'Not stated'
END"""

DERIVED_SQL: dict[str, str] = {
    "practices": """
        SELECT pr.org_id AS practice_id, pr.name AS practice_name,
               pcn.org_id AS pcn_id, pcn.name AS pcn_name,
               place.org_id AS place_id, place.name AS place_name,
               place.part_of_id AS icb_id
        FROM organisations AS pr
        LEFT JOIN organisations AS pcn ON pcn.org_id = pr.part_of_id AND pcn.role = 'pcn'
        LEFT JOIN organisations AS place ON place.org_id = pcn.part_of_id AND place.role = 'place'
        WHERE pr.role = 'gp-practice'
    """,
    "person": f"""
        SELECT p.person_id, p.sex, p.birth_date, p.death_date,
               p.ethnicity, {_ETHNIC_GROUP} AS ethnic_group,
               p.lsoa, p.imd_decile, CAST((p.imd_decile + 1) // 2 AS INTEGER) AS imd_quintile,
               p.practice_id, pr.pcn_id, pr.place_id,
               age_at(p.birth_date, least($as_of, coalesce(p.death_date, $as_of))) AS age,
               age_band(age_at(p.birth_date, least($as_of, coalesce(p.death_date, $as_of))))
                   AS age_band
        FROM patients AS p
        LEFT JOIN practices AS pr USING (practice_id)
        WHERE p.birth_date IS NOT NULL
    """,  # noqa: S608
    "conditions": """
        SELECT c.person_id, coalesce(c.ltc, l.ltc) AS ltc, min(c.onset_date) AS onset_date,
               count(*) AS records
        FROM condition_records AS c
        LEFT JOIN ltc_codes AS l ON l.snomed = c.snomed
        WHERE coalesce(c.ltc, l.ltc) IS NOT NULL
          AND (c.clinical_status IS NULL
               OR c.clinical_status IN ('active', 'recurrence', 'relapse'))
        GROUP BY ALL
    """,
    "admissions": """
        SELECT encounter_id, person_id, provider_id, start_date AS admission_date,
               end_date AS discharge_date, date_diff('day', start_date, end_date) AS length_of_stay,
               coalesce(priority = 'EM', kind = 'emergency-admission') AS emergency,
               discharge_destination, reason_code
        FROM encounters
        WHERE class = 'IMP'
    """,
    "observations_latest": """
        SELECT * FROM observations
        QUALIFY row_number() OVER (
            PARTITION BY person_id, code_system, code
            ORDER BY effective_date DESC, observation_id DESC
        ) = 1
    """,
}
DERIVED_TABLES: tuple[str, ...] = tuple(DERIVED_SQL)
#: The first and last day of recorded activity.
_ACTIVITY = "SELECT min(start_date), max(start_date) FROM encounters"
STANDARD_TABLES: tuple[str, ...] = VIEW_NAMES + DERIVED_TABLES


@dataclass(frozen=True)
class StandardTables:
    """What :func:`register_standard_tables` built: the ``as_of`` date ages are taken at and the
    first and last day of recorded activity (encounter starts)."""

    as_of: date
    first_activity: date | None
    last_activity: date | None


def _as_date(column: str) -> str:
    """SQL for the day a FHIR date/dateTime column starts on.

    De-identified snapshots generalise birth and death dates to the month (``1950-03``) or
    year (``1950``); those read as the first day of that period, so ages and deaths still
    fall in the right band and month.
    """
    value = f'"{column}"'
    return (
        f"TRY_CAST(CASE length({value}) WHEN 4 THEN {value} || '-01-01' "
        f"WHEN 7 THEN {value} || '-01' ELSE substr({value}, 1, 10) END AS DATE)"
    )


def _materialise_view(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    source: Source,
    columns: frozenset[str] | None,
) -> None:
    """The view as a table, with just ``columns`` (None: all); DuckDB then computes no other."""
    view = library_view(name)
    compiled = DuckDBEngine(connection).compile(view, source).sql()
    kept = [c for c in view.columns if columns is None or c.name in columns] or view.columns[:1]
    select = ", ".join(
        f'{_as_date(c.name)} AS "{c.name}"' if c.type in _DATE_TYPES else f'"{c.name}"'
        for c in kept
    )
    connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT {select} FROM ({compiled})')  # noqa: S608


def standard_connection() -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection to build the standard tables in and read them from.

    It never checkpoints by itself. Since DuckDB 1.4 an in-memory database checkpoints like a
    file does, and the checkpoint compresses every table written since the last one. The
    standard tables are written once and then read by every measure: compressing them took
    about 40% of the CPU of building them (5.6 of 15 CPU seconds at 200,000 people) to save
    memory (the tables 640 MB -> 263 MB, while the process's peak grew, 854 MB -> 994 MB).
    """
    return duckdb.connect(config={"checkpoint_threshold": "1TB"})


def register_standard_tables(
    connection: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    as_of: date | None = None,
    reads: Iterable[str] | None = None,
) -> StandardTables:
    """Build every standard table in ``connection`` from ``source``.

    ``as_of`` is the day ``person.age``/``age_band`` are taken at; by default the last day of
    recorded activity. ``reads``, every query that will read the tables, builds only the
    tables and columns those queries can read (:func:`columns_read`), not every one.
    """
    needed = (
        None if reads is None else columns_read([_ACTIVITY, *reads], STANDARD_TABLES, DERIVED_SQL)
    )
    connection.execute("SET enable_progress_bar = false")
    connection.execute(MACROS)
    connection.execute(
        "CREATE OR REPLACE TABLE ltc_codes AS SELECT * FROM read_csv($path, header = true, "
        "columns = {'snomed': 'VARCHAR', 'ltc': 'VARCHAR', 'display': 'VARCHAR'})",
        {"path": LTC_CODES.as_posix()},
    )
    for name in VIEW_NAMES:
        if needed is None or name in needed:
            _materialise_view(connection, name, source, None if needed is None else needed[name])
    first, last = connection.execute(_ACTIVITY).fetchall()[0]
    as_of = as_of or last or date.today()
    for name, sql in DERIVED_SQL.items():
        if needed is not None and name not in needed:
            continue
        parameters = {"as_of": as_of} if "$as_of" in sql else {}
        connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}', parameters)
    return StandardTables(as_of=as_of, first_activity=first, last_activity=last)
