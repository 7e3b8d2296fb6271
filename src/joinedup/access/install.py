"""Wiring access into the server: store extensions, the middleware and the access routes.

``create_app`` calls :func:`install_access` once, at its end.
"""

from __future__ import annotations

from fastapi import FastAPI

from joinedup.access import audit, breakglass, consent, relationships, routes
from joinedup.access.checkpoints import Checkpointer
from joinedup.access.middleware import WRITE_RULES, AccessMiddleware
from joinedup.access.settings import AccessSettings
from joinedup.access.tokens import TokenVerifier
from joinedup.config import Settings
from joinedup.record import provenance
from joinedup.store.base import Store, StoreExtension
from joinedup.web.portal.router import router as portal_router

#: Every store the record is written through must carry these, so relationships and choices
#: are materialised by every writer (server, ``joinedup load``, the generator), and every
#: Provenance is readable by exactly those who may read what it is about.
EXTENSIONS: tuple[StoreExtension, ...] = (
    relationships.EXTENSION,
    provenance.EXTENSION,
    consent.EXTENSION,
    breakglass.EXTENSION,
    audit.EXTENSION,
    WRITE_RULES,
)

#: Served without a token and not audited: they reveal nothing about anyone.
PUBLIC_PATHS = ("/fhir/metadata", "/.well-known/", "/static/", "/docs", "/openapi.json")


def install_access(app: FastAPI, store: Store, settings: Settings) -> None:
    access = AccessSettings()
    for extension in EXTENSIONS:
        store.register_extension(extension)
    app.state.access_settings = access
    app.include_router(routes.router)
    app.include_router(portal_router)
    app.add_middleware(
        AccessMiddleware,
        store=store,
        settings=access,
        verifier=TokenVerifier(access, access.key_dir(settings.data_dir)),
        checkpointer=Checkpointer.configured(access, settings.data_dir),
        fhir_prefix="/fhir",
        public_paths=PUBLIC_PATHS,
        # Pages sign in with the cookie; the dashboard (aggregates only) may be mounted here.
        cookie_paths=("/web/", "/dashboard/"),
    )
