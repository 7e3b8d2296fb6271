"""The outcomes dashboard: server-rendered pages over a ``joinedup measures run`` out dir."""

from joinedup.web.dashboard.router import dashboard_router

__all__ = ["dashboard_router"]
