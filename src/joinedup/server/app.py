"""The ASGI app: the FHIR R4 API under ``/fhir``.

``create_app(store, settings)`` builds it around one open store. Routes read the caller's
access decision from ``request.state`` (``restriction``, ``principal``; both default to None,
i.e. unrestricted); the access capability installs the middleware that sets them.
"""

from __future__ import annotations

from fastapi import FastAPI

from joinedup import __version__
from joinedup.access.install import install_access
from joinedup.config import Settings
from joinedup.export.bulk import mount_bulk_export
from joinedup.server.errors import CatchAll, install_error_handlers
from joinedup.server.head import HeadAsGet, HeadWithoutBody
from joinedup.server.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from joinedup.server.openapi import fhir_openapi
from joinedup.server.responses import FHIRJSONResponse
from joinedup.server.routes import (
    bundle,
    crud,
    history,
    measures,
    metadata,
    operations,
    search,
    view_definitions,
)
from joinedup.store.base import Store
from joinedup.web.dashboard import dashboard_router

FHIR_BASE = "/fhir"


def create_app(
    store: Store, settings: Settings | None = None, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> FastAPI:
    """The FHIR server for ``store``. The caller keeps ownership of the store (closes it)."""
    app = FastAPI(
        title="joinedup FHIR R4 record",
        version=__version__,
        description="The shared care record's FHIR R4 API (JSON). "
        "The CapabilityStatement is at /fhir/metadata.",
        default_response_class=FHIRJSONResponse,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.store = store
    app.state.settings = settings or Settings()
    # Literal paths before templated ones: /fhir/_history must not be read as a type, and
    # ViewDefinition and Measure (the view library, the published outcomes) are not the record's.
    for module in (metadata, history, operations, view_definitions, measures, search, crud, bundle):
        app.include_router(module.router, prefix=FHIR_BASE)
    install_error_handlers(app)
    app.openapi = lambda: fhir_openapi(app)  # type: ignore[method-assign]
    app.add_middleware(HeadAsGet)  # innermost: see server/head.py
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(CatchAll)
    # export (issue 5): Bulk Data $export routes (placed ahead of /{type}/{id}) and job service
    mount_bulk_export(app, app.state.settings.data_dir / "bulk-export")
    # outcomes (issue 7): the dashboard, once `joinedup measures run` has written its tables
    outcomes = app.state.settings.outcomes_dir()
    if (outcomes / "measures.json").is_file():
        app.include_router(dashboard_router(outcomes), prefix="/dashboard")
    # access (issue 4): token, policy and audit around every route; keep this last but one
    install_access(app, store, app.state.settings)
    # HEAD drops its body outside access, which audits it as the read it is
    app.add_middleware(HeadWithoutBody)
    return app
