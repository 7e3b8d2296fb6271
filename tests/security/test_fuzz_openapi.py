"""Fuzz the app from its own OpenAPI schema (schemathesis): no request to any route may
produce a 500; the FHIR routes' statuses and media types must be the documented ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)

from joinedup.config import Settings
from joinedup.fhir.nhs_number import SYSTEM, from_serial
from joinedup.server.app import create_app
from joinedup.store import open_store
from spec.server.harness import system_token

#: Per API operation; about 20 operations, so a few hundred requests in all.
EXAMPLES = 8


@pytest.fixture(scope="module")
def fuzz_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def fuzzed_api(fuzz_data_dir: Path) -> Iterator[schemathesis.BaseSchema]:
    store = open_store(f"sqlite:///{fuzz_data_dir / 'record.db'}")
    store.update(
        {
            "resourceType": "Patient",
            "id": "example",
            "identifier": [{"system": SYSTEM, "value": from_serial(1)}],
        }
    )
    app = create_app(store, Settings(data_dir=fuzz_data_dir))
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        store.close()


api = schemathesis.pytest.from_fixture("fuzzed_api")


@api.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_makes_a_server_error(case: schemathesis.Case, fuzz_data_dir: Path) -> None:
    response = case.call(headers={"Authorization": f"Bearer {system_token(fuzz_data_dir)}"})
    fhir_route = any(tag.startswith("FHIR ") for tag in case.operation.tags or [])
    checks = [not_a_server_error]
    if fhir_route:
        checks += [status_code_conformance, content_type_conformance]
    case.validate_response(response, checks=checks)
