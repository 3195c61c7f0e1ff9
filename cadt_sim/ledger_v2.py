"""Each organization's v2 registry store and the node's v2 ingestion of it.

An organization can have a v1 store (``Ledger.orgs``), a v2 store (``V2Ledger.orgs``) or both:
same orgUid, own registry ids, one data-model-version singleton (facts §3.3). A v2 commit is one
generation of the v2 store, diffed against its key/value state, ingested into the v2 tables and
written to the v2 audit log as `src/tasks/sync-registries-v2.js` does: snake_case rows, DELETEs
before INSERTs, ``comment``/``author`` only from this generation's diff, and DELETE rows whose
``change`` is null when DataLayer sent no value. Clock and lock are the v1 ledger's.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .ledger import Generation, Ledger, Org
from .schema_v2 import BY_NAME, ORG_COLUMNS, TABLES, V2Table
from .serialize import dumps, iso_ms, loads, norm_date
from .store_v2 import V2Rows, make_row, value_to_attributes

#: (prefix, id, value): a dict (snake_case, dumped), raw bytes (written as is), None = delete
OpV2 = tuple[str, str | None, dict | bytes | None]


class AuditRowV2(NamedTuple):
    id: int
    gen: Generation
    type: str
    table: str | None
    change: bytes | None
    created: str


@dataclass
class OrgV2:
    org_uid: str
    org_hash: str
    name: str
    icon: str
    registry_id: str
    dmv_store_id: str
    dmv_store_hash: str | None
    file_store_id: str | None = None
    metadata: dict = field(default_factory=dict)
    registry_hash: str | None = None  # set once a generation after CREATE REGISTRY is synced
    generation: int = -1
    synced: bool = True
    sync_remaining: int = 0
    kv: dict[str, bytes] = field(default_factory=dict)
    keys: dict[str, dict[str, None]] = field(default_factory=dict)  # prefix -> live ids
    gens: list[Generation] = field(default_factory=list)
    audit: list[AuditRowV2] = field(default_factory=list)
    audit_version: int = 0
    audit_cache: dict[str, tuple[tuple[int, int], list[AuditRowV2]]] = field(
        default_factory=dict)  # direction -> ((audit_version, epoch), sorted rows)

    def as_map_entry(self) -> dict:
        """``OrganizationsV2.getOrgsMap()`` entry: snake_case, an observer's view."""
        d = {"org_uid": self.org_uid, "org_hash": self.org_hash, "name": self.name,
             "icon": self.icon, "is_home": False, "subscribed": True, "synced": self.synced,
             "file_store_subscribed": self.file_store_id, "registry_id": self.registry_id,
             "registry_hash": self.registry_hash, "sync_remaining": self.sync_remaining,
             "data_model_version_store_id": self.dmv_store_id,
             "data_model_version_store_hash": self.dmv_store_hash}
        assert tuple(d) == ORG_COLUMNS
        return d


def render_audit(org: OrgV2, e: AuditRowV2) -> dict:
    """A raw v2 audit row (``raw: true``, timestamps normalized to ISO)."""
    g = e.gen
    return {"id": e.id, "org_uid": org.org_uid, "registry_id": org.registry_id,
            "root_hash": g.root, "type": e.type,
            "change": e.change.decode() if e.change is not None else None, "table": e.table,
            "onchain_confirmation_time_stamp": g.ts, "author": g.author, "comment": g.comment,
            "generation": g.index, "created_at": e.created, "updated_at": e.created}


def _meta_value(raw: bytes | None, key: str) -> str:
    """``_.get(tryParseJSON(value), key, '')``: a comment with a quote is not JSON -> ''."""
    if raw is None:
        return ""
    try:
        doc = loads(raw)
    except Exception:
        return ""
    v = doc.get(key, "") if isinstance(doc, dict) else ""
    return v if isinstance(v, str) else dumps(v).decode()


