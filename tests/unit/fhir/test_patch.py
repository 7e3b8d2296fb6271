"""JSON Patch, checked against the examples of RFC 6902 appendix A."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.patch import apply_patch

BASE = {"resourceType": "Patient", "id": "p"}


def patched(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    result = apply_patch({**BASE, **doc}, ops)
    return {k: v for k, v in result.items() if k not in BASE}


@pytest.mark.parametrize(
    ("doc", "ops", "expected"),
    [
        # A.1 add an object member
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"foo": "bar", "baz": "qux"},
        ),
        # A.2 add an array element
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        # A.3 remove an object member
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        # A.4 remove an array element
        (
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        # A.5 replace a value
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        # A.6 move a value
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        # A.7 move an array element
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        # A.8 test passes
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2},
            ],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        # A.10 add a nested member object
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        # A.14 ~ escape ordering
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        # A.16 add an array value
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
        # copy
        (
            {"a": {"b": 1}},
            [{"op": "copy", "from": "/a", "path": "/c"}],
            {"a": {"b": 1}, "c": {"b": 1}},
        ),
    ],
)
def test_rfc6902_examples(
    doc: dict[str, Any], ops: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    assert patched(doc, ops) == expected


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ([{"op": "test", "path": "/baz", "value": "bar"}], 422),  # A.9 test fails
        ([{"op": "add", "path": "/baz/bat", "value": "qux"}], 400),  # A.12 missing parent
        ([{"op": "remove", "path": "/nope"}], 400),
        ([{"op": "add", "path": "/foo/9", "value": 1}], 400),
        ([{"op": "jump", "path": "/foo"}], 400),
        ([{"op": "add", "path": "foo", "value": 1}], 400),
        ({"op": "add"}, 400),
        ([{"op": "replace", "path": "/id", "value": "other"}], 400),
        ([{"op": "move", "from": "/foo", "path": "/foo/0"}], 400),
    ],
)
def test_bad_patches_are_fhir_errors(ops: Any, status: int) -> None:
    original = {**BASE, "baz": "qux", "foo": ["a"]}
    with pytest.raises(FHIRError) as caught:
        apply_patch(original, ops)
    assert caught.value.status == status
    assert original == {**BASE, "baz": "qux", "foo": ["a"]}
