"""Computing the measure library over a snapshot: ``compute_measures`` writes the result
tables (Parquet/JSON) the dashboard and the FHIR MeasureReports read."""

from joinedup.measures.compute.run import RESULT_FILES, RunSummary, compute_measures

__all__ = ["RESULT_FILES", "RunSummary", "compute_measures"]
