"""Per-organization DataLayer ledger and the node's ingestion of it.

A commit is a list of key writes/deletes on one org's registry store. It becomes one generation
(new root hash, own confirmation time), is diffed against the current key/value state, ingested
into the node tables and written to the audit log exactly as `sync-registries.js` does (the
commit itself: :class:`~cadt_sim.datalayer.DataLayer`). One re-entrant lock makes the org map,
tables and audit change atomically w.r.t. requests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .datalayer import AuditEntry, Change, DataLayer, RegistryStore
from .schema import BY_PREFIX, ORG_COLUMNS, TableSpec
from .serialize import db_row_sqlite, dumps, loads, make_row, norm_date
from .store import NodeDB

if TYPE_CHECKING:
    from .ledger_v2 import V2Ledger

@dataclass
class Org(RegistryStore):
    orgUid: str
    name: str
    icon: str
    registryId: str
    orgHash: str
    dataModelVersionStoreId: str
    dataModelVersionStoreHash: str | None
    registryHash: str = ""
    last_comment: str = ""

    @property
    def uid(self) -> str:
        return self.orgUid

    def as_map_entry(self) -> dict:
        d = {
            "orgUid": self.orgUid, "orgHash": self.orgHash, "name": self.name, "icon": self.icon,
            "isHome": False, "subscribed": True, "synced": self.synced,
            "fileStoreSubscribed": "0", "registryId": self.registryId,
            "registryHash": self.registryHash, "sync_remaining": self.sync_remaining,
            "dataModelVersionStoreId": self.dataModelVersionStoreId,
            "dataModelVersionStoreHash": self.dataModelVersionStoreHash,
        }
        assert tuple(d) == ORG_COLUMNS
        return d


def render_audit(org: Org, e: AuditEntry) -> dict:
    """Audit row in served key order."""
    g = e.gen
    return {
        "id": e.id, "orgUid": org.orgUid, "registryId": org.registryId, "rootHash": g.root,
        "type": e.type, "change": e.change.decode() if e.change is not None else None,
        "table": e.table, "onchainConfirmationTimeStamp": g.ts, "author": g.author,
        "comment": g.comment, "createdAt": e.created, "updatedAt": e.created,
        "generation": g.index,
    }


class Ledger(DataLayer):
    """All orgs' DataLayer stores plus the node DB that ingests them; its lock and clock are
    also the v2 side's."""

    orgs: dict[str, Org]

    def __init__(self, seed: int = 0, start_s: int = 1672531200) -> None:
        super().__init__(threading.RLock(), random.Random(seed ^ 0x5EED), BY_PREFIX)
        self.db = NodeDB()
        self.clock_s = start_s
        self.version = 0  # bumps on any visible change (commits, resets, org changes)
        self.v2: V2Ledger | None = None  # the orgs' v2 stores, attached by activity_v2.build_v2

    # ---- DataLayer hooks --------------------------------------------------------------------
    def tick(self, seconds: int) -> int:
        self.clock_s += max(1, seconds)
        return self.clock_s

    def _changed(self, reshuffle: bool) -> None:
        if reshuffle:
            self.db.epoch += 1
        self.version += 1

    def _shown_root(self, org: Org) -> str:
        return org.registryHash

    def _show_root(self, org: Org, n: int) -> None:
        org.registryHash = org.gens[n].root

    def _meta_value(self, key: str, text: str) -> dict:
        return {key: text}

    def _generation_meta(self, org: Org, diff: list[Change], comment: str | None,
                         author: str | None) -> tuple[str, str]:
        """The commit's comment (else the org's last one) and author (else "")."""
        if comment is not None:
            org.last_comment = comment
        return org.last_comment, author if author is not None else ""

    def _apply_delete(self, org: Org, key: str, prefix: str, rid: str,
                      spec: TableSpec | None) -> bytes:
        """The change of a DELETE row: the deleted DB row (SQLite dates), else the value."""
        old_v = org.kv.pop(key)
        if spec is None:
            return old_v
        old = self.db[spec.name].delete(rid)
        return dumps(db_row_sqlite(old, spec)) if old is not None else old_v

    def _apply_write(self, org: Org, prefix: str, rid: str, spec: TableSpec | None, vb: bytes,
                     value: dict, now: str) -> None:
        if spec is not None:
            self._ingest(spec, rid, value, now)

    # ---- orgs -------------------------------------------------------------------------------
    def add_org(self, name: str, icon: str, metadata: dict | None = None) -> Org:
        """Subscribe a new org: generation 0 is CREATE REGISTRY."""
        with self.lock:
            org = Org(
                orgUid=self.hex64(), name=name, icon=icon, registryId=self.hex64(),
                orgHash="0x" + self.hex64(), dataModelVersionStoreId=self.hex64(),
                dataModelVersionStoreHash="0x" + self.hex64(), metadata=metadata or {},
            )
            return self._subscribe(org, org.registryId)

    def remove_org(self, org_uid: str) -> dict[str, int]:
        """Unsubscribe + delete local data: the org leaves the map, tables and audit."""
        with self.lock:
            self.orgs.pop(org_uid)
            changed = {name: t.drop_org(org_uid) for name, t in self.db.tables.items()}
            self._changed(reshuffle=True)
            return {k: v for k, v in changed.items() if v}

    # ---- ingestion --------------------------------------------------------------------------
    def _ingest(self, spec: TableSpec, pk: str, value: dict, now: str) -> None:
        t = self.db[spec.name]
        if value.get(spec.pk) != pk:
            value = {**value, spec.pk: pk}
        old = t.rows.get(pk)
        created = value.get("createdAt")
        if old is not None:
            o = loads(old.data)
            created = norm_date(created) if created else o["createdAt"]
            updated = o["updatedAt"]
            if "timeStaged" not in value:  # observed: re-ingest keeps timeStaged
                value = {**value, "timeStaged": o.get("timeStaged")}
        else:
            created = norm_date(created) if created else now
            updated = now
        t.put(make_row(spec, value, created, updated))

