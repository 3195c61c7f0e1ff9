"""Which CADT data models a node serves, and one sync per served model: the one place that
decides what `cadt-mirror sync`, `run`, `demo` and the Dagster sync step mirror.

A CADT build serves data model v1 under `/v1` and, from the v2 releases on, data model v2
under `/v2`, side by side; an organization can have a v1 store, a v2 store or both (an upgrade
keeps its orgUid). An organization is a v2 organization iff it appears in `GET
/v2/organizations` (shared `cadt-v2-facts.md` §3.3). So detection costs one request per model:

- `GET /v1/organizations` and `GET /v2/organizations` (both at once);
- a CADT `404` ("no such route": a build without v2, such as 1.7.24) or the `403` of a build
  whose v2 (or v1) API is switched off (`"V2 API is disabled"`) means the model is not served;
  a node that serves the v2 routes but lists no v2 organization yet still serves v2 (it has
  nothing in it, so its sync is cheap);
- any other failure (after the client's retries) is an error, as for any request of a sync:
  that model's sync is not started and its report is `failed` with the message (the node
  unreachable, a refused key, ...; the CLI exits 1, Dagster retries a transport failure); it is
  not recorded in `cadt_mirror.sync_runs`, as no sync started. Served models still run.

Then `run_sync` runs once per served model, in the order v1, v2, each into its own schema
(`cadt_v1`, `cadt_v2`) with its own run in `cadt_mirror.sync_runs` and its own `SyncReport`.
A model whose sync was interrupted (SIGINT/SIGTERM) or refused an argument ends the loop: the
next model is not started. With more than one model the serving copy is published once, after
the last one, when every model's sync succeeded and something moved (or there is no copy yet).

`models`: `v1`, `v2` or `all` (the default; `--data-model`, `CADT_DATA_MODELS`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines import crashpoints
from pipelines.config import SettingError
from pipelines.source.catalog import Catalog
from pipelines.source.catalog_v1 import V1
from pipelines.source.catalog_v2 import V2
from pipelines.source.client import CadtClient, CadtError
from pipelines.sync.engine import run_sync
from pipelines.sync.settings import Progress, SyncReport, SyncSettings
from pipelines.warehouse import state as st
from pipelines.warehouse.db import connect, database_path, ensure_mirror
from pipelines.warehouse.publish import publish_file, serving_path

CATALOGS: dict[str, Catalog] = {"v1": V1, "v2": V2}
MODELS = tuple(CATALOGS)  # the order they are synced in
CHOICES = (*MODELS, "all")
ENV = "CADT_DATA_MODELS"
DEFAULT = "all"


def models_setting(value: str | None = None, name: str = ENV) -> tuple[str, ...]:
    """The data models to mirror: `value` (e.g. `--data-model`), else $CADT_DATA_MODELS,
    else all; `v1`, `v2` or `all` (a bad value raises SettingError naming it)."""
    if value is None:
        value = os.environ.get(ENV) or DEFAULT
        name = ENV
    text = str(value).strip().lower()
    if text == "all":
        return MODELS
    if text in CATALOGS:
        return (text,)
    raise SettingError(f"{name}={value!r} is not allowed: use one of {', '.join(CHOICES)}")


# -- detection ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What `GET /<model>/organizations` said."""

    model: str
    served: bool | None  # None: no answer (the model's sync will meet and report the error)
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)  # orgUid -> entry
    error: str | None = None  # why not served, or the failure


@dataclass(frozen=True)
class Detected:
    probes: dict[str, Probe]

    @property
    def served(self) -> tuple[str, ...]:
        return tuple(m for m, p in self.probes.items() if p.served)

    def describe(self) -> str:
        """One line for the progress output: which models, how many organizations each."""
        parts = []
        for m, p in self.probes.items():
            if p.served:
                parts.append(f"{m} ({len(p.orgs)} organizations, schema "
                             f"{CATALOGS[m].schema})")
            elif p.served is False:
                parts.append(f"{m}: not served by this node")
            else:
                parts.append(f"{m}: no answer ({p.error})")
        return "data models: " + "; ".join(parts)


def not_served(error: CadtError, model: str) -> bool:
    """A CADT answer meaning the build has no routes of `model`: 404 "no such route", or
    403 "V<n> API is disabled"."""
    return error.status == 404 or (
        error.status == 403 and f"{model.upper()} API is disabled" in str(error))


async def _probe(client: CadtClient, model: str) -> Probe:
    cat = CATALOGS[model]
    path = cat.table("organizations").endpoint or f"/{model}/organizations"
    try:
        resp = await client.get(path)
    except CadtError as e:
        if not_served(e, model):
            return Probe(model, False, error=str(e))
        return Probe(model, None, error=str(e))
    data = resp.data
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]  # (older docs' wrapper)
    if not isinstance(data, dict):
        return Probe(model, None, error=f"{path}: expected an object keyed by orgUid, got "
                                        f"{type(data).__name__}")
    key = cat.spelling.org_uid
    return Probe(model, True, {str(o.get(key) or uid): o for uid, o in data.items()
                               if isinstance(o, dict)})


async def detect_async(settings: SyncSettings, models: Iterable[str] = MODELS) -> Detected:
    """One request per model, at once, with the sync's client settings."""
    async with CadtClient(settings.api_url, settings.api_key, concurrency=settings.concurrency,
                          timeout=settings.timeout, max_retries=settings.max_retries,
                          backoff_base=settings.backoff_base) as client:
        found = await asyncio.gather(*(_probe(client, m) for m in models))
    return Detected({p.model: p for p in found})


def detect(settings: SyncSettings, models: Iterable[str] = MODELS) -> Detected:
    return asyncio.run(detect_async(settings, tuple(models)))


