"""`cadt-sim` command line: serve, activity, faults, truth."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _serve(a: argparse.Namespace) -> int:
    from . import Simulator
    from .server import Server, bind, config

    sim = Simulator(seed=a.seed, scale=a.scale, api_key=a.api_key, host=a.host, port=a.port)
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
    from .schema import TRUTH_TABLES

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with _admin(a.url) as c:
        for table in TRUTH_TABLES:
            with c.http.stream("GET", f"/_sim/truth/{table}") as r:
                r.raise_for_status()
                with (out / f"{table}.ndjson").open("wb") as fh:
                    for chunk in r.iter_bytes():
                        fh.write(chunk)
    print(f"wrote {len(TRUTH_TABLES)} tables to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .activity import KINDS

    p = argparse.ArgumentParser(prog="cadt-sim", description="CADT v1 API simulator")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="build data and serve the CADT API")
    s.add_argument("--port", type=int, default=31310)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scale", type=float, default=1)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--api-key", default=None)
    s.add_argument("--faults", default=None, help="JSON file: {seed, rules:[...]} or [rules]")
    s.add_argument("--log-level", default="warning")
    s.set_defaults(func=_serve)
    s = sub.add_parser("activity", help="commit activity on a running simulator")
    s.add_argument("--url", required=True)
    s.add_argument("--kind", required=True, choices=KINDS)
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
