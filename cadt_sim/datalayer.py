"""What the v1 and v2 ledgers share: an org's registry store as the node tracks it (key/value
state, generations, audit rows) and the commit that diffs key writes against it, chains the root
hash, ingests and audits every change. Each ledger keeps its own org fields, table lookup and
ingestion (the hooks of :class:`DataLayer`).
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .serialize import dumps, iso_ms, loads

#: (prefix, id, value): a dict (dumped), raw bytes (written as is) or None = delete
Op = tuple[str, str | None, dict | bytes | None]
#: (key, "INSERT" | "DELETE", value bytes or None, the op's value)
Change = tuple[str, str, bytes | None, Any]


@dataclass
class Generation:
    index: int
    root: str
    ts: str  # onchainConfirmationTimeStamp, unix seconds as a string
    comment: str | None
    author: str | None


class AuditEntry(NamedTuple):
    """Compact audit row; each model renders it to its served dict on demand."""

    id: int
    gen: Generation
    type: str
    table: str | None
    change: bytes | None
    created: str


@dataclass(kw_only=True)
class RegistryStore:
    """The state of one org's registry store on the node (base of each model's org)."""

    metadata: dict = field(default_factory=dict)
    generation: int = -1  # last processed generation index
    synced: bool = True
    sync_remaining: int = 0
    kv: dict[str, bytes] = field(default_factory=dict)
    gens: list[Generation] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    audit_version: int = 0
    #: order direction -> (what the sorted rows are valid for, sorted rows)
    audit_cache: dict[str, tuple[Any, list[AuditEntry]]] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        raise NotImplementedError


def kv_diff(kv: dict[str, bytes], ops: list[Op]) -> list[Change]:
    """A commit's changes in op order: the first write of a key counts, unchanged values and
    deletes of absent keys drop out."""
    diff: list[Change] = []
    seen: set[str] = set()
    for prefix, rid, value in ops:
        key = prefix if rid is None else f"{prefix}|{rid}"
        if key in seen:
            continue
        seen.add(key)
        if value is None:
            if key in kv:
                diff.append((key, "DELETE", None, None))
        else:
            vb = value if value.__class__ is bytes else dumps(value)
            if kv.get(key) != vb:
                diff.append((key, "INSERT", vb, value))
    return diff


def chain_root(prev: str, diff: list[Change]) -> str:
    """The new root hash: the previous one chained with every change."""
    h = hashlib.sha256(prev.encode())
    for key, typ, vb, _ in diff:
        h.update(f"{key}\x00{typ}\x00".encode())
        if vb is not None:
            h.update(vb)
    return "0x" + h.hexdigest()


class DataLayer:
    """Orgs' registry stores and their ingestion into one model's node tables."""

    MODEL: str | None = None  # tags commit results ("v2")
    #: both syncs (src/tasks/sync-registries.js @ 1.7.24 and sync-registries-v2.js) run the diff
    #: through optimizeAndSortKvDiff (src/utils/datalayer-utils.js): a stable sort that puts a
    #: generation's DELETEs before its INSERTs (and drops the DELETE of a re-inserted key: an
    #: update is one INSERT here already)
    DELETES_FIRST = True
    clock_s: int

    def __init__(self, lock: threading.RLock, rng: random.Random, tables: dict[str, Any]) -> None:
        self.lock = lock
        self.rng = rng
        self.tables_by_prefix = tables  # DataLayer key prefix -> the table it is ingested into
        self.orgs: dict[str, Any] = {}
        self.audit_seq = 0
        # orgs whose map entry keeps its registry hash while commits go on (seen on a real node
        # run in its simulator mode: the audit feed grew from 77 to 134 rows under one hash)
        self.frozen_roots: set[str] = set()

    # ---- hooks ------------------------------------------------------------------------------
    def tick(self, seconds: int) -> int:
        raise NotImplementedError

    def _changed(self, reshuffle: bool) -> None:
        """Count a visible change; ``reshuffle``: the tie order of the table lists moves on."""
        raise NotImplementedError

    def _shown_root(self, org: Any) -> str | None:
        """The registry hash the org map shows."""
        raise NotImplementedError

    def _show_root(self, org: Any, n: int) -> None:
        """The org map shows the root of generation n."""
        raise NotImplementedError

    def _meta_value(self, key: str, text: str) -> dict | bytes:
        """The value of the ``comment``/``author`` key the writer adds to a commit."""
        raise NotImplementedError

    def _generation_meta(self, org: Any, diff: list[Change], comment: str | None,
                         author: str | None) -> tuple[str | None, str | None]:
        """(comment, author) of the new generation's audit rows."""
        raise NotImplementedError

    def _apply_delete(self, org: Any, key: str, prefix: str, rid: str, spec: Any
                      ) -> bytes | None:
        """Drop the key from the store (and its row); returns the audit row's ``change``."""
        raise NotImplementedError

    def _apply_write(self, org: Any, prefix: str, rid: str, spec: Any, vb: bytes, value: Any,
                     now: str) -> None:
        """Ingest a written key (already in the store)."""
        raise NotImplementedError

    # ---- ids & clock ------------------------------------------------------------------------
    def hex64(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def _now(self) -> str:
        """The node's ingest time: a second after the confirmation, plus a random ms part."""
        return iso_ms(self.clock_s * 1000 + 1000 + self.rng.randrange(1000))

    # ---- orgs -------------------------------------------------------------------------------
    def _audit(self, org: Any, gen: Generation, typ: str, table: str | None,
               change: bytes | None, created: str) -> None:
        self.audit_seq += 1
        org.audit.append(AuditEntry(self.audit_seq, gen, typ, table, change, created))
        org.audit_version += 1

    def _subscribe(self, org: Any, registry_id: str) -> Any:
        """Add an org's store: generation 0 is CREATE REGISTRY."""
        self.orgs[org.uid] = org
        self.tick(60)
        root = "0x" + hashlib.sha256(registry_id.encode()).hexdigest()
        gen = Generation(0, root, str(self.clock_s), None, None)
        org.gens.append(gen)
        self._audit(org, gen, "CREATE REGISTRY", None, None, self._now())
        org.generation = 0
        self._show_root(org, 0)
        self._changed(reshuffle=False)
        return org

    def result(self, org: Any, changed: dict[str, int]) -> dict[str, Any]:
        """What an activity answers: ``{orgUid, generation, changed[, model]}``."""
        out = {"orgUid": org.uid, "generation": org.generation, "changed": changed}
        if self.MODEL is not None:
            out["model"] = self.MODEL
        return out

    # ---- commits ----------------------------------------------------------------------------
    def commit(self, org: Any, ops: list[Op], comment: str | None = None,
               author: str | None = None, advance_s: int | None = None) -> dict[str, Any]:
        """One DataLayer commit -> one generation, ingested and audited atomically."""
        with self.lock:
            self.tick(advance_s if advance_s is not None else self.rng.randint(30, 600))
            now = self._now()
            meta = [(k, None, self._meta_value(k, v))
                    for k, v in (("comment", comment), ("author", author)) if v is not None]
            diff = kv_diff(org.kv, [*ops, *meta])
            if self.DELETES_FIRST:
                diff.sort(key=lambda c: c[1] != "DELETE")
            root = chain_root(self._shown_root(org) or org.gens[-1].root, diff)
            gen = Generation(len(org.gens), root, str(self.clock_s),
                             *self._generation_meta(org, diff, comment, author))
            org.gens.append(gen)
            changed: dict[str, int] = {}
            if not diff:
                self._audit(org, gen, "NO CHANGE", None, None, now)
            specs, kv = self.tables_by_prefix, org.kv
            for key, typ, vb, value in diff:
                prefix, _, rid = key.partition("|")
                spec = specs.get(prefix)
                if typ == "DELETE":
                    change = self._apply_delete(org, key, prefix, rid, spec)
                else:
                    kv[key] = change = vb  # type: ignore[assignment]
                    self._apply_write(org, prefix, rid, spec, vb, value, now)  # type: ignore
                if spec is not None:
                    changed[spec.name] = changed.get(spec.name, 0) + 1
                self._audit(org, gen, typ, prefix, change, now)
            org.generation = gen.index
            if org.uid not in self.frozen_roots:
                self._show_root(org, gen.index)
            self._changed(reshuffle=True)
            return self.result(org, changed)

    # ---- audit reset ------------------------------------------------------------------------
    def audit_reset_begin(self, org: Any, k: int) -> list[AuditEntry]:
        """resetToGeneration(latest-k): audit rows with generation > n go (transient state)."""
        with self.lock:
            n = max(0, org.generation - k)
            dropped = [e for e in org.audit if e.gen.index > n]
            org.audit = [e for e in org.audit if e.gen.index <= n]
            org.audit_version += 1
            org.generation = n
            self._show_root(org, n)
            org.synced = not dropped
            org.sync_remaining = len(org.gens) - 1 - n
            self._changed(reshuffle=False)
            return dropped

    def audit_reset_finish(self, org: Any, dropped: list[AuditEntry]) -> None:
        """The node re-processes the dropped generations: same rows, NEW ids and times."""
        with self.lock:
            self.tick(5)
            now = self._now()
            for e in dropped:
                self._audit(org, e.gen, e.type, e.table, e.change, now)
            org.generation = len(org.gens) - 1
            self._show_root(org, org.generation)
            org.synced, org.sync_remaining = True, 0
            self._changed(reshuffle=True)

    def audit_reset(self, org: Any, k: int) -> dict[str, Any]:
        """Both steps at once; the result counts the re-created audit rows."""
        with self.lock:
            dropped = self.audit_reset_begin(org, k)
            self.audit_reset_finish(org, dropped)
            return self.result(org, {"audit": len(dropped)})

    # ---- reads ------------------------------------------------------------------------------
    def org_map(self) -> dict[str, dict]:
        with self.lock:
            return {u: o.as_map_entry() for u, o in self.orgs.items()}

    def value(self, org: Any, prefix: str, rid: str) -> dict | None:
        vb = org.kv.get(f"{prefix}|{rid}")
        return loads(vb) if vb is not None else None
