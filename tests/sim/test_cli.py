"""The console script: `cadt-sim serve` prints its ready line; activity/faults/truth talk to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "cadt_sim.cli"]


def test_serve_activity_faults_truth(tmp_path: Path) -> None:
    proc = subprocess.Popen([*CLI, "serve", "--port", "0", "--seed", "5", "--scale", "1"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert line.startswith("cadt-sim listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(url + "/v1/units", params={"page": 1, "limit": 1}).status_code == 200
        out = subprocess.run([*CLI, "activity", "--url", url, "--kind", "retire", "--count", "2"],
                             capture_output=True, text=True, check=True).stdout
        assert json.loads(out)["changed"] == {"units": 2}
        rules = tmp_path / "f.json"
        rules.write_text(json.dumps({"seed": 1, "rules": [{"route": "/v1/units",
                                                           "kind": "429", "retry_after": 3}]}))
        subprocess.run([*CLI, "faults", "--url", url, "--file", str(rules)], check=True,
                       capture_output=True)
        assert httpx.get(url + "/v1/units?page=1&limit=1").status_code == 429
        subprocess.run([*CLI, "faults", "--url", url, "--clear"], check=True, capture_output=True)
        subprocess.run([*CLI, "truth", "--url", url, "--out", str(tmp_path / "t")], check=True,
                       capture_output=True)
        units = (tmp_path / "t" / "units.ndjson").read_text().splitlines()
        assert units and json.loads(units[0])["warehouseUnitId"]
        assert (tmp_path / "t" / "audit.ndjson").stat().st_size > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
