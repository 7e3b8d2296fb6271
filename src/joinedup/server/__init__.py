"""The ASGI app: the FHIR R4 REST API under ``/fhir`` (`joinedup serve`)."""
