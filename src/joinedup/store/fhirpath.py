"""Compile the FHIRPath subset used by R4 search parameter expressions into Python closures.

Compiled once per (resource type, parameter) when the store opens, so the write path never
interprets FHIRPath. Supported (everything the R4 expressions of the indexed types use):
paths with choice elements (``Observation.effective`` finds ``effectiveDateTime``…),
``|`` unions, ``as``/``.as()``/``.ofType()``, ``.where(resolve() is Type)``,
``.where(field='literal')``, ``.exists()``, and the ``X.exists() and X != false`` form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from joinedup.fhir.outcome import FHIRError

Node = tuple[Any, str | None]
"""A value and, when it came from a choice element, the type suffix (``Quantity``…)."""
Extractor = Callable[[Any], list[Node]]
_Step = Callable[[list[Node]], list[Node]]

_TOKEN = re.compile(r"\s*(?:(?P<str>'[^']*')|(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)|(?P<op>[.|()=]))")
_BASE = re.compile(r"[a-z_]*")
_TRUTHY = re.compile(r"^(?P<path>[\w.]+)\.exists\(\) and (?P=path) != false$")


def _tokens(expression: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if not match or match.end() == pos:
            if expression[pos:].strip() == "":
                break
            raise FHIRError(f"unsupported FHIRPath near {expression[pos:]!r} in {expression!r}")
        out.append(match.group(match.lastgroup or "op"))
        pos = match.end()
    return out


# The choice elements ([x]) the R4 expressions of the indexed types reach: only these are
# looked up by type suffix (valueQuantity…), every other name is a plain key lookup.
CHOICE_ELEMENTS = frozenset(
    {
        "abatement",
        "answer",
        "deceased",
        "due",
        "effective",
        "item",
        "medication",
        "multipleBirth",
        "occurred",
        "occurrence",
        "onset",
        "performed",
        "product",
        "scheduled",
        "source",
        "start",
        "timing",
        "value",
    }
)


def _children(node: Node, name: str) -> list[Node]:
    value = node[0]
    if not isinstance(value, dict):
        return []
    found = value.get(name)
    if found is not None:
        return [(v, None) for v in found] if isinstance(found, list) else [(found, None)]
    if name not in CHOICE_ELEMENTS:
        return []
    out: list[Node] = []
    # A choice element (value[x]) is stored under name + type suffix.
    for key, found in value.items():
        if key.startswith(name) and len(key) > len(name) and key[len(name)].isupper():
            suffix = key[len(name) :]
            items = found if isinstance(found, list) else [found]
            out.extend((v, suffix) for v in items)
    return out


def _type_matches(node: Node, type_name: str) -> bool:
    suffix = node[1]
    if suffix is not None:
        return suffix.lower() == type_name.lower()
    return True


def reference_type(reference: Any) -> str | None:
    """The resource type a Reference (dict) points at, from ``type`` or its URL."""
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if isinstance(ref, str) and "/" in ref:
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            return parts[-2]
    kind = reference.get("type")
    return kind if isinstance(kind, str) else None


class _Parser:
    def __init__(self, expression: str, root_types: frozenset[str]) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.pos = 0
        self.root_types = root_types

    def peek(self, ahead: int = 0) -> str | None:
        at = self.pos + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FHIRError(f"unsupported FHIRPath {self.expression!r}: expected {expected}")
        self.pos += 1
        return token

    def union(self) -> _Step:
        parts = [self.term()]
        while self.peek() == "|":
            self.take("|")
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda nodes: [n for part in parts for n in part(nodes)]

    def term(self) -> _Step:
        steps: list[_Step] = []
        last_field: str | None = None
        if self.peek() == "(":
            self.take("(")
            steps.append(self.union())
            self.take(")")
        else:
            name = self.take()
            if name in self.root_types:
                steps.append(lambda nodes: nodes)
            else:
                steps.append(_field(name))
                last_field = name
        while self.peek() in (".", "as"):
            type_name = None
            if self.take() == "as":
                type_name = self.take()
            elif self.peek() in ("as", "ofType") and self.peek(1) == "(":
                self.take()
                self.take("(")
                type_name = self.take()
                self.take(")")
            if type_name is None:
                step, last_field = self.step()
                steps.append(step)
            elif last_field in CHOICE_ELEMENTS:
                # name + as(T) is the one key nameT: look it up instead of scanning.
                steps[-1] = _typed_field(last_field, type_name)
                last_field = None
            else:
                steps.append(_of_type(type_name))
                last_field = None
        return _chain(steps)

    def step(self) -> tuple[_Step, str | None]:
        """The next step, and its element name when it is a plain field."""
        name = self.take()
        if self.peek() != "(":
            return _field(name), name
        self.take("(")
        step: _Step
        if name == "exists":
            step = _exists
        elif name == "where":
            step = self.where()
        else:
            raise FHIRError(f"unsupported FHIRPath function {name}() in {self.expression!r}")
        self.take(")")
        return step, None

    def where(self) -> _Step:
        first = self.take()
        if first == "resolve":
            self.take("(")
            self.take(")")
            self.take("is")
            target = self.take()
            return lambda nodes: [n for n in nodes if reference_type(n[0]) == target]
        self.take("=")
        literal = self.take()[1:-1]
        return lambda nodes: [
            n for n in nodes if isinstance(n[0], dict) and n[0].get(first) == literal
        ]


def _field(name: str) -> _Step:
    if name in CHOICE_ELEMENTS:
        return lambda nodes: [child for node in nodes for child in _children(node, name)]

    # Most steps are plain keys: looked up inline, as this runs for every parameter written.
    def plain(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for value, _ in nodes:
            found = value.get(name) if isinstance(value, dict) else None
            if isinstance(found, list):
                out.extend((v, None) for v in found)
            elif found is not None:
                out.append((found, None))
        return out

    return plain


def _typed_field(name: str, type_name: str) -> _Step:
    suffix = type_name[:1].upper() + type_name[1:]
    key = name + suffix

    def run(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for node in nodes:
            value = node[0].get(key) if isinstance(node[0], dict) else None
            if isinstance(value, list):
                out.extend((v, suffix) for v in value)
            elif value is not None:
                out.append((value, suffix))
        return out

    return run


def _of_type(type_name: str) -> _Step:
    return lambda nodes: [n for n in nodes if _type_matches(n, type_name)]


def _exists(nodes: list[Node]) -> list[Node]:
    return [(bool(nodes), None)]


def _chain(steps: list[_Step]) -> _Step:
    def run(nodes: list[Node]) -> list[Node]:
        for step in steps:
            if not nodes:
                return nodes
            nodes = step(nodes)
        return nodes

    return run


def root_fields(expression: str, resource_type: str) -> frozenset[str] | None:
    """The top-level elements an expression rooted at ``resource_type`` starts from (choice
    elements by their base name), or None when some branch starts elsewhere. A resource
    without any of them cannot yield a value, so the indexer skips the expression."""
    if _TRUTHY.match(expression):
        return None  # yields false when the element is absent, so it must always run
    fields: set[str] = set()
    for term in expression.split("|"):
        match = re.match(rf"^[\s(]*(?:{resource_type}|Resource)\.([A-Za-z]+)", term)
        if match is None:
            return None
        fields.add(match.group(1))
    return frozenset(fields)


def present_fields(resource: dict[str, Any]) -> set[str]:
    """The element names of ``resource``, choice elements also under their base name
    (``valueQuantity`` → ``value``), to test :func:`root_fields` against."""
    names = set(resource)
    names.update(_BASE.match(key).group() for key in resource)  # type: ignore[union-attr]
    return names


def compile_expression(expression: str, resource_type: str | None = None) -> Extractor:
    """An extractor for ``expression``; a leading ``resource_type`` (or ``Resource``) names the
    root. Without ``resource_type`` the expression is relative to the element it is given."""
    roots = frozenset({resource_type, "Resource"}) if resource_type else frozenset()
    truthy = _TRUTHY.match(expression)
    if truthy:
        inner = _Parser(truthy.group("path"), roots).union()

        def is_true(value: Any) -> list[Node]:
            found = inner([(value, None)])
            return [(any(v is not False for v, _ in found), None)]

        return is_true
    step = _Parser(expression, roots).union()
    return lambda value: step([(value, None)])
