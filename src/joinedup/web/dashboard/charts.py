"""Plotly figures (SPC, funnel, breakdown bars) as HTML fragments, and inline SVG sparklines.

The figures load plotly.js from the dashboard's own static route (the file bundled inside the
``plotly`` package), never from a CDN; the mode bar is off because its icon links carry no
accessible names.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import plotly.graph_objects as go

CONFIG = {"displayModeBar": False, "responsive": True}
POINT_COLOURS = {
    "special_cause_improvement": "#005eb8",
    "special_cause_concern": "#d5281b",
    "common_cause": "#4c6272",
}
LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "height": 360,
    "font": {"family": "Arial, sans-serif", "size": 13, "color": "#212b32"},
    "plot_bgcolor": "#ffffff",
    "legend": {"orientation": "h", "y": -0.2},
}


def _html(figure: go.Figure, div_id: str) -> str:
    return str(
        figure.to_html(full_html=False, include_plotlyjs=False, config=CONFIG, div_id=div_id)
    )


def spc_chart(
    points: list[dict[str, Any]],
    title: str,
    target: float | None,
    unit: str,
    *,
    trajectory: Sequence[dict[str, Any]] = (),
) -> str:
    dates = [p["period_start"] for p in points]
    figure = go.Figure()
    for line, name, dash in (
        ("mean", "Mean", "solid"),
        ("lpl", "Lower process limit", "dash"),
        ("upl", "Upper process limit", "dash"),
    ):
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=[p[line] for p in points],
                mode="lines",
                name=name,
                line={"color": "#768692", "dash": dash},
            )
        )
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=[p["value"] for p in points],
            mode="lines+markers",
            name="Value",
            line={"color": "#425563"},
            marker={
                "size": 8,
                "color": [
                    POINT_COLOURS.get(str(p["point_type"]).split("_neutral")[0], "#4c6272")
                    for p in points
                ],
            },
        )
    )
    if target is not None:
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=[target] * len(dates),
                mode="lines",
                name="Target",
                line={"color": "#007f3b", "dash": "dot"},
            )
        )
    if trajectory:
        milestones = sorted(trajectory, key=lambda p: p["period_end"])
        figure.add_trace(
            go.Scatter(
                x=[p["period_end"] for p in milestones],
                y=[p["value"] for p in milestones],
                mode="lines+markers",
                name="Trajectory",
                line={"color": "#ed8b00", "dash": "dashdot"},
                marker={"symbol": "diamond", "size": 9},
            )
        )
    figure.update_layout(title=title, yaxis_title=unit, **LAYOUT)
    return _html(figure, "spc-chart")


def funnel_chart(funnel: dict[str, Any], names: dict[str, str], title: str, unit: str) -> str:
    figure = go.Figure()
    lines = funnel["lines"]
    for limit, label, dash in (("95", "95% limits", "dash"), ("998", "99.8% limits", "dot")):
        for side in ("lower", "upper"):
            x = lines.get("x", lines.get(f"x_{side}_{limit}"))
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=lines[f"{side}_{limit}"],
                    mode="lines",
                    name=label,
                    legendgroup=limit,
                    showlegend=side == "lower",
                    line={"color": "#768692", "dash": dash},
                )
            )
    xs = [p["x"] for p in funnel["points"]]
    figure.add_trace(
        go.Scatter(
            x=[min(xs), max(xs)],
            y=[funnel["baseline"]] * 2,
            mode="lines",
            name="Average",
            line={"color": "#425563"},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=[p["y"] for p in funnel["points"]],
            mode="markers",
            name=funnel["breakdown"].upper()
            if funnel["breakdown"] == "pcn"
            else funnel["breakdown"].title(),
            text=[
                f"{names.get(p['group_id'], p['group_id'])}: {p['significance']}"
                for p in funnel["points"]
            ],
            marker={"size": 9, "color": "#005eb8"},
        )
    )
    figure.update_layout(
        title=title, xaxis_title=funnel.get("x_title", "Denominator"), yaxis_title=unit, **LAYOUT
    )
    return _html(figure, f"funnel-{funnel['breakdown']}")


def breakdown_chart(rows: list[dict[str, Any]], title: str, unit: str, div_id: str) -> str:
    labels = [r["label"] for r in rows]
    values = [r["value"] for r in rows]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=values,
            marker={"color": "#005eb8"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    (r["upper"] - r["value"])
                    if r["upper"] is not None and r["value"] is not None
                    else 0
                    for r in rows
                ],
                "arrayminus": [
                    (r["value"] - r["lower"])
                    if r["lower"] is not None and r["value"] is not None
                    else 0
                    for r in rows
                ],
                "color": "#212b32",
            },
        )
    )
    figure.update_layout(title=title, yaxis_title=unit, **LAYOUT)
    return _html(figure, div_id)


def sparkline(values: list[float | None], label: str) -> str:
    """A small inline SVG trend line with an accessible name; gaps for suppressed values."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    width, height = 120, 32
    step = width / max(1, len(values) - 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            segments.append([])
            continue
        segments[-1].append(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}")
    paths = "".join(
        f'<polyline points="{" ".join(s)}" fill="none" stroke="#005eb8" stroke-width="2"/>'
        for s in segments
        if len(s) > 1
    )
    return (
        f'<svg class="sparkline" role="img" aria-label="{escape(label)}" '
        f'width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{paths}</svg>'
    )
