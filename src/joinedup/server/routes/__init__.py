"""The FHIR REST routes, one module per kind of interaction."""
