"""ASGI middleware: authenticate every request, decide access, audit every request.

* no, expired, forged or wrong-audience token → 401 (``WWW-Authenticate: Bearer``);
* an interaction the token's scopes or the role never allow → 403 with an OperationOutcome;
* otherwise ``request.state.principal`` and ``request.state.restriction`` are set for the
  routes, and the principal is bound to the request's context so the store's write hook
  (:data:`WRITE_RULES`) can apply the write rules inside the writing transaction;
* a direct-care user's read of a Patient they may not see answers 403 with the option to
  break glass — the same answer whether or not the Patient exists;
* every request — allowed or denied — is written to the audit chain before its response is
  sent (a failed audit write fails the request), and no request can turn that off.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup.access import audit, breakglass
from joinedup.access.checkpoints import Checkpointer
from joinedup.access.interactions import Interaction, classify
from joinedup.access.policy import (
    OrgDirectory,
    OrgKeys,
    check_write,
    interaction_denial,
    restriction_for,
)
from joinedup.access.principal import DIRECT_CARE, Principal, Role
from joinedup.access.references import format_instant
from joinedup.access.scopes import Permission
from joinedup.access.settings import AccessSettings
from joinedup.access.tokens import TokenError, TokenVerifier
from joinedup.fhir.outcome import FHIRError
from joinedup.record.provenance import is_attesting
from joinedup.record.shown import Shown, shown_in
from joinedup.store import parse_search
from joinedup.store.base import (
    Restriction,
    Store,
    StoredResource,
    StoreExtension,
    Transaction,
    WriteOperation,
)

TOKEN_COOKIE = "joinedup_token"
#: Responses larger than this are not held in memory: they are audited by the summary of what
#: they show when their route gives one (``state.shown``), else without their ids.
MAX_CAPTURE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class AccessContext:
    principal: Principal
    keys: OrgKeys


_CURRENT: contextvars.ContextVar[AccessContext | None] = contextvars.ContextVar(
    "joinedup_access", default=None
)


@contextmanager
def acting_as(principal: Principal, keys: OrgKeys) -> Iterator[None]:
    """Bind ``principal`` to the current context, so writes made inside obey the write rules
    (the middleware does this for every request; pages that write do it too)."""
    token = _CURRENT.set(AccessContext(principal, keys))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _write_rules(tx: Transaction, stored: StoredResource, operation: WriteOperation) -> None:
    context = _CURRENT.get()
    # None: a command-line load or an internal job, not a request. The record's own
    # Provenance of an allowed write is the server's statement, not the caller's write.
    if context is not None and not is_attesting():
        check_write(tx, context.principal, context.keys, stored, operation)


WRITE_RULES = StoreExtension(name="access-write-rules", on_write=_write_rules)


@dataclass
class _Captured:
    status: int = 500
    start: Message | None = None
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    overflow: bool = False


class AccessMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Store,
        settings: AccessSettings,
        verifier: TokenVerifier,
        checkpointer: Checkpointer,
        fhir_prefix: str = "",
        public_paths: tuple[str, ...] = (),
        cookie_paths: tuple[str, ...] = (),
    ) -> None:
        """``public_paths``: prefixes served without a token and not audited (the capability
        statement, static files, the sign-in page). ``cookie_paths``: prefixes (the web pages)
        where the token may come from the sign-in cookie and a missing one is left to the
        page to handle (principal None)."""
        self.app = app
        self.store = store
        self.settings = settings
        self.verifier = verifier
        self.checkpointer = checkpointer
        self.fhir_prefix = fhir_prefix.rstrip("/")
        self.public_paths = public_paths
        self.cookie_paths = cookie_paths
        self.orgs = OrgDirectory(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.public_paths):
            await self.app(scope, receive, send)
            return
        now = datetime.now(UTC)
        path: str = scope["path"]
        method: str = scope["method"]
        state = scope.setdefault("state", {})
        state["principal"] = None
        state["restriction"] = None
        is_page = path.startswith(self.cookie_paths)
        interaction = (
            Interaction("page", Permission.READ)
            if is_page
            else classify(method, path.removeprefix(self.fhir_prefix))
        )
        query_names = [k for k, _ in parse_qsl(scope.get("query_string", b"").decode())]
        record = _Record(now, method, path, interaction, query_names)

        try:
            principal = self.verifier.verify(_token(scope, is_page))
        except TokenError as exc:
            if is_page:
                await self._forward(scope, receive, send, record, None)
                return
            record.outcome_text = str(exc)
            await self._refuse(send, record, None, 401, "login", str(exc))
            return

        if not is_page:
            denial = interaction_denial(
                principal, interaction.resource_type, interaction.permission, interaction.name
            )
            if denial is not None:
                record.outcome_text = denial
                await self._refuse(send, record, principal, 403, "forbidden", denial)
                return
        keys = self.orgs.cached(principal.org)
        if keys is None:
            keys = await anyio.to_thread.run_sync(self.orgs.keys, principal.org)
        state["principal"] = principal
        state["restriction"] = restriction_for(principal, keys, self.settings, now)
        with acting_as(principal, keys):
            await self._forward(scope, receive, send, record, principal)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        record: _Record,
        principal: Principal | None,
    ) -> None:
        captured = _Captured()
        if record.interaction.permission not in _WRITES:
            scope.setdefault("state", {})[SHOWN_AUDIT] = _ShownAudit(
                lambda status, shown: self._write_audit(record, principal, status, shown, scope)
            )

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = message["status"]
                captured.start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            if captured.overflow:
                await send(message)
                return
            chunk = message.get("body", b"")
            captured.body.append(chunk)
            captured.size += len(chunk)
            if captured.size > MAX_CAPTURE_BYTES:
                captured.overflow = True
                if not _audited(scope):
                    shown = scope.get("state", {}).get("shown")
                    await self._audit(record, principal, captured.status, shown, scope)
                await self._send_captured(send, captured, more=message.get("more_body", False))
            elif not message.get("more_body", False):
                await self._finish(send, record, principal, captured, scope)

        try:
            await self.app(scope, receive, capture)
        except Exception:
            if captured.start is None:
                record.outcome_text = "the server failed while handling the request"
                await self._audit(record, principal, 500, None, scope)
            raise

    async def _finish(
        self,
        send: Send,
        record: _Record,
        principal: Principal | None,
        captured: _Captured,
        scope: Scope,
    ) -> None:
        body = b"".join(captured.body)
        if self._hide_existence(record.interaction, principal, captured.status):
            record.outcome_text = "no relationship (or no such Patient); break-glass offered"
            await self._refuse(send, record, principal, 403, "forbidden", _break_glass_hint(record))
            return
        state = scope.get("state", {})
        shown: Shown | None = state.get("shown")
        restriction = state.get("restriction")
        if record.interaction.permission in _WRITES and restriction is not None:
            # A conditional create that matched answers with the existing resource, which
            # the writer may not be allowed to see: never hand its content back.
            parsed = _json(body, captured.start)
            shown = shown_in(parsed)
            hidden = await anyio.to_thread.run_sync(
                _not_visible, self.store, shown.resources, restriction
            )
            if hidden and parsed.get("resourceType") != "Bundle":
                record.outcome_text = "conditional create matched a resource the caller may not see"
                await self._refuse(send, record, principal, 412, "conflict", _HIDDEN_MATCH)
                return
            if hidden:
                for entry in parsed.get("entry") or []:
                    resource = entry.get("resource") or {}
                    if f"{resource.get('resourceType')}/{resource.get('id')}" in hidden:
                        del entry["resource"]
                body = orjson.dumps(parsed)
                captured.start = _with_length(captured.start, len(body))
        elif shown is None and not _audited(scope):
            # Responses that did not say what they show (errors, pages) are read back.
            shown = shown_in(_json(body, captured.start))
        if not _audited(scope):
            await self._audit(record, principal, captured.status, shown, scope)
        captured.body = [body]
        await self._send_captured(send, captured, more=False)

    async def _send_captured(self, send: Send, captured: _Captured, *, more: bool) -> None:
        assert captured.start is not None
        await send(captured.start)
        await send(
            {"type": "http.response.body", "body": b"".join(captured.body), "more_body": more}
        )
        captured.body = []

    def _hide_existence(
        self, interaction: Interaction, principal: Principal | None, status: int
    ) -> bool:
        return (
            status == 404
            and principal is not None
            and principal.role in DIRECT_CARE
            and interaction.resource_type == "Patient"
            and interaction.id is not None
            and interaction.name in ("read", "$everything", "vread", "history-instance")
        )

    async def _refuse(
        self,
        send: Send,
        record: _Record,
        principal: Principal | None,
        status: int,
        code: str,
        message: str,
    ) -> None:
        await self._audit(record, principal, status, None, None)
        body = orjson.dumps(FHIRError(message, status=status, code=code).to_resource())
        headers = [
            (b"content-type", b"application/fhir+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="joinedup", error="invalid_token"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _audit(
        self,
        record: _Record,
        principal: Principal | None,
        status: int,
        shown: Shown | None,
        scope: Scope | None,
    ) -> None:
        await anyio.to_thread.run_sync(self._write_audit, record, principal, status, shown, scope)

    def _write_audit(
        self,
        record: _Record,
        principal: Principal | None,
        status: int,
        shown: Shown | None,
        scope: Scope | None,
    ) -> None:
        """Append the request's entry to the audit chain (blocking: the store is synchronous)."""
        entities = [] if shown is None else shown.entities
        patients = set() if shown is None else set(shown.patients)
        path_patient = _path_patient(record.interaction)
        if path_patient is not None:
            patients.add(path_patient)
        state = (scope or {}).get("state", {})
        purpose, reason = _purpose(principal)
        if state.get("audit_reason"):
            purpose, reason = "BTG", state["audit_reason"]
        # Routes whose responses are not FHIR JSON (the pages) name what they showed.
        patients |= set(state.get("audit_patients", ()))
        entities = [*entities, *state.get("audit_entities", ())]

        # A direct-care user's request about people is audited as break-glass when it ran
        # under one of their grants for one of them.
        grantee = (
            principal.subject
            if principal is not None
            and principal.role in DIRECT_CARE
            and patients
            and purpose != "BTG"
            else None
        )
        probe = None if grantee is None else breakglass.live_probe(grantee, record.now)

        def event(tx: Transaction, live_grant: Any) -> dict[str, Any]:
            why, because = purpose, reason
            if grantee is not None and live_grant is not None:
                granted = breakglass.reason_under(tx, grantee, patients, record.now)
                if granted is not None:
                    why, because = "BTG", granted
            return audit.audit_event(
                recorded=format_instant(record.now),
                who=None if principal is None else _who(principal),
                interaction=record.interaction.name,
                action=record.interaction.action,
                method=record.method,
                path=record.path,
                status=status,
                entities=entities,
                query_names=record.query_names,
                purpose=why,
                reason=because,
                outcome_text=record.outcome_text,
            )

        # Whether the user holds a live grant is read with the chain's head, in the audit's
        # own transaction; only then is the grant looked up (docs/access.md, Overhead).
        entry = audit.append(self.store, event, patients, probe)
        self.checkpointer.after_append(entry, record.now)


