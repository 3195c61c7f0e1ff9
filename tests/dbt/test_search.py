"""Search: the warehouse macro `marts.search` and `cadt-mirror search` (pipelines/search.py)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines import search as search_module
from pipelines.cli import main

pytestmark = pytest.mark.xdist_group("dbt")


def _search(db: Path, text: str | None = None, **filters) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return search_module.search(con, text, **filters)
    finally:
        con.close()


def _ids(rows: list[dict]) -> list[str]:
    return [r["doc_id"] for r in rows]


@pytest.mark.parametrize("text", ["ñandú reforestación", "NANDU REFORESTACION",
                                  "nAnDu reforestacoin", "reforestacion"])
def test_finds_a_project_whatever_the_case_accents_or_a_typo(quality_warehouse, text):
    rows = _search(quality_warehouse, text)
    assert _ids(rows)[:1] == ["PQ1"], rows


def test_filters_narrow_and_unknown_words_find_nothing(quality_warehouse):
    assert _ids(_search(quality_warehouse, "reforestacion", country="Peru")) == ["PQ1"]
    assert _ids(_search(quality_warehouse, "reforestacion", country="PER")) == ["PQ1"]
    assert _search(quality_warehouse, "reforestacion", country="Kenya") == []
    assert _search(quality_warehouse, "reforestacion zebra") == []
    assert _ids(_search(quality_warehouse, developer="GREEN DEV")) == ["P1", "P2"]
    assert _ids(_search(quality_warehouse, "forest", registry="VCS")) == ["P1"]
    # the exact name ranks first
    rows = _search(quality_warehouse, "forest guard")
    assert rows[0]["score"] >= rows[-1]["score"] and {"P1", "P2"} <= set(_ids(rows))


def test_finds_the_unit_block_holding_a_serial(query, built_warehouse):
    assert _ids(_search(built_warehouse, serial="VCS-1001-2020-700")) == ["U1b"]
    # 1000 is in U1b (601-1000) and U7 (950-1049); a block finds every block it overlaps
    assert set(_ids(_search(built_warehouse, serial="vcs-1001-2020-1000"))) == {"U1b", "U7"}
    assert _ids(_search(built_warehouse, serial="VCS-1001-2020-1001-VCS-1001-2020-1040")) == [
        "U7"
    ]
    assert _search(built_warehouse, serial="VCS-1001-2020-5000") == []


def test_serials_are_read_from_the_serial_number_block_when_start_and_end_are_missing(
    quality_query, quality_warehouse
):
    assert quality_query(
        "select serial_prefix, serial_start_number, serial_end_number, serial_unit_count "
        "from marts.fct_units where warehouse_unit_id = 'UQ7'"
    ) == [("GS-2002-C", 1, 300, 300)]
    assert _ids(_search(quality_warehouse, serial="GS-2002-C150")) == ["UQ7"]


def test_finds_a_simulator_unit_by_a_serial_inside_its_block(sim_warehouse):
    [(unit_id, prefix, start, end)] = sim_warehouse.query(
        "select warehouse_unit_id, serial_prefix, serial_start_number, serial_end_number "
        "from marts.fct_units where serial_unit_count > 2 and project_record_status = 'current' "
        "order by warehouse_unit_id limit 1"
    )
    inside = f"{prefix}{(start + end) // 2}"
    rows = _search(sim_warehouse.database, serial=inside)
    assert unit_id in _ids(rows)
    assert all(r["doc_type"] == "unit" for r in rows)


def test_finds_a_simulator_project_by_its_name_in_other_case_and_without_accents(sim_warehouse):
    for project_id, name in sim_warehouse.query(
        "select warehouse_project_id, project_name from marts.dim_projects "
        "where project_record_status = 'current' and project_name is not null"
    ):
        mangled = name.swapcase()
        assert project_id in _ids(_search(sim_warehouse.database, mangled)), name


def test_cli_search_reads_the_serving_copy_and_prints_json(sim_warehouse, capsys):
    [(name,)] = sim_warehouse.query(
        "select project_name from marts.dim_projects where project_record_status = 'current' "
        "order by warehouse_project_id limit 1"
    )
    code = main(["search", name.upper(), "--format", "json", "--limit", "3",
                 "--database", str(sim_warehouse.database)])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["title"] == name and rows[0]["rank"] == 1 and len(rows) <= 3


def test_cli_search_falls_back_to_the_warehouse_and_needs_a_query(built_warehouse, capsys):
    # built_warehouse has no serving copy: the warehouse itself is read
    assert main(["search", "wind", "--database", str(built_warehouse)]) == 0
    assert "Wind Kenya" in capsys.readouterr().out
    assert main(["search", "--database", str(built_warehouse)]) == 1


def test_cli_search_says_when_there_is_nothing_to_search(tmp_path, capsys):
    assert main(["search", "x", "--database", str(tmp_path / "none.duckdb")]) == 1
    assert "cadt-mirror build" in capsys.readouterr().err
