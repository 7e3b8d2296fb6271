"""The access API beside the FHIR routes: break glass, and list grants for review.

``POST /access/break-glass`` with JSON ``{"patient": "<id>", "reason": "…"}`` grants the
caller time-limited access to that person's record; ``GET /access/break-glass`` lists grants
for review (admins and system tokens see all; anyone else their own).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from joinedup.access import breakglass
from joinedup.access.principal import Principal, Role
from joinedup.access.settings import AccessSettings
from joinedup.fhir.outcome import FHIRError

router = APIRouter(prefix="/access", tags=["access"])


def _principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise FHIRError("sign in first", status=401, code="login")
    return principal


@router.post("/break-glass", summary="break glass: time-limited access to one record")
async def break_glass(request: Request) -> JSONResponse:
    principal = _principal(request)
    try:
        body: Any = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        raise FHIRError('send JSON: {"patient": "<id>", "reason": "<why>"}') from None
    patient = str(body.get("patient") or "") if isinstance(body, dict) else ""
    reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
    settings: AccessSettings = request.app.state.access_settings
    # The audit entry for this request carries the reason and the person.
    request.state.audit_reason = reason or None
    request.state.audit_patients = [patient] if patient else []
    grant = await run_in_threadpool(
        breakglass.grant,
        request.app.state.store,
        principal,
        patient,
        reason,
        minutes=settings.breakglass_minutes,
    )
    return JSONResponse(asdict(grant), status_code=201)


@router.get("/break-glass", summary="break-glass grants for review")
async def list_break_glass(request: Request) -> JSONResponse:
    principal = _principal(request)
    everyone = principal.role in (Role.ADMIN, Role.SYSTEM)
    found = await run_in_threadpool(
        breakglass.grants,
        request.app.state.store,
        subject=None if everyone else principal.subject,
    )
    now = datetime.now(UTC).isoformat()
    return JSONResponse({"grants": [asdict(g) | {"active": g.expires > now} for g in found]})