#: ``state`` key of the :class:`_ShownAudit` a read's route may call.
SHOWN_AUDIT = "audit_shown"


@dataclass
class _ShownAudit:
    """Lets the route of a read write the read's audit entry — from the summary of what its
    response shows and its status — in the worker thread where it read, once the response is
    built: one thread hand-off per read instead of two. The entry is the one the middleware
    would write; when the route does not call it, the middleware audits the response itself."""

    write: Callable[[int, Shown], None]
    written: bool = False

    def __call__(self, status: int, shown: Shown) -> None:
        self.write(status, shown)
        self.written = True


def _audited(scope: Scope) -> bool:
    hook = scope.get("state", {}).get(SHOWN_AUDIT)
    return isinstance(hook, _ShownAudit) and hook.written


@dataclass
class _Record:
    now: datetime
    method: str
    path: str
    interaction: Interaction
    query_names: list[str]
    outcome_text: str | None = None


def _token(scope: Scope, allow_cookie: bool) -> str:
    headers = dict(scope.get("headers") or [])
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_cookie and b"cookie" in headers:
        cookie = SimpleCookie(headers[b"cookie"].decode("latin-1"))
        if TOKEN_COOKIE in cookie:
            return cookie[TOKEN_COOKIE].value
    raise TokenError("no bearer token: send 'Authorization: Bearer <token>' (joinedup token)")


