"""Sync runs: bring the warehouse to the source's current state, org by org."""

from pipelines.sync.engine import run_sync, sync_async
from pipelines.sync.settings import OrgReport, Progress, SyncReport, SyncSettings

__all__ = ["OrgReport", "Progress", "SyncReport", "SyncSettings", "run_sync", "sync_async"]
