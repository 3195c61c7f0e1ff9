"""Plotly figures for the report: one function per chart, data in, figure out."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from pipelines.report.data import Series
from pipelines.warehouse.freshness import OrgFreshness

ISSUED, RETIRED = "#4c78a8", "#f58518"
CA_COLOURS = ("#54a24b", "#bab0ac", "#eeca3b", "#e45756", "#4c78a8")
_LAYOUT: dict[str, Any] = {
    "template": "simple_white", "height": 380, "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0,
               "traceorder": "normal"},
    "font": {"family": "sans-serif"},
}


def _label(text: str) -> str:
    """Plotly reads a little HTML in labels: show data as text."""
    return html.escape(text, quote=False)


def issued_vs_retired(series: Series, x_title: str) -> go.Figure:
    fig = go.Figure([
        go.Bar(name="issued", x=series.categories, y=series.values["issued"],
               marker_color=ISSUED),
        go.Bar(name="retired", x=series.categories, y=series.values["retired"],
               marker_color=RETIRED)])
    fig.update_layout(barmode="group", xaxis={"title": x_title, "type": "category"},
                      yaxis={"title": "credits"}, **_LAYOUT)
    return fig


def retired_by_registry(series: Series) -> go.Figure:
    names = [_label(c) for c in series.categories]
    fig = go.Figure(go.Bar(x=series.values["retired"][::-1], y=names[::-1], orientation="h",
                           marker_color=RETIRED, name="retired"))
    layout = {**_LAYOUT, "height": max(260, 28 * len(names) + 80),
              "margin": {**_LAYOUT["margin"], "l": 260}}
    fig.update_layout(xaxis={"title": "credits retired"}, **layout)
    return fig


def article6(series: Series) -> go.Figure:
    fig = go.Figure()
    for (name, values), colour in zip(series.values.items(), CA_COLOURS, strict=True):
        if name.startswith("authorized"):
            fig.add_trace(go.Scatter(name=name, x=series.categories, y=values, mode="markers",
                                     marker={"symbol": "diamond", "size": 10, "color": colour}))
        else:
            fig.add_trace(go.Bar(name=name, x=series.categories, y=values, marker_color=colour))
    fig.update_layout(barmode="stack", xaxis={"title": "host country (ISO 3166-1 alpha-3)",
                                              "type": "category"},
                      yaxis={"title": "credits"}, **_LAYOUT)
    return fig


def double_counting(rows: list[dict[str, Any]]) -> go.Figure:
    columns = ("tier", "rule", "project A", "organization A", "project B", "organization B",
               "country", "evidence")
    keys = ("tier", "rule", "project_name_a", "organization_name_a", "project_name_b",
            "organization_name_b", "country_iso3", "evidence")
    cells = [[_label("" if r[k] is None else str(r[k])) for r in rows] for k in keys]
    if not rows:
        cells = [["no candidate pairs"], *([[""]] * (len(keys) - 1))]
    fig = go.Figure(go.Table(
        columnwidth=[30, 160, 150, 120, 150, 120, 55, 230],
        header={"values": [f"<b>{c}</b>" for c in columns], "fill_color": "#eeeeee",
                "align": "left"},
        cells={"values": cells, "align": "left", "height": 26}))
    fig.update_layout(**{**_LAYOUT, "height": 120 + 34 * max(1, len(rows)),
                         "margin": {"l": 10, "r": 10, "t": 10, "b": 10}})
    return fig


def freshness(orgs: list[OrgFreshness], at: datetime) -> go.Figure:
    names = [_label((o.name or o.org_uid[:16])[:40]) for o in orgs][::-1]

    ages = [(at - ts).total_seconds() for o in orgs for ts in (o.last_success, o.last_change)
            if ts is not None]
    unit, per = ("hours", 3600) if max(ages, default=0) >= 7200 else ("minutes", 60)

    def age(ts: datetime | None) -> float | None:
        return None if ts is None else round((at - ts).total_seconds() / per, 2)

    fig = go.Figure([
        go.Bar(name="since the last successful sync (lag)", orientation="h", y=names,
               x=[age(o.last_success) for o in orgs][::-1], marker_color=ISSUED),
        go.Bar(name="since the last change (new generation)", orientation="h", y=names,
               x=[age(o.last_change) for o in orgs][::-1], marker_color="#bab0ac",
               customdata=[o.generation for o in orgs][::-1],
               hovertemplate=f"%{{x}} {unit}, generation %{{customdata}}<extra></extra>")])
    layout = {**_LAYOUT, "height": max(240, 48 * len(names) + 90),
              "margin": {**_LAYOUT["margin"], "l": 220}}
    fig.update_layout(barmode="group", xaxis={"title": f"{unit} before this snapshot"},
                      **layout)
    return fig
