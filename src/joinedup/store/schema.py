"""The store's tables, spelled for SQLite and PostgreSQL (same names and meaning on both).

``SCHEMA_VERSION`` is recorded in ``store_meta``; opening a store creates what is missing
(every statement is idempotent) and :mod:`joinedup.store.migrate` brings an older database's
tables and index rows up to date, so the schema is created or migrated on open.
"""

from __future__ import annotations

#: 2: ``idx_quantity`` canonical UCUM columns, ``idx_text`` (``_text``/``_content``) and
#: ``idx_position`` (Location ``near``).
SCHEMA_VERSION = 2

_COMMON_INDEXES = [
    "CREATE INDEX IF NOT EXISTS resource_type_updated ON resource (resource_type, last_updated)",
    "CREATE INDEX IF NOT EXISTS history_instance ON resource_history (resource_type, id)",
    "CREATE INDEX IF NOT EXISTS history_updated ON resource_history (last_updated)",
    "CREATE INDEX IF NOT EXISTS security_pk ON resource_security (resource_pk)",
    "CREATE INDEX IF NOT EXISTS compartment_patient "
    "ON patient_compartment (patient_id, resource_pk)",
    "CREATE INDEX IF NOT EXISTS compartment_pk ON patient_compartment (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_token_value ON idx_token (param, code, system)",
    "CREATE INDEX IF NOT EXISTS idx_token_pk ON idx_token (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_string_value ON idx_string (param, norm)",
    "CREATE INDEX IF NOT EXISTS idx_string_pk ON idx_string (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_date_value ON idx_date (param, low, high)",
    "CREATE INDEX IF NOT EXISTS idx_date_pk ON idx_date (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_reference_target "
    "ON idx_reference (target_id, target_type, param)",
    "CREATE INDEX IF NOT EXISTS idx_reference_url ON idx_reference (url)",
    "CREATE INDEX IF NOT EXISTS idx_reference_pk ON idx_reference (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_quantity_value ON idx_quantity (param, value)",
    "CREATE INDEX IF NOT EXISTS idx_quantity_pk ON idx_quantity (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_number_value ON idx_number (param, value)",
    "CREATE INDEX IF NOT EXISTS idx_number_pk ON idx_number (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_uri_value ON idx_uri (param, value)",
    "CREATE INDEX IF NOT EXISTS idx_uri_pk ON idx_uri (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_quantity_canonical "
    "ON idx_quantity (param, canonical_code, canonical_value)",
    "CREATE INDEX IF NOT EXISTS idx_text_pk ON idx_text (resource_pk)",
    "CREATE INDEX IF NOT EXISTS idx_position_value ON idx_position (param, latitude, longitude)",
    "CREATE INDEX IF NOT EXISTS idx_position_pk ON idx_position (resource_pk)",
]


def _tables(pk: str, json: str, real: str, text: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS resource (
            pk {pk},
            resource_type TEXT NOT NULL,
            id TEXT NOT NULL,
            version_id INTEGER NOT NULL,
            last_updated TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            source_org TEXT,
            content {json} NOT NULL,
            UNIQUE (resource_type, id))""",
        f"""CREATE TABLE IF NOT EXISTS resource_history (
            hpk {pk},
            resource_type TEXT NOT NULL,
            id TEXT NOT NULL,
            version_id INTEGER NOT NULL,
            last_updated TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            source_org TEXT,
            content {json},
            UNIQUE (resource_type, id, version_id))""",
        """CREATE TABLE IF NOT EXISTS conditional_claim (
            resource_type TEXT NOT NULL,
            condition_key TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            PRIMARY KEY (resource_type, condition_key))""",
        "CREATE TABLE IF NOT EXISTS resource_security "
        "(resource_pk BIGINT NOT NULL, system TEXT, code TEXT)",
        "CREATE TABLE IF NOT EXISTS patient_compartment "
        "(resource_pk BIGINT NOT NULL, patient_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS idx_token (resource_pk BIGINT NOT NULL, param TEXT NOT NULL, "
        "grp INTEGER NOT NULL, system TEXT, code TEXT, text TEXT, type_system TEXT, "
        "type_code TEXT)",
        f"CREATE TABLE IF NOT EXISTS idx_string (resource_pk BIGINT NOT NULL, param TEXT NOT NULL, "
        f"grp INTEGER NOT NULL, value TEXT, norm {text})",
        "CREATE TABLE IF NOT EXISTS idx_date (resource_pk BIGINT NOT NULL, param TEXT NOT NULL, "
        "grp INTEGER NOT NULL, low BIGINT NOT NULL, high BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS idx_reference (resource_pk BIGINT NOT NULL, "
        "param TEXT NOT NULL, grp INTEGER NOT NULL, target_type TEXT, target_id TEXT, url TEXT)",
        f"CREATE TABLE IF NOT EXISTS idx_quantity (resource_pk BIGINT NOT NULL, "
        f"param TEXT NOT NULL, grp INTEGER NOT NULL, value {real}, system TEXT, code TEXT, "
        f"unit TEXT, canonical_value {real}, canonical_code TEXT)",
        f"CREATE TABLE IF NOT EXISTS idx_number (resource_pk BIGINT NOT NULL, param TEXT NOT NULL, "
        f"grp INTEGER NOT NULL, value {real})",
        f"CREATE TABLE IF NOT EXISTS idx_uri (resource_pk BIGINT NOT NULL, param TEXT NOT NULL, "
        f"grp INTEGER NOT NULL, value {text})",
        "CREATE TABLE IF NOT EXISTS idx_text (resource_pk BIGINT NOT NULL, param TEXT NOT NULL, "
        "grp INTEGER NOT NULL, words TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS idx_position (resource_pk BIGINT NOT NULL, "
        f"param TEXT NOT NULL, grp INTEGER NOT NULL, latitude {real} NOT NULL, "
        f"longitude {real} NOT NULL, x {real} NOT NULL, y {real} NOT NULL, z {real} NOT NULL)",
    ]


SQLITE_DDL: list[str] = [
    *_tables("INTEGER PRIMARY KEY", "TEXT", "REAL", "TEXT"),
    *_COMMON_INDEXES,
]

# PostgreSQL: JSONB documents; byte-order ("C") collation on normalised strings so that the
# prefix range used for string search behaves as in SQLite and can use the B-tree index.
POSTGRES_DDL: list[str] = [
    *_tables(
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "JSONB",
        "DOUBLE PRECISION",
        'TEXT COLLATE "C"',
    ),
    *_COMMON_INDEXES,
]

INDEX_TABLES = (
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_reference",
    "idx_quantity",
    "idx_number",
    "idx_uri",
    "idx_text",
    "idx_position",
)
