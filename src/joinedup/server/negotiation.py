"""joinedup speaks FHIR JSON only (R4 http.html#mime): what a request may ask for and send.

A client that can take JSON gets JSON; one that asks only for XML (``Accept``) or names another
format (``_format``, which overrides ``Accept``) gets 406; a body in XML gets 415
(:func:`joinedup.server.requests.resource_body`). Either way the answer is an OperationOutcome
in JSON, which is the one format the server has.
"""

from __future__ import annotations

from starlette.requests import Request

from joinedup.fhir.outcome import FHIRError

#: The JSON media types (``application/json+fhir`` is DSTU2's name for FHIR JSON).
JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
#: ``_format`` values meaning JSON: the media types and the short form.
_JSON_FORMATS = JSON_TYPES | {"json"}
_JSON_RANGES = JSON_TYPES | {"*/*", "application/*"}
_ASK_FOR_JSON = "send Accept: application/fhir+json, or _format=json"


def _format(value: str) -> str:
    # An unencoded "+" in a query string arrives as a space (application/fhir json).
    return value.split(";")[0].strip().lower().replace(" ", "+")


def _accepts_json(accept: str) -> bool:
    for media_range in accept.split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type in _JSON_RANGES and quality > 0:
            return True
    return False


def json_wanted(request: Request) -> None:
    """A route dependency: 406 unless the client can take FHIR JSON."""
    formats = request.query_params.getlist("_format")
    if formats:
        for value in formats:
            if _format(value) not in _JSON_FORMATS:
                raise FHIRError(
                    f"_format {value[:64]!r} is not available: joinedup returns FHIR JSON only; "
                    + _ASK_FOR_JSON,
                    status=406,
                    code="not-supported",
                    expression="_format",
                )
        return
    accept = request.headers.get("accept")
    if accept and not _accepts_json(accept):
        raise FHIRError(
            "None of the media types in Accept is available: joinedup returns FHIR JSON only; "
            + _ASK_FOR_JSON,
            status=406,
            code="not-supported",
        )
