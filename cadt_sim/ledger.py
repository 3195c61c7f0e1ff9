"""Per-organization DataLayer ledger and the node's ingestion of it.

A commit is a list of key writes/deletes on one org's registry store. It becomes one generation
(new root hash, own confirmation time), is diffed against the current key/value state, ingested
into the node tables and written to the audit log exactly as `sync-registries.js` does. One
re-entrant lock makes the org map, tables and audit change atomically w.r.t. requests.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .schema import BY_PREFIX, ORG_COLUMNS, TableSpec
from .serialize import db_row_sqlite, dumps, iso_ms, loads, make_row, norm_date
from .store import NodeDB

if TYPE_CHECKING:
    from .ledger_v2 import V2Ledger

Op = tuple[str, str | None, dict | None]  # (prefix, id, value or None=delete)


@dataclass
class Generation:
    index: int
    root: str
    ts: str  # onchainConfirmationTimeStamp, unix seconds as a string
    comment: str | None
    author: str | None


class AuditEntry(NamedTuple):
    """Compact audit row; rendered to the served dict on demand."""

    id: int
    gen: Generation
    type: str
    table: str | None
    change: bytes | None
    created: str


@dataclass
class Org:
    orgUid: str
    name: str
    icon: str
    registryId: str
    orgHash: str
    dataModelVersionStoreId: str
    dataModelVersionStoreHash: str | None
    metadata: dict = field(default_factory=dict)
    registryHash: str = ""
    generation: int = -1  # last processed generation index
    synced: bool = True
    sync_remaining: int = 0
    kv: dict[str, bytes] = field(default_factory=dict)
    gens: list[Generation] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    audit_version: int = 0
    audit_cache: dict[str, tuple[int, list[AuditEntry]]] = field(default_factory=dict)
    last_comment: str = ""

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


class Ledger:
    """All orgs' DataLayer stores plus the node DB that ingests them."""

    def __init__(self, seed: int = 0, start_s: int = 1672531200) -> None:
        self.lock = threading.RLock()
        self.db = NodeDB()
        self.orgs: dict[str, Org] = {}
        self.rng = random.Random(seed ^ 0x5EED)
        self.clock_s = start_s
        self.audit_seq = 0
        self.version = 0  # bumps on any visible change (commits, resets, org changes)
        self.v2: V2Ledger | None = None  # the orgs' v2 stores, attached by activity_v2.build_v2
        # orgs whose map entry keeps its registryHash while commits go on (seen on a real node
        # run in its simulator mode: the audit feed grew from 77 to 134 rows under one hash)
        self.frozen_roots: set[str] = set()

    # ---- ids & clock ------------------------------------------------------------------------
    def hex64(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def tick(self, seconds: int) -> int:
        self.clock_s += max(1, seconds)
        return self.clock_s

    def _ingest_iso(self) -> str:
        return iso_ms(self.clock_s * 1000 + 1000 + self.rng.randrange(1000))

    # ---- orgs -------------------------------------------------------------------------------
    def add_org(self, name: str, icon: str, metadata: dict | None = None) -> Org:
        """Subscribe a new org: generation 0 is CREATE REGISTRY."""
        with self.lock:
            org = Org(
                orgUid=self.hex64(), name=name, icon=icon, registryId=self.hex64(),
                orgHash="0x" + self.hex64(), dataModelVersionStoreId=self.hex64(),
                dataModelVersionStoreHash="0x" + self.hex64(), metadata=metadata or {},
            )
            self.orgs[org.orgUid] = org
            self.tick(60)
            root = "0x" + hashlib.sha256(org.registryId.encode()).hexdigest()
            gen = Generation(0, root, str(self.clock_s), None, None)
            org.gens.append(gen)
            self._audit(org, gen, "CREATE REGISTRY", None, None, self._ingest_iso())
            org.registryHash, org.generation = root, 0
            self.version += 1
            return org

    def remove_org(self, org_uid: str) -> dict[str, int]:
        """Unsubscribe + delete local data: the org leaves the map, tables and audit."""
        with self.lock:
            self.orgs.pop(org_uid)
            changed = {name: t.drop_org(org_uid) for name, t in self.db.tables.items()}
            self.db.epoch += 1
            self.version += 1
            return {k: v for k, v in changed.items() if v}

    # ---- commits ----------------------------------------------------------------------------
    def _audit(self, org: Org, gen: Generation, typ: str, table: str | None,
               change: bytes | None, created: str) -> None:
        self.audit_seq += 1
        org.audit.append(AuditEntry(self.audit_seq, gen, typ, table, change, created))
        org.audit_version += 1

    def commit(self, org: Org, ops: list[Op], comment: str | None = None,
               author: str | None = None, advance_s: int | None = None) -> dict[str, Any]:
        """One DataLayer commit -> one generation, ingested and audited atomically."""
        with self.lock:
            self.tick(advance_s if advance_s is not None else self.rng.randint(30, 600))
            now = self._ingest_iso()
            kv = org.kv
            diff: list[tuple[str, str, bytes | None, dict | None]] = []
            seen: set[str] = set()
            full = list(ops)
            if comment is not None:
                full.append(("comment", None, {"comment": comment}))
            if author is not None:
                full.append(("author", None, {"author": author}))
            for prefix, rid, value in full:
                key = prefix if rid is None else f"{prefix}|{rid}"
                if key in seen:
                    continue
                seen.add(key)
                if value is None:
                    if key in kv:
                        diff.append((key, "DELETE", None, None))
                else:
                    vb = dumps(value)
                    if kv.get(key) != vb:
                        diff.append((key, "INSERT", vb, value))
            h = hashlib.sha256(org.registryHash.encode())
            for key, typ, vb, _ in diff:
                h.update(f"{key}\x00{typ}\x00".encode())
                if vb is not None:
                    h.update(vb)
            root = "0x" + h.hexdigest()
            gen = Generation(len(org.gens), root, str(self.clock_s),
                             comment if comment is not None else org.last_comment,
                             author if author is not None else "")
            if comment is not None:
                org.last_comment = comment
            org.gens.append(gen)
            changed: dict[str, int] = {}
            if not diff:
                self._audit(org, gen, "NO CHANGE", None, None, now)
            for key, typ, vb, value in diff:
                prefix, _, rid = key.partition("|")
                spec = BY_PREFIX.get(prefix)
                change = vb
                if typ == "DELETE":
                    old_v = kv.pop(key)
                    if spec is not None:
                        old = self.db[spec.name].delete(rid)
                        change = dumps(db_row_sqlite(old, spec)) if old is not None else old_v
                    else:
                        change = old_v
                else:
                    kv[key] = vb  # type: ignore[assignment]
                    if spec is not None:
                        self._ingest(spec, rid, value, now)  # type: ignore[arg-type]
                if spec is not None:
                    changed[spec.name] = changed.get(spec.name, 0) + 1
                self._audit(org, gen, typ, prefix, change, now)
            if org.orgUid not in self.frozen_roots:
                org.registryHash = root
            org.generation = gen.index
            self.db.epoch += 1
            self.version += 1
            return {"orgUid": org.orgUid, "generation": gen.index, "changed": changed}

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

    # ---- audit reset ------------------------------------------------------------------------
    def audit_reset_begin(self, org: Org, k: int) -> list[AuditEntry]:
        """resetToGeneration(latest-k): drop audit rows with generation > n (transient state)."""
        with self.lock:
            n = max(0, org.generation - k)
            keep = [e for e in org.audit if e.gen.index <= n]
            dropped = [e for e in org.audit if e.gen.index > n]
            org.audit = keep
            org.audit_version += 1
            org.generation = n
            org.registryHash = org.gens[n].root
            org.synced = not dropped
            org.sync_remaining = len(org.gens) - 1 - n
            self.version += 1
            return dropped

    def audit_reset_finish(self, org: Org, dropped: list[AuditEntry]) -> None:
        """The node re-processes the dropped generations: same rows, NEW ids and times."""
        with self.lock:
            self.tick(5)
            now = self._ingest_iso()
            for e in dropped:
                self._audit(org, e.gen, e.type, e.table, e.change, now)
            org.generation = len(org.gens) - 1
            org.registryHash = org.gens[-1].root
            org.synced, org.sync_remaining = True, 0
            self.db.epoch += 1
            self.version += 1

    # ---- reads ------------------------------------------------------------------------------
    def org_map(self) -> dict[str, dict]:
        with self.lock:
            return {u: o.as_map_entry() for u, o in self.orgs.items()}

    def value(self, org: Org, prefix: str, rid: str) -> dict | None:
        vb = org.kv.get(f"{prefix}|{rid}")
        return loads(vb) if vb is not None else None
