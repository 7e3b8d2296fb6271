"""The dashboard routes: ICS overview, one page per Place, one page per measure, downloads.

Mount with ``app.include_router(dashboard_router(out_dir), prefix="/dashboard")``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from joinedup.measures.definitions import MeasureDefinition
from joinedup.web.dashboard import charts
from joinedup.web.dashboard.data import DashboardData

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC = Path(__file__).parent / "static"
ICON_TEXT = {
    "common_cause": "Common cause variation",
    "improvement_high": "Special cause improvement (high)",
    "improvement_low": "Special cause improvement (low)",
    "concern_high": "Special cause concern (high)",
    "concern_low": "Special cause concern (low)",
    "neutral_high": "Special cause (high)",
    "neutral_low": "Special cause (low)",
    "pass": "Consistently passing the target",
    "fail": "Consistently failing the target",
    "inconsistent": "Hit and miss against the target",
}


def _format(value: float | None, unit: str = "") -> str:
    if value is None:
        return "suppressed"
    text = f"{value:,.1f}"
    return f"{text}%" if unit.startswith("%") else text


def _trajectory(measure: dict[str, Any], latest: dict[str, Any] | None) -> str:
    """The milestone in force for the latest period and whether the value is on track."""
    definition = MeasureDefinition.model_validate(measure)
    if latest is None or not definition.trajectory:
        return ""
    due = definition.milestone(date.fromisoformat(str(latest["period_end"])[:10]))
    if due is None:
        return ""
    text = f"Trajectory: {_format(due.value, measure['unit'])} by {due.period_end.isoformat()}"
    if latest["value"] is None:
        return f"{text}; latest value suppressed"
    on_track = definition.polarity.meets(latest["value"], due.value)
    if on_track is None:
        return text
    return f"{text}; {'on track' if on_track else 'off track'}"


def _tile(
    data: DashboardData, measure: dict[str, Any], breakdown: str, group_id: str
) -> dict[str, Any]:
    latest = data.latest(measure["id"], breakdown, group_id)
    series = sorted(data.rows(measure["id"], breakdown, group_id), key=lambda r: r["period_start"])
    icons = data.spc_icons(measure["id"], breakdown, group_id) or {}
    label = f"Trend of {measure['title']}, {len(series)} periods"
    return {
        "measure": measure,
        "row": latest,
        "value": _format(latest["value"] if latest else None, measure["unit"]),
        "interval": (
            f"{_format(latest['lower'], measure['unit'])} to "
            f"{_format(latest['upper'], measure['unit'])}"
            if latest and latest["lower"] is not None
            else "no interval"
        ),
        "variation": ICON_TEXT.get(
            icons.get("variation_icon") or "", "No SPC chart (too few points)"
        ),
        "assurance": ICON_TEXT.get(icons.get("assurance_icon") or "", "No target assurance"),
        "sparkline": charts.sparkline([r["value"] for r in series], label),
        "comparison": (latest or {}).get("vs_ics") or "",
        "trajectory": _trajectory(measure, latest),
    }


def dashboard_router(out_dir: Path) -> APIRouter:
    """A router serving the dashboard for the results in ``out_dir`` (read once, now)."""
    data = DashboardData.load(Path(out_dir))
    templates = Environment(
        loader=PackageLoader("joinedup.web.dashboard", "templates"), autoescape=select_autoescape()
    )
    templates.globals["fmt"] = _format
    router = APIRouter()

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        base = str(request.url_for("dashboard_overview")).rstrip("/")
        html = templates.get_template(name).render(
            base=base, places=data.places, meta=data.meta, **context
        )
        return HTMLResponse(html)

    @router.get("/", response_class=HTMLResponse, name="dashboard_overview")
    def overview(request: Request) -> HTMLResponse:
        tiles = [_tile(data, m, "ics", "ICS") for m in data.measures if m["priority"] == "national"]
        return page(request, "overview.html", tiles=tiles, title="ICS overview")

    @router.get("/place/{place_id}", response_class=HTMLResponse)
    def place(request: Request, place_id: str) -> HTMLResponse:
        found = data.place(place_id)
        if found is None:
            raise HTTPException(404, f"no Place {place_id}")
        chosen = [m for m in data.measures if m["id"] in found["measures"]]
        tiles = [_tile(data, m, "place", place_id) for m in chosen]
        status = {"better": 0, "similar": 0, "worse": 0}
        for tile in tiles:
            if tile["comparison"] in status:
                status[tile["comparison"]] += 1
        return page(
            request, "place.html", place=found, tiles=tiles, status=status, title=found["name"]
        )

    @router.get("/measure/{measure_id}", response_class=HTMLResponse)
    def measure(request: Request, measure_id: str) -> HTMLResponse:
        found = data.measure(measure_id)
        if found is None:
            raise HTTPException(404, f"no measure {measure_id}")
        unit = found["unit"]
        spc = data.spc_series(measure_id, "ics", "ICS")
        spc_html = (
            charts.spc_chart(
                spc,
                f"SPC chart: {found['title']} (ICS, monthly)",
                found["target"],
                unit,
                trajectory=found["trajectory"],
            )
            if spc
            else ""
        )
        funnels = [f for f in data.funnels if f["measure_id"] == measure_id]
        funnel_html = [
            charts.funnel_chart(
                f, data.meta["names"], f"Funnel plot by {f['breakdown']}, {f['period_start']}", unit
            )
            for f in funnels
        ]
        breakdowns = {}
        for name, label in (
            ("imd_quintile", "IMD quintile (1 = most deprived)"),
            ("pcn", "Primary Care Network"),
        ):
            rows = _latest_rows(data, measure_id, name)
            if rows:
                breakdowns[name] = {
                    "label": label,
                    "rows": rows,
                    "chart": charts.breakdown_chart(rows, f"By {label}", unit, f"breakdown-{name}"),
                }
        inequality = [r for r in data.inequality if r["measure_id"] == measure_id]
        return page(
            request,
            "measure.html",
            measure=found,
            spc_html=spc_html,
            funnel_html=funnel_html,
            breakdowns=breakdowns,
            inequality=inequality[-1] if inequality else None,
            title=found["title"],
        )

    @router.get("/measure/{measure_id}/data.csv")
    def measure_csv(measure_id: str) -> Response:
        rows = data.rows(measure_id)
        if not rows:
            raise HTTPException(404, f"no results for measure {measure_id}")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{measure_id}.csv"'},
        )

    @router.get("/measure/{measure_id}/data.json")
    def measure_json(measure_id: str) -> Response:
        found = data.measure(measure_id)
        if found is None:
            raise HTTPException(404, f"no measure {measure_id}")
        body = {"definition": found, "results": data.rows(measure_id)}
        return Response(json.dumps(body, default=str), media_type="application/json")

    @router.get("/static/plotly.min.js")
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="application/javascript")

    @router.get("/static/dashboard.css")
    def stylesheet() -> FileResponse:
        return FileResponse(STATIC / "dashboard.css", media_type="text/css")

    return router


def _latest_rows(data: DashboardData, measure_id: str, breakdown: str) -> list[dict[str, Any]]:
    rows = data.rows(measure_id, breakdown)
    if not rows:
        return []
    latest = max(r["period_start"] for r in rows)
    chosen = sorted((r for r in rows if r["period_start"] == latest), key=lambda r: r["group_id"])
    return [{**r, "label": data.name(r["group_id"])} for r in chosen]