def _who(principal: Principal) -> audit.Who:
    return audit.Who(
        subject=principal.subject,
        role=principal.role.value,
        org=principal.org,
        practitioner=principal.practitioner,
        patient=principal.patient,
    )


def _purpose(principal: Principal | None) -> tuple[str, str | None]:
    """v3 ActReason: TREAT (direct care), PATRQT (the person themself), HOPERAT (operations)."""
    if principal is None or principal.role in DIRECT_CARE:
        return "TREAT", None
    if principal.role is Role.CITIZEN:
        return "PATRQT", None
    return "HOPERAT", None


def _path_patient(interaction: Interaction) -> str | None:
    return interaction.id if interaction.resource_type == "Patient" else None


def _json(body: bytes, start: Message | None) -> Any:
    headers = dict((start or {}).get("headers") or [])
    content_type = headers.get(b"content-type", b"")
    # NDJSON (Bulk Data files, $run output) is many documents, never one to audit by content.
    if b"json" not in content_type or b"ndjson" in content_type or not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


_WRITES = frozenset({Permission.CREATE, Permission.UPDATE, Permission.DELETE})
_HIDDEN_MATCH = (
    "a resource matching the condition already exists and you may not see it; nothing was "
    "written. Make the condition more specific, or ask the organisation that holds it"
)


def _not_visible(store: Store, shown: Sequence[str], restriction: Restriction) -> set[str]:
    """The ``Type/id`` among those a write's response ``shown`` that ``restriction`` denies."""
    by_type: dict[str, set[str]] = {}
    for entity in shown:
        kind, _, rid = entity.partition("/")
        by_type.setdefault(kind, set()).add(rid)
    hidden: set[str] = set()
    for kind, ids in by_type.items():
        query = parse_search(kind, [("_id", ",".join(sorted(ids))), ("_count", str(len(ids)))])
        seen = {r.id for r in store.search(query, restriction=restriction).matches}
        hidden |= {f"{kind}/{i}" for i in ids - seen}
    return hidden


def _with_length(start: Message | None, length: int) -> Message:
    assert start is not None
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    updated: Message = dict(start)
    updated["headers"] = [*headers, (b"content-length", str(length).encode())]
    return updated


def _break_glass_hint(record: _Record) -> str:
    return (
        f"You have no recorded care relationship with Patient/{record.interaction.id}, or there "
        "is no such record. In an emergency you can break glass: POST /access/break-glass with "
        "the patient id and your reason; the access is time-limited, audited and shown to the "
        "person."
    )
