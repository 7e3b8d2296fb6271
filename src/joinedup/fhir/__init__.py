"""FHIR R4 basics used everywhere: NHS numbers, OperationOutcome errors, NDJSON."""
