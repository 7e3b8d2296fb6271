"""A few Patients and a view over them, shared by the views unit tests."""

from __future__ import annotations

from typing import Any

PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "female",
        "birthDate": "1970-06",
        "name": [{"use": "official", "family": "Ng", "given": ["Ana", "B"]}, {"family": "Old"}],
        "address": [{"postalCode": "LS1 1AA"}],
    },
    {"resourceType": "Patient", "id": "p2", "gender": "male", "name": [{"family": "Roe"}]},
    {"resourceType": "Patient", "id": "p3"},
]

VIEW: dict[str, Any] = {
    "resourceType": "ViewDefinition",
    "name": "patient_names",
    "resource": "Patient",
    "select": [
        {"column": [{"name": "id", "path": "getResourceKey()", "type": "string"}]},
        {
            "forEachOrNull": "name",
            "column": [
                {"name": "family", "path": "family", "type": "string"},
                {"name": "given", "path": "given.join(' ')", "type": "string"},
                {"name": "n", "path": "%rowIndex", "type": "integer"},
            ],
        },
    ],
}
