"""Each organization's v2 registry store and the node's v2 ingestion of it.

An organization can have a v1 store (``Ledger.orgs``), a v2 store (``V2Ledger.orgs``) or both:
same orgUid, own registry ids, one data-model-version singleton (facts §3.3). A v2 commit is one
generation of the v2 store, diffed against its key/value state, ingested into the v2 tables and
written to the v2 audit log as `src/tasks/sync-registries-v2.js` does: snake_case rows, DELETEs
before INSERTs, ``comment``/``author`` only from this generation's diff, and DELETE rows whose
``change`` is null when DataLayer sent no value. Clock and lock are the v1 ledger's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .datalayer import AuditEntry, Change, DataLayer, RegistryStore
from .ledger import Ledger, Org
from .schema_v2 import BY_NAME, ORG_COLUMNS, TABLES, V2Table
from .serialize import dumps, loads, norm_date
from .store_v2 import V2Rows, make_row, value_to_attributes


@dataclass
class OrgV2(RegistryStore):
    org_uid: str
    org_hash: str
    name: str
    icon: str
    registry_id: str
    dmv_store_id: str
    dmv_store_hash: str | None
    file_store_id: str | None = None
    registry_hash: str | None = None  # set once a generation after CREATE REGISTRY is synced
    keys: dict[str, dict[str, None]] = field(default_factory=dict)  # prefix -> live ids

    @property
    def uid(self) -> str:
        return self.org_uid

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


def render_audit(org: OrgV2, e: AuditEntry) -> dict:
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


class V2Ledger(DataLayer):
    """Every org's v2 registry store plus the v2 node tables and audit log."""

    MODEL = "v2"
    orgs: dict[str, OrgV2]

    def __init__(self, base: Ledger, seed: int = 0, decimals: str = "number",
                 delete_null_share: float = 0.5) -> None:
        if decimals not in ("number", "string"):
            raise ValueError("v2_decimals must be 'number' (SQLite node) or 'string' (MySQL)")
        super().__init__(base.lock, random.Random(seed ^ 0x5EED2), BY_NAME)
        self.base = base
        self.decimals = decimals
        self.delete_null_share = delete_null_share
        self.db: dict[str, V2Rows] = {t.name: V2Rows(t) for t in TABLES}
        self.epoch = 0  # bumped per v2 change: salts the tie order of non-total list orders

    def __getitem__(self, name: str) -> V2Rows:
        return self.db[name]

    def begin_bulk(self) -> None:
        for t in self.db.values():
            t.begin_bulk()

    # ---- DataLayer hooks --------------------------------------------------------------------
    @property
    def clock_s(self) -> int:  # type: ignore[override]
        return self.base.clock_s

    def tick(self, seconds: int) -> int:
        return self.base.tick(seconds)

    def _changed(self, reshuffle: bool) -> None:
        """Every v2 change reshuffles: the epoch also salts the v2 audit's tie order."""
        self.epoch += 1
        self.base.version += 1

    def _shown_root(self, org: OrgV2) -> str | None:
        return org.registry_hash

    def _show_root(self, org: OrgV2, n: int) -> None:
        org.registry_hash = org.gens[n].root if n > 0 else None

    def _meta_value(self, key: str, text: str) -> bytes:
        """The writer's keyValueToChangeList: `{"comment": "${comment}"}`, not JSON.stringify."""
        return f'{{"{key}": "{text}"}}'.encode()

    def _generation_meta(self, org: OrgV2, diff: list[Change], comment: str | None,
                         author: str | None) -> tuple[str, str]:
        """Comment and author as this generation's diff writes them (else '')."""
        ins = {key: vb for key, typ, vb, _ in diff if typ == "INSERT"}
        return _meta_value(ins.get("comment"), "comment"), _meta_value(ins.get("author"),
                                                                       "author")

    def _apply_delete(self, org: OrgV2, key: str, prefix: str, rid: str,
                      spec: V2Table | None) -> bytes | None:
        """The change of a DELETE row: the old value, or null (DataLayer sent none)."""
        old = org.kv.pop(key)
        org.keys.get(prefix, {}).pop(rid, None)
        if spec is not None:
            self.db[spec.name].delete(rid)
        return None if self.rng.random() < self.delete_null_share else old

    def _apply_write(self, org: OrgV2, prefix: str, rid: str, spec: V2Table | None,
                     vb: bytes, value: object, now: str) -> None:
        if rid:
            org.keys.setdefault(prefix, {})[rid] = None
        if spec is not None:
            self._ingest(spec, rid, loads(vb), now)

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
            return self._subscribe(org, org.registry_id)

    # ---- ingestion --------------------------------------------------------------------------
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

    # ---- reads ------------------------------------------------------------------------------
    def ids(self, org: OrgV2, prefix: str) -> list[str]:
        """Live record ids of one table in an org's store (DataLayer key order)."""
        return list(org.keys.get(prefix, ()))
