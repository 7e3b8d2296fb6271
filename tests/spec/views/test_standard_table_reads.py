"""Which standard tables and columns some SQL reads: only those are built for a run that knows
every query it will make, so any doubt must read more, never less."""

from __future__ import annotations

from joinedup.views.library.reads import columns_read

TABLES = ("encounters", "observations", "person", "patients", "admissions", "periods_like")
DERIVED = {
    "admissions": "SELECT encounter_id, person_id, start_date FROM encounters WHERE class = 'IMP'",
    "person": "SELECT p.person_id, p.birth_date FROM patients AS p",
}


def test_a_query_reads_the_names_it_mentions_of_the_tables_it_names() -> None:
    reads = columns_read(
        ["SELECT e.person_id FROM encounters AS e WHERE e.kind = 'ae-attendance'"],
        TABLES,
        DERIVED,
    )
    assert reads is not None
    assert set(reads) == {"encounters"}
    assert {"person_id", "kind"} <= (reads["encounters"] or set())
    assert "reason_code" not in (reads["encounters"] or set())


def test_a_derived_table_brings_in_what_it_is_built_from() -> None:
    reads = columns_read(["SELECT person_id FROM admissions"], TABLES, DERIVED)
    assert reads is not None
    assert set(reads) == {"admissions", "encounters"}
    assert {"encounter_id", "start_date", "class"} <= (reads["encounters"] or set())


def test_names_in_a_query_count_only_for_the_tables_it_names() -> None:
    reads = columns_read(
        ["SELECT value_code FROM observations", "SELECT kind FROM encounters"], TABLES, DERIVED
    )
    assert reads is not None
    assert "kind" not in (reads["observations"] or set())
    assert "value_code" not in (reads["encounters"] or set())


def test_ctes_are_not_tables_and_count_star_reads_no_column() -> None:
    sql = """
        WITH person AS (SELECT person_id FROM observations)
        SELECT count(*) FROM person
    """
    reads = columns_read([sql], TABLES, DERIVED)
    assert reads is not None
    assert set(reads) == {"observations"}
    assert "person_id" in (reads["observations"] or set())


def test_whole_rows_read_every_column() -> None:
    for sql in (
        "SELECT * FROM encounters",
        "SELECT e.* FROM encounters AS e",
        "SELECT * EXCLUDE (kind) FROM encounters",
        "SELECT COLUMNS('_id$') FROM encounters",
        "SELECT e FROM encounters AS e",
    ):
        assert columns_read([sql], TABLES, DERIVED) == {"encounters": None}, sql


def test_sql_that_does_not_parse_needs_everything() -> None:
    assert columns_read(["SELECT FROM WHERE ((("], TABLES, DERIVED) is None
