"""Every example of the README's Marts section (SQL queries, `cadt-mirror search` and
`cadt-mirror changes` commands), run on the simulator warehouse: they work, they return rows,
and they give the marts' totals."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from pipelines.changes import SYNC_ID
from pipelines.cli import main

pytestmark = pytest.mark.xdist_group("dbt")

README = Path(__file__).resolve().parents[2] / "README.md"
# the simulator warehouse has no double-counting pair: that query may return nothing
MAY_BE_EMPTY = ("mart_double_counting_candidates",)


def _marts_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("## Marts\n"): text.index("\n## ", text.index("## Marts\n") + 1)]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _marts_section(), flags=re.S)


def _statements() -> list[str]:
    statements = [s.strip() for block in _blocks("sql") for s in block.split(";\n")]
    return [s.rstrip(";") for s in statements if s]


def _commands(name: str) -> list[list[str]]:
    lines = [line for block in _blocks("bash") for line in block.splitlines()]
    return [shlex.split(line, comments=True)[1:] for line in lines
            if line.startswith(f".venv/bin/cadt-mirror {name} ")]


def _search_commands() -> list[list[str]]:
    return _commands("search")


def test_the_readme_has_examples_for_every_mart_topic():
    sql = "\n".join(_statements())
    for name in ("dim_projects", "fct_retirements", "mart_article6_by_country",
                 "mart_data_quality", "mart_double_counting_candidates", "marts.search(",
                 "mart_changes"):
        assert name in sql, name
    assert len(_search_commands()) >= 3
    assert len(_commands("changes")) >= 3


def test_readme_queries_run_and_agree_with_the_marts(sim_warehouse):
    [(unit_id,)] = sim_warehouse.query(
        "select warehouse_unit_id from marts.fct_unit_status_events where event_type = 'split' "
        "order by warehouse_unit_id limit 1"
    )
    results = {}
    for statement in _statements():
        rows = sim_warehouse.query(statement.replace("<id>", unit_id))
        assert rows or any(name in statement for name in MAY_BE_EMPTY), statement
        results[statement] = rows

    per_registry, per_vintage = list(results.values())[:2]
    totals = sim_warehouse.query(
        "select sum(quantity_issued), sum(quantity_retired), sum(quantity_cancelled), "
        "sum(quantity_outstanding) from marts.fct_units"
    )[0]
    # the first query covers every credit: the totals of every mart
    assert tuple(sum(r[i] for r in per_registry) for i in range(1, 5)) == totals
    assert all(r[0] is not None for r in per_registry)  # no NULL registry in the simulator
    # the retirement query spreads over several groups (not one simulator month)
    assert len(per_vintage) > 1 and sum(r[1] for r in per_vintage) == totals[1]


@pytest.mark.parametrize("args", _search_commands(), ids=" ".join)
def test_readme_search_commands_find_something(sim_warehouse, args, capsys):
    assert main([*args, "--database", str(sim_warehouse.database)]) == 0
    out = capsys.readouterr().out
    if "--format" in args:
        assert json.loads(out), args
    else:
        assert "result(s) from" in out, args


@pytest.mark.parametrize("args", _commands("changes"), ids=" ".join)
def test_readme_changes_commands_list_changes(sim_warehouse, args, capsys):
    [(first_sync,)] = sim_warehouse.query(
        "select sync_id from cadt_mirror.sync_runs order by started_at limit 1")
    args = [first_sync if SYNC_ID.match(a) else a for a in args]  # the README's example id
    assert main([*args, "--database", str(sim_warehouse.database)]) == 0
    out = capsys.readouterr().out
    if "jsonl" in args:
        assert [json.loads(line) for line in out.splitlines()], args
    elif "csv" in args:
        assert out.startswith("sync_id,recorded_at,"), args
    else:
        assert "change(s)" in out and max(len(line) for line in out.splitlines()) <= 80, args