# -- one sync per served model --------------------------------------------------------------------


@dataclass
class DataModelsRun:
    """The outcome of `sync_data_models`: one SyncReport per model that ran, in order."""

    requested: tuple[str, ...]
    detected: Detected | None = None
    reports: dict[str, SyncReport] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # model -> why it did not run
    published_to: str | None = None

    @property
    def interrupted(self) -> SyncReport | None:
        return next((r for r in self.reports.values() if r.status == "interrupted"), None)

    @property
    def bad_input(self) -> bool:
        return any(r.bad_input for r in self.reports.values())

    @property
    def status(self) -> str:
        """interrupted, failed (every model failed), partial (some models or organizations
        failed), success."""
        statuses = [r.status for r in self.reports.values()]
        if "interrupted" in statuses:
            return "interrupted"
        if not statuses or all(s == "failed" for s in statuses):
            return "failed"
        return "success" if all(s == "success" for s in statuses) else "partial"

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.reports.values())

    def report(self, model: str = "v1") -> SyncReport | None:
        return self.reports.get(model)


def _check_warehouse(settings: SyncSettings) -> None:
    """The warehouse checks a sync makes before its first request (a bad path, a file that
    is not DuckDB or not a mirror: one sentence, exit 2), made before the probes too."""
    con = connect(settings.database)
    try:
        ensure_mirror(con, database_path(settings.database))
    finally:
        con.close()


def _failed(settings: SyncSettings, error: str) -> SyncReport:
    """The report of a sync that could not start: the node did not answer the probe."""
    now = datetime.now(UTC)
    return SyncReport(sync_id=f"{now:%Y%m%dT%H%M%SZ}-probe", api_url=st.public_url(
        settings.api_url), started_at=now, finished_at=now, status="failed", error=error)


def _moved(report: SyncReport) -> bool:
    return any(o.mode != "unchanged" for o in report.orgs) or report.pick_lists != "unchanged"


def _orgs_for(model: str, wanted: tuple[str, ...], detected: Detected,
              first: str) -> tuple[str, ...]:
    """The `--org` values that concern `model`: those its organizations map lists; an org no
    map lists goes to the first model run (whose sync removes it if the mirror held it, or
    says it is not an organization of the node)."""
    listed = {m: set(p.orgs) for m, p in detected.probes.items() if p.served}
    anywhere = set().union(*listed.values()) if listed else set()
    return tuple(o for o in wanted if o in listed.get(model, set())
                 or (model == first and o not in anywhere))


def sync_data_models(
    settings: SyncSettings,
    models: Iterable[str] | str | None = None,
    progress: Progress | None = None,
    *,
    handle_signals: bool = False,
    on_start: Callable[[str, Detected | None], None] | None = None,
    on_report: Callable[[str, SyncReport], None] | None = None,
    detected: Detected | None = None,
) -> DataModelsRun:
    """Detect the data models the node serves and sync each requested one that it serves.

    `models`: names, or `v1` / `v2` / `all` text, or None for $CADT_DATA_MODELS (default all).
    `on_start(model, detected)` before each model's sync (the CLI prints which one), and
    `on_report(model, report)` after it. Raises SettingError when a model asked for by name
    is not served (one sentence)."""
    if models is None or isinstance(models, str):
        requested = models_setting(models, "--data-model") if models else models_setting()
    else:
        requested = tuple(m for m in MODELS if m in set(models))
    run = DataModelsRun(requested)
    _check_warehouse(settings)
    if detected is None:
        detected = detect(settings, requested)
    run.detected = detected
    for m in requested:
        if detected.probes[m].served is False:
            run.skipped[m] = "not served by this node"
    for m in requested:  # no answer from the node: that model's sync fails, as a sync does
        if detected.probes[m].served is None:
            run.reports[m] = _failed(settings, detected.probes[m].error or "no answer")
            if on_report is not None:
                on_report(m, run.reports[m])
    todo = [m for m in requested if detected.probes[m].served]
    if not todo and run.reports:
        return run
    if not todo:
        only = requested[0] if len(requested) == 1 else None
        raise SettingError(
            f"data model {only or 'v1 or v2'} is not served by the CADT node at "
            f"{st.public_url(settings.api_url)} ("
            + "; ".join(p.error or "" for p in detected.probes.values())
            + ")" + ("; mirror the data models it serves with --data-model all" if only else ""))
    several = len(todo) > 1
    for i, model in enumerate(todo):
        if i:
            crashpoints.hit("between_models")
        s = settings
        if settings.orgs:
            orgs = _orgs_for(model, settings.orgs, detected, todo[0])
            if not orgs:
                run.skipped[model] = "no --org of this data model"
                continue
            s = dataclasses.replace(s, orgs=orgs)
        if several:
            s = dataclasses.replace(s, publish=False)  # published once, after the last model
        if on_start is not None:
            on_start(model, detected)
        report = run_sync(s, progress, handle_signals=handle_signals, catalog=CATALOGS[model])
        run.reports[model] = report
        if on_report is not None:
            on_report(model, report)
        if report.status == "interrupted" or report.bad_input:
            for rest in todo[i + 1:]:
                run.skipped[rest] = f"not started: the {model} sync was " + (
                    "interrupted" if report.status == "interrupted" else "refused")
            break
    reports = list(run.reports.values())
    if (len(reports) > 1 and settings.publish and all(r.status == "success" for r in reports)):
        serving = settings.serving or serving_path(settings.database)
        if any(map(_moved, reports)) or not serving.exists():
            target = publish_file(settings.database, serving, by="cadt-mirror sync").path
            run.published_to = str(target)
            reports[-1].published_to = str(target)
    elif len(reports) == 1:
        run.published_to = reports[0].published_to
    return run
