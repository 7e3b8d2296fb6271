"""The standard ICS views: SQL-on-FHIR ViewDefinitions shipped with the package, and the
tables built over them that measures and population-health analyses are written against.

``definitions/*.json`` are plain ViewDefinitions (run them with any engine);
:func:`register_standard_tables` runs them with DuckDB over a source folder and adds the
derived tables (``person``, ``conditions``, ``admissions``, ``observations_latest``,
``practices``) documented in ``docs/view-library.md``.
"""

from joinedup.views.library.catalogue import VIEW_NAMES, library_view, library_view_json
from joinedup.views.library.tables import (
    DERIVED_TABLES,
    STANDARD_TABLES,
    StandardTables,
    register_standard_tables,
    standard_connection,
)

__all__ = [
    "DERIVED_TABLES",
    "STANDARD_TABLES",
    "VIEW_NAMES",
    "StandardTables",
    "library_view",
    "library_view_json",
    "register_standard_tables",
    "standard_connection",
]
