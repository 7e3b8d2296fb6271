import pytest

from joinedup.access.interactions import classify
from joinedup.access.scopes import Permission


@pytest.mark.parametrize(
    ("method", "path", "name", "permission", "resource_type", "id"),
    [
        ("GET", "/", "search-system", Permission.SEARCH, None, None),
        ("POST", "/", "transaction", Permission.CREATE, None, None),
        ("POST", "/_search", "search-system", Permission.SEARCH, None, None),
        ("GET", "/_history", "history-system", Permission.SEARCH, None, None),
        ("GET", "/Observation", "search-type", Permission.SEARCH, "Observation", None),
        ("POST", "/Observation/_search", "search-type", Permission.SEARCH, "Observation", None),
        ("POST", "/Observation", "create", Permission.CREATE, "Observation", None),
        ("PUT", "/Observation", "update", Permission.UPDATE, "Observation", None),
        ("DELETE", "/Observation", "delete", Permission.DELETE, "Observation", None),
        ("GET", "/Observation/_history", "history-type", Permission.SEARCH, "Observation", None),
        ("GET", "/Patient/1", "read", Permission.READ, "Patient", "1"),
        ("PUT", "/Patient/1", "update", Permission.UPDATE, "Patient", "1"),
        ("PATCH", "/Patient/1", "patch", Permission.UPDATE, "Patient", "1"),
        ("DELETE", "/Patient/1", "delete", Permission.DELETE, "Patient", "1"),
        ("GET", "/Patient/1/_history", "history-instance", Permission.READ, "Patient", "1"),
        ("GET", "/Patient/1/_history/2", "vread", Permission.READ, "Patient", "1"),
        ("GET", "/Patient/1/$everything", "$everything", Permission.READ, "Patient", "1"),
        (
            "GET",
            "/Patient/1/Observation",
            "search-compartment",
            Permission.SEARCH,
            "Observation",
            None,
        ),
        ("GET", "/$export", "$export", Permission.SEARCH, None, None),
    ],
)
def test_classify(
    method: str,
    path: str,
    name: str,
    permission: Permission,
    resource_type: str | None,
    id: str | None,
) -> None:
    found = classify(method, path)
    assert (found.name, found.permission, found.resource_type, found.id) == (
        name,
        permission,
        resource_type,
        id,
    )


def test_audit_actions() -> None:
    assert classify("GET", "/Patient/1").action == "R"
    assert classify("POST", "/Patient").action == "C"
    assert classify("DELETE", "/Patient/1").action == "D"
    assert classify("POST", "/").action == "E"
