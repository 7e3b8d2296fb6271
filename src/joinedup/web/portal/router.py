"""The pages: demo sign-in, the clinician's single view of a person, the citizen portal.

Every page reads the caller from ``request.state`` (set by the access middleware from the
sign-in cookie) and passes ``request.state.restriction`` to every store read, so a page can
never show more than the FHIR API would. Writes (break-glass, the citizen's choices) run
under the caller's principal, so the write rules apply to them as to any API write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from joinedup.access import audit, breakglass
from joinedup.access.consent import DECLINE_SHARING, NATIONAL_OPT_OUT_POLICY, choices_of, is_opt_out
from joinedup.access.middleware import TOKEN_COOKIE
from joinedup.access.principal import DIRECT_CARE, Principal, Role
from joinedup.access.tokens import dev_token
from joinedup.fhir.outcome import FHIRError
from joinedup.record.interactions import Record, written_version
from joinedup.record.provenance import Author
from joinedup.store import NotFound, parse_search
from joinedup.store.base import Restriction, Store, StoredResource
from joinedup.web.portal.personas import Persona, find_personas
from joinedup.web.portal.timeline import timeline

router = APIRouter(prefix="/web", include_in_schema=False)
_templates = Environment(
    loader=PackageLoader("joinedup.web.portal", "templates"),
    autoescape=select_autoescape(["html"]),
)
SHARED_RECORD_POLICY = "https://joinedup.example.org/fhir/policy/shared-care-record"
_PORTAL = "joinedup portal"
_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
_PRIVACY = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}
_RESEARCH = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]
}
_CONSENT_CATEGORY = [
    {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}
]


def _page(template: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    principal: Principal | None = request.state.principal
    html = _templates.get_template(template).render(principal=principal, **context)
    return HTMLResponse(html, status_code=status)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _signed_in(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/web/sign-in", status_code=303)


@router.get("/")
async def home(request: Request) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return _to_sign_in()
    return RedirectResponse("/web/me" if principal.role is Role.CITIZEN else "/web/people", 303)


# --- sign-in -----------------------------------------------------------------------------------


def _demo_sign_in(request: Request) -> bool:
    """Personas sign in with dev tokens only when no real identity provider is configured."""
    return request.app.state.access_settings.jwks is None


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    personas = (
        await run_in_threadpool(find_personas, _store(request)) if _demo_sign_in(request) else []
    )
    return _page("sign_in.html", request, title="Sign in", personas=personas)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    if not _demo_sign_in(request):
        raise FHIRError(
            "sign in through your organisation's identity provider", status=403, code="forbidden"
        )
    key = (await _form(request)).get("persona", "")
    personas: list[Persona] = await run_in_threadpool(find_personas, _store(request))
    chosen = next((p for p in personas if p.key == key), None)
    if chosen is None:
        return _to_sign_in()
    token = dev_token(request.app.state.settings.data_dir, chosen.principal, minutes=120)
    response = RedirectResponse(chosen.home, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/", max_age=7200
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    response = _to_sign_in()
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


# --- the clinician's pages --------------------------------------------------------------------


@router.get("/people")
async def people(request: Request) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return _to_sign_in()
    if principal.role not in DIRECT_CARE:
        return _page("no_records.html", request, title="No record access")
    restriction = request.state.restriction
    query = parse_search("Patient", [("_count", "25"), ("_sort", "_id"), ("_total", "accurate")])
    page = await run_in_threadpool(_store(request).search, query, restriction=restriction)
    rows = [(p.id, person_name(p.resource)) for p in page.matches]
    return _page("people.html", request, title="People in your care", rows=rows, total=page.total)


@router.get("/open")
async def open_record(request: Request, id: str = "") -> Response:
    return RedirectResponse(f"/web/person/{id.strip()}" if id.strip() else "/web/people", 303)


@router.get("/person/{patient_id}")
async def person(request: Request, patient_id: str) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return _to_sign_in()
    if principal.role not in DIRECT_CARE:
        return _page("no_records.html", request, title="No record access", status=403)
    view = await run_in_threadpool(
        _person_view, _store(request), principal, patient_id, request.state.restriction
    )
    request.state.audit_patients = [patient_id]
    if view is None:
        return _page(
            "no_access.html",
            request,
            title="No care relationship",
            patient_id=patient_id,
            status=403,
        )
    request.state.audit_entities = view.pop("shown")
    return _page("person.html", request, title=f"Record of {view['name']}", **view)


@router.post("/person/{patient_id}/break-glass")
async def break_glass(request: Request, patient_id: str) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return _to_sign_in()
    reason = (await _form(request)).get("reason", "")
    request.state.audit_reason = reason or None
    request.state.audit_patients = [patient_id]
    try:
        await run_in_threadpool(
            breakglass.grant,
            _store(request),
            principal,
            patient_id,
            reason,
            minutes=request.app.state.access_settings.breakglass_minutes,
        )
    except FHIRError as error:
        return _page(
            "no_access.html",
            request,
            title="No care relationship",
            patient_id=patient_id,
            error=error.diagnostics,
            status=error.status,
        )
    return RedirectResponse(f"/web/person/{patient_id}", status_code=303)


def _person_view(
    store: Store, principal: Principal, patient_id: str, restriction: Restriction | None
) -> dict[str, Any] | None:
    try:
        page = store.everything(patient_id, count=1000, restriction=restriction)
    except NotFound:
        return None
    resources = [*page.matches, *page.included]
    patient = next((r for r in resources if r.resource_type == "Patient"), None)
    names = _organisation_names(store, {r.source_org for r in resources if r.source_org})
    grants = breakglass.grants(
        store, patient_id=patient_id, subject=principal.subject, active_at=datetime.now(UTC)
    )
    return {
        "shown": [f"{r.resource_type}/{r.id}" for r in resources],
        "patient_id": patient_id,
        "name": person_name(patient.resource if patient else None),
        "entries": timeline(resources, names),
        "care_team": _care_team(resources),
        "choices": _choices(resources),
        "break_glass": grants[0] if grants else None,
        "total": page.total,
    }


def _care_team(resources: list[StoredResource]) -> list[str]:
    members: list[str] = []
    for team in (r for r in resources if r.resource_type == "CareTeam" and r.resource):
        if (team.resource or {}).get("status") not in (None, "active"):
            continue
        for participant in (team.resource or {}).get("participant") or []:
            member = (participant or {}).get("member") or {}
            label = member.get("display") or member.get("reference") or "unknown"
            role = ((participant.get("role") or [{}])[0] or {}).get("text")
            members.append(f"{label} ({role})" if role else str(label))
    return members


def _choices(resources: list[StoredResource]) -> list[str]:
    described: list[str] = []
    for consent in (r.resource for r in resources if r.resource_type == "Consent" and r.resource):
        if consent.get("status") != "active":
            continue
        if is_opt_out(consent):
            described.append(
                "Has opted out of research and planning use of their data (care is unaffected)"
            )
        for choice in choices_of(consent):
            if choice.kind == DECLINE_SHARING:
                described.append(
                    "Has declined sharing beyond the organisation that wrote each entry"
                )
            elif choice.kind == "deny-org":
                described.append(f"Does not share with organisation {choice.value}")
            else:
                described.append(
                    f"Restricts entries labelled {choice.value.split('|')[-1]} to their author"
                )
    return described


def _organisation_names(store: Store, codes: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    if not codes:
        return names
    with store.transaction() as tx:
        marks = ", ".join("?" for _ in codes)
        sql = f"SELECT org_id, ods FROM access_org WHERE ods IN ({marks}) OR org_id IN ({marks})"  # noqa: S608
        rows = tx.execute(sql, [*codes, *codes])
    for org_id, ods in rows:
        try:
            organisation = store.read("Organization", org_id).resource or {}
        except NotFound:
            continue
        name = str(organisation.get("name") or org_id)
        names[ods or org_id] = name
        names[org_id] = name
        names[f"Organization/{org_id}"] = name
    return names


def person_name(resource: dict[str, Any] | None) -> str:
    if not resource:
        return "this person"
    for name in resource.get("name") or []:
        if isinstance(name, dict):
            if name.get("text"):
                return str(name["text"])
            parts = [*(name.get("given") or []), name.get("family") or ""]
            text = " ".join(str(p) for p in parts if p)
            if text:
                return text
    return f"Patient {resource.get('id', '')}".strip()


# --- the citizen portal ----------------------------------------------------------------------


@router.get("/me")
async def me(request: Request) -> Response:
    principal = _signed_in(request)
    if principal is None:
        return _to_sign_in()
    if principal.role is not Role.CITIZEN or principal.patient is None:
        return RedirectResponse("/web/people", status_code=303)
    view = await run_in_threadpool(
        _my_view, _store(request), principal.patient, request.state.restriction
    )
    request.state.audit_patients = [principal.patient]
    request.state.audit_entities = view.pop("shown")
    saved = request.query_params.get("saved") == "1"
    return _page("me.html", request, title="My record", saved=saved, **view)


def _my_view(store: Store, patient_id: str, restriction: Restriction | None) -> dict[str, Any]:
    page = store.everything(patient_id, count=1000, restriction=restriction)
    resources = [*page.matches, *page.included]
    patient = next((r for r in resources if r.resource_type == "Patient"), None)
    names = _organisation_names(store, {r.source_org for r in resources if r.source_org})
    consents = [r.resource for r in resources if r.resource_type == "Consent" and r.resource]
    active = [c for c in consents if c.get("status") == "active"]
    looked = [
        _looked(entry.event, patient_id, names)
        for entry in audit.entries_about(store, patient_id, limit=100)
    ]
    return {
        "shown": [f"{r.resource_type}/{r.id}" for r in resources],
        "name": person_name(patient.resource if patient else None),
        "entries": timeline(resources, names),
        "looked": looked,
        "declined": any(
            c.kind == DECLINE_SHARING for consent in active for c in choices_of(consent)
        ),
        "opted_out": any(is_opt_out(c) for c in active),
    }


def _looked(event: dict[str, Any], patient_id: str, names: dict[str, str]) -> dict[str, str]:
    agents = event.get("agent") or []
    person = agents[0] if agents else {}
    role = ((person.get("role") or [{}])[0] or {}).get("text", "")
    who = (
        "you"
        if role == "citizen"
        else (
            person.get("who", {}).get("reference")
            or person.get("who", {}).get("display")
            or "someone"
        )
    )
    org = ""
    if len(agents) > 1:
        code = agents[1].get("who", {}).get("identifier", {}).get("value", "")
        org = names.get(code, code)
    purpose = (event.get("purposeOfEvent") or [{}])[0]
    code = ((purpose.get("coding") or [{}])[0] or {}).get("code", "")
    why = {
        "TREAT": "your care",
        "PATRQT": "you looked yourself",
        "BTG": "emergency (break-glass)",
        "HOPERAT": "operations",
    }.get(code, code)
    if purpose.get("text"):
        why += f": {purpose['text']}"
    return {
        "when": str(event.get("recorded", ""))[:16].replace("T", " "),
        "who": str(who),
        "role": role.replace("_", " "),
        "org": org,
        "why": why,
        "outcome": "seen" if event.get("outcome") == "0" else "refused",
    }


@router.post("/me/choices")
async def change_choices(request: Request) -> Response:
    principal = _signed_in(request)
    if principal is None or principal.role is not Role.CITIZEN or principal.patient is None:
        return _to_sign_in()
    form = await _form(request)
    await run_in_threadpool(
        _record_choices,
        _store(request),
        principal.patient,
        form.get("sharing") == "decline",
        form.get("opt_out") == "yes",
        request.state.restriction,
    )
    return RedirectResponse("/web/me?saved=1", status_code=303)


def _record_choices(
    store: Store, patient_id: str, decline: bool, opt_out: bool, restriction: Restriction | None
) -> None:
    """Make the person's active Consents say exactly what they chose, and nothing more."""
    query = parse_search(
        "Consent", [("patient", f"Patient/{patient_id}"), ("status", "active"), ("_count", "100")]
    )
    active = store.search(query, restriction=restriction).matches
    today = datetime.now(UTC).date().isoformat()
    # The person wrote these themselves: the Provenance names them, like a citizen's REST write.
    record = Record(
        store, base="", restriction=restriction, author=Author(patient=patient_id, software=_PORTAL)
    )
    with store.transaction() as tx:
        written = []
        for stored in active:
            consent = stored.resource or {}
            declines = any(c.kind == DECLINE_SHARING for c in choices_of(consent))
            opts_out = is_opt_out(consent)
            if (declines and not decline) or (opts_out and not opt_out):
                inactive = consent | {"status": "inactive"}
                written.append(tx.update(inactive, source_org=stored.source_org))
        had_decline = any(
            any(c.kind == DECLINE_SHARING for c in choices_of(s.resource or {})) for s in active
        )
        had_opt_out = any(is_opt_out(s.resource or {}) for s in active)
        if decline and not had_decline:
            privacy = _consent(patient_id, today, _PRIVACY, SHARED_RECORD_POLICY, "TREAT")
            written.append(tx.create(privacy))
        if opt_out and not had_opt_out:
            research = _consent(patient_id, today, _RESEARCH, NATIONAL_OPT_OUT_POLICY, "HRESCH")
            written.append(tx.create(research))
        record.attest(tx, [written_version(result) for result in written])


def _consent(
    patient_id: str, today: str, scope: dict[str, Any], policy: str, purpose: str
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": scope,
        "category": _CONSENT_CATEGORY,
        "patient": {"reference": f"Patient/{patient_id}"},
        "dateTime": today,
        "policy": [{"uri": policy}],
        "provision": {"type": "deny", "purpose": [{"system": _ACT_REASON, "code": purpose}]},
    }
