"""The /_sim admin API (never under /v1, never faulted, never counted) and its HTTP client."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from .http import Response, json_response
from .schema import TRUTH_TABLES
from .schema_v2 import TRUTH_TABLES as TRUTH_TABLES_V2
from .truth import ndjson, snapshot, snapshot_v2


async def handle_admin(state, method: str, path: str, scope: dict, body: bytes
                       ) -> Response:
    try:
        doc: Any = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return json_response({"error": "body must be JSON"}, 400)
    led = state.ledger
    try:
        if method == "GET" and path == "/_sim/info":
            with led.lock:
                tables = {n: len(t.rows) for n, t in led.db.tables.items()}
                orgs = {u: {"name": o.name, "generation": o.generation,
                            "generations": len(o.gens), "audit": len(o.audit)}
                        for u, o in led.orgs.items()}
            return json_response({"tables": tables, "orgs": orgs,
                                  "faults": state.faults.describe(),
                                  "churn": state._churn_thread is not None,
                                  "api_key": state.api_key is not None,
                                  **state.rate_limit_dict(),
                                  "rejections": len(state.rejections)})
        if method == "POST" and path == "/_sim/activity":
            res = state.activity.run(doc.get("kind", ""), int(doc.get("count", 1)),
                                     doc.get("org"))
            return json_response(res)
        if method == "POST" and path == "/_sim/random_activity":
            return json_response(state.activity.random(int(doc.get("rng_seed", 0)),
                                                       int(doc.get("rounds", 1)),
                                                       doc.get("kinds")))
        if method == "POST" and path == "/_sim/faults":
            state.faults.set(doc.get("rules", []), int(doc.get("seed", 0)))
            return json_response({"rules": state.faults.describe()})
        if method == "DELETE" and path == "/_sim/faults":
            state.faults.clear()
            return json_response({"rules": []})
        if method == "GET" and path.startswith("/_sim/truth/"):
            table = path.rsplit("/", 1)[1]
            v2 = path.startswith("/_sim/truth/v2/")  # /_sim/truth/v2/<v2 table>
            names = TRUTH_TABLES_V2 if v2 else TRUTH_TABLES
            if table not in names:
                return json_response({"error": f"unknown table; one of {names}"}, 404)
            rows = snapshot_v2(led, table) if v2 else snapshot(led, table)

            async def gen():
                for chunk in ndjson(rows):
                    yield chunk

            return Response(200, b"", b"application/x-ndjson", etag=False, stream=gen())
        if method == "GET" and path == "/_sim/stats":
            return json_response(state.stats_dict())
        if method == "POST" and path == "/_sim/stats/reset":
            state.reset_stats()
            return json_response(state.stats_dict())
        if method == "GET" and path == "/_sim/rejections":
            return json_response(state.rejections.rows())
        if method == "DELETE" and path == "/_sim/rejections":
            state.rejections.clear()
            return json_response([])
        if method == "GET" and path == "/_sim/rate_limit":
            return json_response(state.rate_limit_dict())
        if method == "POST" and path == "/_sim/rate_limit":
            state.set_rate_limit(doc.get("rate_limit"))
            return json_response(state.rate_limit_dict())
        if method == "DELETE" and path == "/_sim/rate_limit":
            state.set_rate_limit(None)
            return json_response(state.rate_limit_dict())
        if method == "POST" and path == "/_sim/churn":
            state.start_churn(int(doc.get("interval_ms", 50)), doc.get("kinds"),
                              int(doc.get("seed", 0)))
            return json_response({"churn": True})
        if method == "DELETE" and path == "/_sim/churn":
            state.stop_churn()
            return json_response({"churn": False})
    except (ValueError, KeyError) as e:
        return json_response({"error": str(e)}, 400)
    return json_response({"error": f"no admin route {method} {path}"}, 404)


class AdminClient:
    """Drive a simulator running in another process through /_sim (same verbs as Simulator)."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ok(self, r: httpx.Response) -> Any:
        r.raise_for_status()
        return r.json()

    def info(self) -> dict:
        return self._ok(self.http.get("/_sim/info"))

    def activity(self, kind: str, count: int = 1, org: str | None = None) -> dict:
        return self._ok(self.http.post("/_sim/activity",
                                       json={"kind": kind, "count": count, "org": org}))

    def random_activity(self, rng_seed: int, rounds: int = 1, kinds: list[str] | None = None
                        ) -> list[dict]:
        return self._ok(self.http.post("/_sim/random_activity", json={
            "rng_seed": rng_seed, "rounds": rounds, "kinds": kinds}))

    def set_faults(self, rules: list[dict], seed: int = 0) -> dict:
        return self._ok(self.http.post("/_sim/faults", json={"seed": seed, "rules": rules}))

    def clear_faults(self) -> dict:
        return self._ok(self.http.delete("/_sim/faults"))

    def truth(self, table: str, model: str = "v1") -> list[dict]:
        r = self.http.get(f"/_sim/truth/v2/{table}" if model == "v2" else f"/_sim/truth/{table}")
        r.raise_for_status()
        return [orjson.loads(line) for line in r.content.splitlines() if line]

    def stats(self) -> dict:
        return self._ok(self.http.get("/_sim/stats"))

    def reset_stats(self) -> dict:
        return self._ok(self.http.post("/_sim/stats/reset"))

    def rejections(self) -> list[dict]:
        """Every 4xx answered to a CADT request since the last clear (see Simulator)."""
        return self._ok(self.http.get("/_sim/rejections"))

    def clear_rejections(self) -> None:
        self._ok(self.http.delete("/_sim/rejections"))

    def set_rate_limit(self, spec: str | None) -> dict:
        """``"1000/15m"``, ``"50/2s"``; None removes the limit. Returns the new setting."""
        return self._ok(self.http.post("/_sim/rate_limit", json={"rate_limit": spec}))

    def rate_limit(self) -> dict:
        return self._ok(self.http.get("/_sim/rate_limit"))

    def start_churn(self, interval_ms: int = 50, kinds: list[str] | None = None) -> dict:
        return self._ok(self.http.post("/_sim/churn",
                                       json={"interval_ms": interval_ms, "kinds": kinds}))

    def stop_churn(self) -> dict:
        return self._ok(self.http.delete("/_sim/churn"))
