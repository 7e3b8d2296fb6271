"""FHIR errors as exceptions that carry their OperationOutcome.

Every bad input anywhere in the platform (a request, a loaded file, a ViewDefinition)
ends as one of these, so the user always gets the failing element's path and a fix.
"""

from __future__ import annotations

from typing import Any


class FHIRError(Exception):
    """An error that becomes an OperationOutcome with an HTTP status."""

    def __init__(
        self,
        diagnostics: str,
        *,
        status: int = 400,
        code: str = "invalid",
        expression: str | list[str] | None = None,
        severity: str = "error",
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.status = status
        self.code = code
        self.severity = severity
        if expression is None:
            self.expression: list[str] = []
        elif isinstance(expression, str):
            self.expression = [expression]
        else:
            self.expression = list(expression)

    def issue(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = self.expression
        return issue

    def to_resource(self) -> dict[str, Any]:
        return operation_outcome([self.issue()])


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """An OperationOutcome resource holding ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": issues}


def information(message: str) -> dict[str, Any]:
    """A single informational issue, for ``Prefer: return=OperationOutcome``."""
    return operation_outcome(
        [{"severity": "information", "code": "informational", "diagnostics": message}]
    )
