"""SQL on FHIR v2 ViewDefinitions: model, FHIRPath subset, SQL compiler and engines.

Python use::

    from joinedup.views import load_view, to_arrow, to_relation, to_pandas
    view = load_view("patients.json")          # validated; errors name the element
    table = to_arrow(view, "snapshot/")        # DuckDB engine by default
"""

from joinedup.views.api import load_view, to_arrow, to_pandas, to_relation, write_output
from joinedup.views.model import ViewDefinition, ViewError, parse_view

__all__ = [
    "ViewDefinition",
    "ViewError",
    "load_view",
    "parse_view",
    "to_arrow",
    "to_pandas",
    "to_relation",
    "write_output",
]
