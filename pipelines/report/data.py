"""The numbers the report shows, read from a published snapshot's marts.

Each query sums the mart that docs/counting-rules.md names for that number, so the report agrees
with every other reader of the marts: issued and retired per vintage from `fct_credit_balances`,
issued per year from `fct_issuances`, retired per year and per registry from `fct_retirements`,
corresponding adjustments per host country from `mart_article6_by_country`, candidate pairs from
`mart_double_counting_candidates` (its best tier per pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

UNKNOWN = "unknown"
TOP_COUNTRIES = 15
TOP_CANDIDATES = 20


@dataclass(frozen=True)
class Series:
    """Categories and, per series name, one value per category."""

    categories: list[str]
    values: dict[str, list[int]]


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Issued, retired, cancelled and outstanding credits (dim_projects: every credit)."""
    row = _rows(con, "SELECT coalesce(sum(quantity_issued), 0), coalesce(sum(quantity_retired), 0),"
                     " coalesce(sum(quantity_cancelled), 0), coalesce(sum(quantity_outstanding), 0),"
                     " count(*) FILTER (WHERE project_record_status = 'current') "
                     "FROM marts.dim_projects")[0]
    return dict(zip(("issued", "retired", "cancelled", "outstanding", "projects"), row,
                    strict=True))


def by_vintage(con: duckdb.DuckDBPyConnection) -> Series:
    rows = _rows(con, """
        SELECT vintage_year, sum(quantity),
               coalesce(sum(quantity) FILTER (WHERE status_group = 'retired'), 0)
        FROM marts.fct_credit_balances GROUP BY 1 ORDER BY 1 NULLS LAST""")
    return _series(rows, ("issued", "retired"))


def by_year(con: duckdb.DuckDBPyConnection) -> Series:
    """Issued by the year its issuance's monitoring period ended; retired by retirement year."""
    rows = _rows(con, """
        WITH issued AS (
            SELECT coalesce(year(issuance_end_date)::VARCHAR, 'unknown') AS y,
                   sum(quantity_issued) AS q
            FROM marts.fct_issuances GROUP BY 1),
        retired AS (
            SELECT coalesce(retirement_year::VARCHAR, 'unknown') AS y, sum(quantity) AS q
            FROM marts.fct_retirements GROUP BY 1)
        SELECT y, coalesce(i.q, 0), coalesce(r.q, 0)
        FROM issued i FULL JOIN retired r USING (y) ORDER BY y = 'unknown', y""")
    return _series(rows, ("issued", "retired"))


def retired_by_registry(con: duckdb.DuckDBPyConnection) -> Series:
    rows = _rows(con, """
        SELECT coalesce(registry, 'unknown'), sum(quantity) FROM marts.fct_retirements
        GROUP BY 1 ORDER BY 2 DESC, 1""")
    return _series(rows, ("retired",))


def article6_by_country(con: duckdb.DuckDBPyConnection) -> Series:
    """Credits per host country by corresponding-adjustment declaration (the four add up to the
    country's total), the TOP_COUNTRIES largest."""
    rows = _rows(con, f"""
        SELECT coalesce(host_country_iso3, 'unknown'), sum(quantity_ca_committed),
               sum(quantity_ca_not_required), sum(quantity_ca_unknown),
               sum(quantity_ca_contradictory), sum(quantity_authorized)
        FROM marts.mart_article6_by_country GROUP BY 1
        ORDER BY sum(quantity_total) DESC, 1 LIMIT {TOP_COUNTRIES}""")
    return _series(rows, ("CA committed", "CA not required", "CA unknown",
                          "contradictory CA pair", "authorized (letter on the unit)"))


def double_counting(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = con.execute(f"""
        SELECT tier, rule, project_name_a, organization_name_a, registry_a, project_name_b,
               organization_name_b, registry_b, country_iso3, evidence
        FROM marts.mart_double_counting_candidates WHERE is_pair_best_tier
        ORDER BY tier, evidence_count DESC, candidate_id LIMIT {TOP_CANDIDATES}""")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _series(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> Series:
    cats = [UNKNOWN if r[0] is None else str(r[0]) for r in rows]
    return Series(cats, {n: [int(r[i + 1] or 0) for r in rows] for i, n in enumerate(names)})
