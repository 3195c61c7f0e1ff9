"""`cadt-sim` command line: serve, activity, faults, truth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _serve(a: argparse.Namespace) -> int:
    from . import Simulator
    from .server import Server, bind, config

    sim = Simulator(seed=a.seed, scale=a.scale, api_key=a.api_key, host=a.host, port=a.port,
                    rate_limit=a.rate_limit, v2={"off": False, "on": True}.get(a.v2, a.v2),
                    v2_decimals=a.v2_decimals,
                    v2_delete_null_share=a.v2_delete_null_share)
    if a.faults:
        doc = json.loads(Path(a.faults).read_text())
        rules = doc["rules"] if isinstance(doc, dict) else doc
        sim.set_faults(rules, doc.get("seed", 0) if isinstance(doc, dict) else 0)
    sock = bind(a.host, a.port)
    port = sock.getsockname()[1]

    def ready() -> None:
        print(f"cadt-sim listening on http://{a.host}:{port}", flush=True)

    server = Server(config(sim.app, a.log_level), ready)
    try:
        server.run(sockets=[sock])
    finally:
        sim.state.stop_churn()
    return 0


def _rate_limit(spec: str) -> str:
    from .ratelimit import RatePolicy

    try:
        RatePolicy.parse(spec)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return spec


def _admin(url: str):
    from .admin import AdminClient

    return AdminClient(url)


def _activity(a: argparse.Namespace) -> int:
    with _admin(a.url) as c:
        print(json.dumps(c.activity(a.kind, a.count, a.org)))
    return 0


def _faults(a: argparse.Namespace) -> int:
    with _admin(a.url) as c:
        if a.clear:
            print(json.dumps(c.clear_faults()))
        else:
            doc = json.loads(Path(a.file).read_text())
            rules = doc["rules"] if isinstance(doc, dict) else doc
            seed = doc.get("seed", 0) if isinstance(doc, dict) else 0
            print(json.dumps(c.set_faults(rules, seed)))
    return 0


def _truth(a: argparse.Namespace) -> int:
    """v1 tables as <out>/<table>.ndjson, v2 tables as <out>/v2/<table>.ndjson."""
    from .schema import TRUTH_TABLES
    from .schema_v2 import TRUTH_TABLES as TRUTH_TABLES_V2

    out = Path(a.out)
    (out / "v2").mkdir(parents=True, exist_ok=True)
    jobs = [(f"/_sim/truth/{t}", out / f"{t}.ndjson") for t in TRUTH_TABLES]
    jobs += [(f"/_sim/truth/v2/{t}", out / "v2" / f"{t}.ndjson") for t in TRUTH_TABLES_V2]
    with _admin(a.url) as c:
        for route, path in jobs:
            with c.http.stream("GET", route) as r:
                r.raise_for_status()
                with path.open("wb") as fh:
                    for chunk in r.iter_bytes():
                        fh.write(chunk)
    print(f"wrote {len(TRUTH_TABLES)} v1 and {len(TRUTH_TABLES_V2)} v2 tables to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .activity import ALL_KINDS

    p = argparse.ArgumentParser(prog="cadt-sim", description="CADT v1 + v2 API simulator")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="build data and serve the CADT API")
    s.add_argument("--port", type=int, default=31310)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scale", type=float, default=1)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--api-key", default=None)
    s.add_argument("--faults", default=None, help="JSON file: {seed, rules:[...]} or [rules]")
    s.add_argument("--rate-limit", default=None, type=_rate_limit, metavar="N/WINDOW",
                   help="limit each client IP like newer CADT builds, e.g. 1000/15m or 50/2s")
    s.add_argument("--v2", choices=("off", "on", "empty"), default="off",
                   help="off: a 1.7.24 node; on: v2 routes, orgs with v1, v2 or both stores; "
                        "empty: v2 routes, no v2 store yet (see the upgrade activity)")
    s.add_argument("--v2-decimals", choices=("number", "string"), default="number",
                   help="v2 DECIMAL columns as JSON numbers (SQLite node) or strings (MySQL)")
    s.add_argument("--v2-delete-null-share", type=float, default=0.5, metavar="P",
                   help="share of v2 audit DELETE rows whose change is null")
    s.add_argument("--log-level", default="warning")
    s.set_defaults(func=_serve)
    s = sub.add_parser("activity", help="commit activity on a running simulator")
    s.add_argument("--url", required=True)
    s.add_argument("--kind", required=True, choices=ALL_KINDS)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--org", default=None)
    s.set_defaults(func=_activity)
    s = sub.add_parser("faults", help="set or clear fault rules")
    s.add_argument("--url", required=True)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--file")
    g.add_argument("--clear", action="store_true")
    s.set_defaults(func=_faults)
    s = sub.add_parser("truth", help="export ground truth as NDJSON files")
    s.add_argument("--url", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_truth)
    a = p.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
