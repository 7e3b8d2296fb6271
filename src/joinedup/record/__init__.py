"""The shared care record as FHIR: the interactions every write and read goes through,
and loading files into it (`joinedup load`)."""
