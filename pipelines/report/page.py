"""The report page: one self-contained HTML file (plotly.js inlined, no request to anywhere).

Charts are embedded as JSON and drawn by one script, which sets `window.cadtReportReady` (a
promise resolved once every chart is drawn) and `data-rendered` on <body>, so a headless browser
can tell when the page is done without waiting for a fixed time.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from pipelines.report import charts, data
from pipelines.warehouse.freshness import freshness

RAW_AND_MARTS = "raw + marts"  # (publish.RAW_AND_MARTS; not imported: publish imports us)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    source: str
    figure: go.Figure


def charts_for(con: duckdb.DuckDBPyConnection, meta: dict[str, Any]) -> list[Chart]:
    """Every chart the snapshot can show (the mart charts only when it holds the marts)."""
    at = datetime.fromisoformat(meta["published_at"]) if meta.get("published_at") else (
        datetime.now(UTC))
    out = []
    if meta.get("contents") == RAW_AND_MARTS:
        out += [
            Chart("vintage", "Issued vs retired by vintage",
                  "marts.fct_credit_balances (quantity by vintage_year and status)",
                  charts.issued_vs_retired(data.by_vintage(con), "vintage year")),
            Chart("year", "Issued vs retired by year",
                  "issued: marts.fct_issuances by the year its monitoring period ended "
                  "(issuance_end_date); retired: marts.fct_retirements.retirement_year",
                  charts.issued_vs_retired(data.by_year(con), "year")),
            Chart("registry", "Retirements by registry",
                  "marts.fct_retirements (harmonised registry)",
                  charts.retired_by_registry(data.retired_by_registry(con))),
            Chart("article6", "Article 6: corresponding adjustments by host country",
                  f"marts.mart_article6_by_country, the {data.TOP_COUNTRIES} largest host "
                  "countries; the four declarations add up to each country's credits",
                  charts.article6(data.article6_by_country(con))),
            Chart("double_counting", "Top double-counting candidates",
                  f"marts.mart_double_counting_candidates, best tier per pair (1 = strongest), "
                  f"the first {data.TOP_CANDIDATES}",
                  charts.double_counting(data.double_counting(con))),
        ]
    out.append(Chart("freshness", "Freshness per organization",
                     "cadt_mirror.sync_runs and sync_state: time before this snapshot",
                     charts.freshness(freshness(con), at)))
    return out


def render(con: duckdb.DuckDBPyConnection, meta: dict[str, Any]) -> str:
    """The whole page as text."""
    items = charts_for(con, meta)
    totals = data.totals(con) if meta.get("contents") == RAW_AND_MARTS else None
    sections = "\n".join(_section(c) for c in items)
    return _PAGE.format(
        plotly=get_plotlyjs(), header=_header(meta, totals), sections=sections,
        count=len(items))


def write_report(con: duckdb.DuckDBPyConnection, meta: dict[str, Any], path: Path) -> Path:
    """Write the page to `path` (by rename: a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render(con, meta), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _section(c: Chart) -> str:
    spec = c.figure.to_json().replace("</", "<\\/")  # (to_json escapes `<` already)
    return (f'<section class="chart" id="chart-{c.key}" data-traces="{len(c.figure.data)}">\n'
            f"<h2>{html.escape(c.title)}</h2>\n<p class=\"source\">{html.escape(c.source)}</p>\n"
            f'<div class="figure" id="figure-{c.key}"></div>\n'
            f'<script type="application/json" class="figure-spec" data-target="figure-{c.key}">'
            f"{spec}</script>\n</section>")


def _header(meta: dict[str, Any], totals: dict[str, int] | None) -> str:
    e = html.escape
    node = meta.get("node_url") or "unknown node"
    gens = ", ".join(f"{e(o['name'] or o['org_uid'][:12])} {o['generation']}"
                     for o in meta.get("organizations") or [])
    rows = [("snapshot", meta.get("snapshot_id")), ("published", meta.get("published_at")),
            ("node", node), ("contents", meta.get("contents")),
            ("marts build", meta.get("marts_build")),
            ("last sync", f"{meta.get('last_sync_id')} (finished {meta.get('last_sync_finished_at')})")]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in rows)
    dl += f"<dt>generations</dt><dd>{gens or 'none'}</dd>"
    kpis = ""
    if totals:
        kpis = '<div class="kpis">' + "".join(
            f'<div class="kpi"><span>{e(k)}</span><b>{v:,}</b></div>'
            for k, v in totals.items()) + "</div>"
    else:
        kpis = ('<p class="notice">This snapshot holds the raw tables only: the marts were not '
                "rebuilt since the raw tables last changed. <code>cadt-mirror build</code> (or "
                "<code>cadt-mirror run</code>) publishes them and the charts.</p>")
    return f"<dl>{dl}</dl>{kpis}"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CADT Mirror report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222;
        padding: 0 16px; }}
h1 {{ margin-bottom: 4px; }}
dl {{ display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 14px; }}
dt {{ color: #666; }} dd {{ margin: 0; word-break: break-word; }}
.kpis {{ display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }}
.kpi {{ border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 130px; }}
.kpi span {{ display: block; color: #666; font-size: 13px; }} .kpi b {{ font-size: 20px; }}
.notice {{ background: #fff4e5; border: 1px solid #f5c27a; padding: 10px 14px; }}
.chart {{ border-top: 1px solid #eee; margin-top: 20px; }}
.source {{ color: #666; font-size: 13px; margin-top: -8px; }}
</style>
<script>{plotly}</script>
</head><body data-charts="{count}">
<h1>CADT Mirror report</h1>
{header}
{sections}
<script>
window.cadtReportReady = Promise.all(Array.from(
  document.querySelectorAll("script.figure-spec"), function (s) {{
    var spec = JSON.parse(s.textContent);
    return Plotly.newPlot(s.dataset.target, spec.data, spec.layout,
                          {{displaylogo: false, responsive: true}});
  }})).then(function (drawn) {{
    document.body.dataset.rendered = String(drawn.length);
    return drawn.length;
  }});
</script>
</body></html>
"""
