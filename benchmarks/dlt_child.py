"""Load the simulator with dlt's `rest_api` source (run in its own process: peak RSS is measured).

Configured as a competent dlt user would: page-number paginator driven by `pageCount`, page size
1000, the same endpoints (projects, units, and the per-org audit feed as a child of
organizations), a stable order, DuckDB destination, `write_disposition=merge` on the primary
keys. `--parquet` selects the parquet loader files (dlt's fastest setting); `--incremental`
adds a cursor on `updatedAt` (`filter=updatedAt:<last>:gt`, the only incremental filter CADT
v1 offers); without it every run re-reads everything and merges.

    python -m benchmarks.dlt_child --api URL --dir DIR [--parquet] [--incremental]

Prints one JSON line: {"seconds", "rows": {table: n}}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any


def source_config(api: str, incremental: bool, audit: bool) -> dict[str, Any]:
    paginator = {"type": "page_number", "base_page": 1, "page_param": "page",
                 "total_path": "pageCount"}

    def listing(name: str, pk: str) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": 1000, "order": f"{pk}:ASC"}
        endpoint: dict[str, Any] = {"path": name, "params": params, "data_selector": "data",
                                    "paginator": paginator}
        if incremental:
            # CADT v1's only change filter; `updatedAt` is the node's ingest time
            params["order"] = "updatedAt:ASC"
            params["filter"] = "updatedAt:{incremental.start_value}:gt"
            endpoint["incremental"] = {"cursor_path": "updatedAt",
                                       "initial_value": "1970-01-01T00:00:00.000Z"}
        return {"name": name, "primary_key": pk, "write_disposition": "merge",
                "endpoint": endpoint}

    resources: list[Any] = [listing("projects", "warehouseProjectId"),
                            listing("units", "warehouseUnitId")]
    if audit:
        resources += [
            {"name": "organizations", "write_disposition": "replace", "primary_key": "orgUid",
             "endpoint": {"path": "organizations", "data_selector": "$.*",
                          "paginator": "single_page"}},
            {"name": "audit", "primary_key": "id", "write_disposition": "merge",
             "endpoint": {"path": "audit", "data_selector": "data", "paginator": paginator,
                          "params": {"orgUid": "{resources.organizations.orgUid}",
                                     "limit": 1000, "order": "ASC"}}},
        ]
    return {"client": {"base_url": api.rstrip("/") + "/"}, "resources": resources}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--parquet", action="store_true")
    ap.add_argument("--incremental", action="store_true")
    ap.add_argument("--no-audit", action="store_true")
    ap.add_argument("--name", default="cadt_dlt")
    a = ap.parse_args(argv)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.rest_api import rest_api_source

    t0 = time.perf_counter()
    src = rest_api_source(source_config(a.api, a.incremental, not a.no_audit))
    pipe = dlt.pipeline(pipeline_name=a.name, pipelines_dir=os.path.join(a.dir, "pipelines"),
                        destination=dlt.destinations.duckdb(os.path.join(a.dir, "dlt.duckdb")),
                        dataset_name="cadt")
    kw = {"loader_file_format": "parquet"} if a.parquet else {}
    pipe.run(src, **kw)
    seconds = time.perf_counter() - t0
    rows = {}
    with pipe.sql_client() as c:
        for t in ("projects", "units", "audit"):
            try:
                rows[t] = c.execute_sql(f"SELECT count(*) FROM {t}")[0][0]
            except Exception:
                rows[t] = None
    print(json.dumps({"seconds": seconds, "rows": rows}), flush=True)


if __name__ == "__main__":
    main()