class V2Ledger:
    """Every org's v2 registry store plus the v2 node tables and audit log."""

    def __init__(self, base: Ledger, seed: int = 0, decimals: str = "number",
                 delete_null_share: float = 0.5) -> None:
        if decimals not in ("number", "string"):
            raise ValueError("v2_decimals must be 'number' (SQLite node) or 'string' (MySQL)")
        self.base = base
        self.lock = base.lock
        self.decimals = decimals
        self.delete_null_share = delete_null_share
        self.db: dict[str, V2Rows] = {t.name: V2Rows(t) for t in TABLES}
        self.orgs: dict[str, OrgV2] = {}
        self.rng = random.Random(seed ^ 0x5EED2)
        self.audit_seq = 0
        self.epoch = 0  # bumped per v2 commit: salts the tie order of non-total list orders

    def __getitem__(self, name: str) -> V2Rows:
        return self.db[name]

    def hex64(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def _now(self) -> str:
        return iso_ms(self.base.clock_s * 1000 + 1000 + self.rng.randrange(1000))

    def _changed(self) -> None:
        self.epoch += 1
        self.base.version += 1

    def begin_bulk(self) -> None:
        for t in self.db.values():
            t.begin_bulk()

    # ---- orgs -------------------------------------------------------------------------------
    def add_org(self, name: str, icon: str, metadata: dict | None = None,
                v1: Org | None = None, upgrade: bool = True) -> OrgV2:
        """Subscribe an org's v2 store (generation 0 = CREATE REGISTRY). With ``v1`` the store
        belongs to that org: same orgUid and singleton, whose hash moves on an ``upgrade`` (the
        singleton gained its ``v2`` key)."""
        with self.lock:
            if v1 is not None:
                if upgrade:
                    v1.dataModelVersionStoreHash = "0x" + self.hex64()
                org = OrgV2(v1.orgUid, v1.orgHash, v1.name, v1.icon, self.hex64(),
                            v1.dataModelVersionStoreId, v1.dataModelVersionStoreHash,
                            metadata=dict(v1.metadata))
            else:
                org = OrgV2(self.hex64(), "0x" + self.hex64(), name, icon, self.hex64(),
                            self.hex64(), "0x" + self.hex64(), metadata=metadata or {})
            if self.rng.random() < 0.5:
                org.file_store_id = self.hex64()
            if org.org_uid in self.orgs:
                raise ValueError(f"{org.org_uid} already has a v2 store")
            self.orgs[org.org_uid] = org
            self.base.tick(60)
            root = "0x" + hashlib.sha256(org.registry_id.encode()).hexdigest()
            gen = Generation(0, root, str(self.base.clock_s), None, None)
            org.gens.append(gen)
            self._audit(org, gen, "CREATE REGISTRY", None, None, self._now())
            org.generation = 0
            self._changed()
            return org

    # ---- commits ----------------------------------------------------------------------------
    def _audit(self, org: OrgV2, gen: Generation, typ: str, table: str | None,
               change: bytes | None, created: str) -> None:
        self.audit_seq += 1
        org.audit.append(AuditRowV2(self.audit_seq, gen, typ, table, change, created))
        org.audit_version += 1

    def commit(self, org: OrgV2, ops: list[OpV2], comment: str | None = None,
               author: str | None = None, advance_s: int | None = None) -> dict[str, Any]:
        """One v2 DataLayer commit -> one generation, ingested and audited atomically."""
        with self.lock:
            self.base.tick(advance_s if advance_s is not None else self.rng.randint(30, 600))
            now = self._now()
            kv = org.kv
            full = list(ops)
            # the writer's keyValueToChangeList: `{"comment": "${comment}"}`, not JSON.stringify
            if comment is not None:
                full.append(("comment", None, f'{{"comment": "{comment}"}}'.encode()))
            if author is not None:
                full.append(("author", None, f'{{"author": "{author}"}}'.encode()))
            deletes: list[tuple[str, bytes]] = []
            inserts: list[tuple[str, bytes]] = []
            seen: set[str] = set()
            for prefix, rid, value in full:
                key = prefix if rid is None else f"{prefix}|{rid}"
                if key in seen:
                    continue
                seen.add(key)
                if value is None:
                    if key in kv:
                        deletes.append((key, kv[key]))
                else:
                    vb = value if isinstance(value, bytes) else dumps(value)
                    if kv.get(key) != vb:
                        inserts.append((key, vb))
            h = hashlib.sha256((org.registry_hash or org.gens[-1].root).encode())
            for key, _old in deletes:
                h.update(f"{key}\x00DELETE\x00".encode())
            for key, vb in inserts:
                h.update(f"{key}\x00INSERT\x00".encode() + vb)
            root = "0x" + h.hexdigest()
            ins = dict(inserts)
            gen = Generation(len(org.gens), root, str(self.base.clock_s),
                             _meta_value(ins.get("comment"), "comment"),
                             _meta_value(ins.get("author"), "author"))
            org.gens.append(gen)
            changed: dict[str, int] = {}
            if not deletes and not inserts:
                self._audit(org, gen, "NO CHANGE", None, None, now)
            for key, old in deletes:  # optimizeAndSortKvDiff: DELETEs first
                prefix, _, rid = key.partition("|")
                del kv[key]
                org.keys.get(prefix, {}).pop(rid, None)
                spec = BY_NAME.get(prefix)
                if spec is not None:
                    self.db[prefix].delete(rid)
                    changed[prefix] = changed.get(prefix, 0) + 1
                change = None if self.rng.random() < self.delete_null_share else old
                self._audit(org, gen, "DELETE", prefix, change, now)
            for key, vb in inserts:
                prefix, _, rid = key.partition("|")
                kv[key] = vb
                if rid:
                    org.keys.setdefault(prefix, {})[rid] = None
                spec = BY_NAME.get(prefix)
                if spec is not None:
                    self._ingest(spec, rid, loads(vb), now)
                    changed[prefix] = changed.get(prefix, 0) + 1
                self._audit(org, gen, "INSERT", prefix, vb, now)
            org.registry_hash, org.generation = root, gen.index
            self._changed()
            return {"orgUid": org.org_uid, "generation": gen.index, "changed": changed,
                    "model": "v2"}

    def _ingest(self, spec: V2Table, pk: str, value: dict, now: str) -> None:
        """Upsert by primary key (no cascade): updated_at is the node's first ingest time;
        created_at comes from the record if its model has that attribute, else stays."""
        t = self.db[spec.name]
        attrs = value_to_attributes(spec.name, value)
        old = t.rows.get(pk)
        old_row = loads(old.data) if old is not None else None
        created = attrs.get("createdAt") if spec.created == "createdAt" else None
        if created is not None:
            created = norm_date(created)
        elif old_row is not None:
            created = old_row[spec.created]
        else:
            created = now
        updated = old_row[spec.updated] if old_row is not None else now
        t.put(make_row(spec, pk, attrs, created, updated, self.decimals))

    # ---- audit reset ------------------------------------------------------------------------
    def audit_reset_begin(self, org: OrgV2, k: int) -> list[AuditRowV2]:
        """resetToGeneration(latest-k): audit rows with generation > n go (transient state)."""
        with self.lock:
            n = max(0, org.generation - k)
            dropped = [e for e in org.audit if e.gen.index > n]
            org.audit = [e for e in org.audit if e.gen.index <= n]
            org.audit_version += 1
            org.generation = n
            org.registry_hash = org.gens[n].root if n > 0 else None
            org.synced = not dropped
            org.sync_remaining = len(org.gens) - 1 - n
            self._changed()
            return dropped

    def audit_reset_finish(self, org: OrgV2, dropped: list[AuditRowV2]) -> None:
        """The node re-processes the dropped generations: same rows, NEW ids and times."""
        with self.lock:
            self.base.tick(5)
            now = self._now()
            for e in dropped:
                self._audit(org, e.gen, e.type, e.table, e.change, now)
            org.generation = len(org.gens) - 1
            org.registry_hash = org.gens[-1].root if org.generation > 0 else None
            org.synced, org.sync_remaining = True, 0
            self._changed()

    # ---- reads ------------------------------------------------------------------------------
    def org_map(self) -> dict[str, dict]:
        with self.lock:
            return {u: o.as_map_entry() for u, o in self.orgs.items()}

    def value(self, org: OrgV2, prefix: str, rid: str) -> dict | None:
        vb = org.kv.get(f"{prefix}|{rid}")
        return loads(vb) if vb is not None else None

    def ids(self, org: OrgV2, prefix: str) -> list[str]:
        """Live record ids of one table in an org's store (DataLayer key order)."""
        return list(org.keys.get(prefix, ()))
