"""The match API's index: every standardized customer by blocking key, in a SQLite file beside the warehouse.

`POST /api/match` scores one record against the stored records that share a blocking key with it. Holding
all records in memory costs gigabytes and a long start at 10M records; looking keys up in an analytic
warehouse costs a scan. The index is a SQLite file (`<warehouse>.lookup.sqlite` for DuckDB; under the config's
folder, `.hub/`, for PostgreSQL) in WAL mode, so the API reads it while a run updates it:

- `keys(k, rid)`: one row per record and blocking rule that gives it a key; `k` is a 64-bit hash of the rule
  and its key values (`key_hashes`), so a lookup is a B-tree probe;
- `records(rid, record_id, golden_id, <compared, exclusive and scope columns>)`;
- `golden(golden_id, name, uscc, phone, city)`: what an answer shows of a candidate;
- `tf(comparison, value, share)`: the model's term frequencies, looked up for the query's values (a model's
  tables hold every value held more than once: millions at 10M records, too many to hold in the API's memory);
- `meta`: the model and the warehouse version of `mdm.customer_records` the index reflects.

`hub run` keeps it current when the match API is configured (`console.api_tokens`): a full match rebuilds it
(into a new file, swapped in), an incremental one rewrites the changed, deleted and affected records only;
steward actions update the golden IDs they move. The API builds it itself if it finds none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from core.config import HubConfig
from mdm.blocking import BlockingRule
from mdm.engine import LinkSettings
from pipelines.model_store import active_model, model_tf
from warehouse.changes import versions
from warehouse.engine import Warehouse, value

CHUNK = 200_000
GOLDEN_COLUMNS = ("golden_id", "name", "uscc", "phone", "city")


def store_path(cfg: HubConfig, wh: Warehouse) -> Path:
    """Where the index of this warehouse lives."""
    if wh.dialect.name == "duckdb":
        return Path(wh.location + ".lookup.sqlite")
    base = Path(cfg.path).parent if cfg.path else Path.cwd()
    return base / ".hub" / f"lookup-{hashlib.sha1(wh.url.encode()).hexdigest()[:12]}.sqlite"


def index_columns(settings: LinkSettings, specs: Iterable[Any], scope: Iterable[str] = ()) -> list[str]:
    """The standardized columns a lookup needs: blocked, compared, exclusive and steward-scope ones."""
    return sorted({c for r in settings.blocking for c in r.columns} | {c for s in specs for c in s.columns}
                  | set(settings.exclusive) | set(settings.anchors) | set(scope))


def refresh(cfg: HubConfig, wh: Warehouse, changed: Sequence[str] = (), deleted: Sequence[str] = (),
            affected: Sequence[str] = (), everything: bool = True, before: int | None = None,
            force: bool = False) -> str | None:
    """Bring the index up to date after a match (all of it, or the records an incremental run touched), when the
    match API is configured or an index exists; `before`: the records' version the index must reflect for an
    update to be enough (else it is rebuilt); `force`: also without the API configured. Says what it did (None:
    nothing to do)."""
    from pipelines.match import fingerprint, settings_of

    store = LookupStore(store_path(cfg, wh))
    if not (force or cfg.console.api_tokens or store.exists()):
        return None
    settings = settings_of(cfg.mdm.customer)
    model = active_model(wh, fingerprint(settings), tf_values={})  # (its specs and scope: no frequencies)
    if model is None:
        return None
    scope = list(cast("list[str]", model.info.get("calibration_scope") or []))
    columns = index_columns(settings, model.specs, scope)
    meta = {"records_version": warehouse_version(wh),
            "model": hashlib.sha1(model.to_json().encode()).hexdigest()[:16], "columns": columns, "tf": True}
    old = store.meta()
    if old == meta:
        return None  # nothing matched since the index was written
    if (not everything and old.get("records_version") == before and old.get("model") == meta["model"]
            and old.get("columns") == columns and old.get("tf")):
        store.update(wh, settings.blocking, columns, changed, deleted, affected, meta)
        return f"match API index: {len(changed) + len(deleted):,} records rewritten, {len(affected):,} re-pointed"
    store.build(wh, settings.blocking, columns, meta, model_tf(wh, fingerprint(settings)))
    return f"match API index built: {store.path}"


def _texts(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column's values as text: str() of each, as pandas' "string" dtype writes them (Arrow-backed text as it is:
    the standardized columns of a query)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array).cast(pa.string())
    return pa.array(values.astype("string").array, pa.string())


def key_hashes(records: pd.DataFrame, rules: Sequence[BlockingRule]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row positions, 64-bit key hashes, rule positions) of every record and rule that gives it a key,
    vectorized: a rule's key is its name and its columns' values as text (`name␞value␟value…`); a record without a
    value (or an empty one) in a column has none for that rule, as in blocking. The texts are joined by Arrow, a
    handful of calls per rule whatever the number of records (a query's keys in under a millisecond)."""
    rows, texts, which = [], [], []
    for r, rule in enumerate(rules):
        cols = [_texts(records[c]) for c in rule.columns]
        present = functools.reduce(pc.and_, [pc.greater(pc.utf8_length(c), 0) for c in cols])
        idx = np.flatnonzero(pc.fill_null(present, False).to_numpy(zero_copy_only=False))
        if not len(idx):
            continue
        taken = [c.take(pa.array(idx, pa.int64())) for c in cols]
        text = pc.binary_join_element_wise(rule.name + "\x1e", pc.binary_join_element_wise(*taken, "\x1f"), "")
        rows.append(idx)
        texts.append(text.to_numpy(zero_copy_only=False))
        which.append(np.full(len(idx), r, np.int64))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    hashes = pd.util.hash_array(np.concatenate(texts)).view(np.int64)  # (one call: a query's keys are a handful)
    return np.concatenate(rows), hashes, np.concatenate(which)


class LookupStore:
    """The SQLite index at `path`: built, updated and read (one connection per thread)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def exists(self) -> bool:
        return self.path.exists()

    def _conn(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        ino = self.path.stat().st_ino if self.path.exists() else None
        if con is None or getattr(self._local, "ino", None) != ino:  # a rebuilt file was swapped in
            if con is not None:
                con.close()
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.con, self._local.ino = con, ino
        return con

    # --- reading ---------------------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        if not self.exists():
            return {}
        try:
            return {k: json.loads(v) for k, v in self._conn().execute("SELECT key, value FROM meta")}
        except sqlite3.Error:
            return {}

    def columns(self) -> list[str]:
        return [r[1] for r in self._conn().execute("PRAGMA table_info(records)")][3:]

    def candidates(self, query: pd.DataFrame, rules: Sequence[BlockingRule], limit: int = 2000) -> pd.DataFrame:
        """The stored records sharing a blocking key with the (one-row, standardized) query; a key of a block
        larger than its rule's `max_block` is left out, as in blocking."""
        _, hashes, which = key_hashes(query, rules)
        by_rule = {h: rules[r] for h, r in zip(hashes.tolist(), which.tolist(), strict=True)}
        if not by_rule:
            return pd.DataFrame(columns=["record_id", "golden_id", *self.columns()])
        con = self._conn()
        marks = ",".join("?" * len(by_rule))
        sizes = dict(con.execute(f"SELECT k, count(*) FROM keys WHERE k IN ({marks}) GROUP BY k", list(by_rule)))
        keep = [h for h, n in sizes.items() if n <= by_rule[h].max_block]
        if not keep:
            return pd.DataFrame(columns=["record_id", "golden_id", *self.columns()])
        cur = con.execute(f"SELECT * FROM records WHERE rid IN (SELECT rid FROM keys WHERE k IN "
                          f"({','.join('?' * len(keep))})) ORDER BY rid LIMIT {int(limit)}", keep)
        names = [d[0] for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=names).drop(columns=["rid"])

    def tf(self, values: dict[str, Any]) -> dict[str, dict[str, float]]:
        """The term-frequency shares of one value per comparison (`{comparison: value}`), for those the model's
        tables hold: `{comparison: {value: share}}`."""
        asked = [(c, str(v)) for c, v in values.items() if not pd.isna(v) and str(v) != ""]
        out: dict[str, dict[str, float]] = {c: {} for c in values}
        if asked:
            where = " OR ".join("(comparison = ? AND value = ?)" for _ in asked)
            for c, v, share in self._conn().execute(f"SELECT comparison, value, share FROM tf WHERE {where}",
                                                    [x for pair in asked for x in pair]):
                out[c][v] = float(share)
        return out

    def golden(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        cur = self._conn().execute(f"SELECT * FROM golden WHERE golden_id IN ({','.join('?' * len(ids))})",
                                   list(ids))
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}

    # --- writing ---------------------------------------------------------------------------------------------

    def build(self, wh: Warehouse, rules: Sequence[BlockingRule], columns: Sequence[str],
              meta: dict[str, Any], tf: pa.Table | None = None) -> None:
        """The whole index from the warehouse, a chunk of records at a time, into a new file swapped in; `tf`: the
        model's term frequencies (`pipelines.model_store.model_tf`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".building")
        tmp.unlink(missing_ok=True)
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            con.execute("PRAGMA cache_size = -262144")  # 256 MB for the sorts of the keys and indexes at the end
            _schema(con, columns)
            cols = ", ".join(f'"{c}"' for c in ["record_id", "golden_id", *columns])
            with wh.begin() as wconn:
                lo = 0
                for part in _chunks(wh, wconn, cols, "mdm.customer_records"):
                    _insert(con, part.assign(rid=np.arange(lo, lo + len(part))), rules, columns, "keys_unsorted")
                    lo += len(part)
                for golden in _chunks(wh, wconn, ", ".join(GOLDEN_COLUMNS), "mdm.golden_customer"):
                    _golden(con, golden)
            for batch in (tf.to_batches(CHUNK) if tf is not None else []):
                con.executemany("INSERT INTO tf VALUES (?, ?, ?)", zip(*(batch.column(i).to_pylist() for i in range(3)),
                                                                     strict=True))
            con.execute("INSERT INTO keys SELECT DISTINCT k, rid FROM keys_unsorted ORDER BY k, rid")
            con.execute("DROP TABLE keys_unsorted")
            con.execute("CREATE UNIQUE INDEX records_by_record_id ON records (record_id)")
            con.execute("CREATE INDEX keys_by_rid ON keys (rid)")
            _meta(con, meta)
            con.commit()
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
        os.replace(tmp, self.path)

    def update(self, wh: Warehouse, rules: Sequence[BlockingRule], columns: Sequence[str], changed: Sequence[str],
               deleted: Sequence[str], affected: Sequence[str], meta: dict[str, Any]) -> None:
        """Rewrite the records of an incremental run: `changed` (new or changed) and `deleted` records; every
        `affected` record's golden ID; the golden rows of their golden IDs."""
        con = sqlite3.connect(self.path)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            gone = sorted(set(changed) | set(deleted))
            con.execute("CREATE TEMP TABLE gone (record_id TEXT PRIMARY KEY)")
            con.executemany("INSERT OR IGNORE INTO gone VALUES (?)", [(r,) for r in gone])
            con.execute("DELETE FROM keys WHERE rid IN (SELECT rid FROM records WHERE record_id IN (SELECT record_id "
                        "FROM gone))")
            con.execute("DELETE FROM records WHERE record_id IN (SELECT record_id FROM gone)")
            cols = ", ".join(f'"{c}"' for c in ["record_id", "golden_id", *columns])
            top = con.execute("SELECT COALESCE(MAX(rid), -1) + 1 FROM records").fetchone()[0]
            fresh = _read(wh, f"SELECT {cols} FROM mdm.customer_records", changed)
            _insert(con, fresh.assign(rid=np.arange(top, top + len(fresh))), rules, columns)
            moved = _read(wh, "SELECT record_id, golden_id FROM mdm.customer_records", affected)
            con.executemany("UPDATE records SET golden_id = ? WHERE record_id = ?",
                            list(zip(moved["golden_id"], moved["record_id"], strict=True)))
            ids = sorted(set(moved["golden_id"].dropna()) | set(fresh["golden_id"].dropna()))
            golden = _read(wh, f"SELECT {', '.join(GOLDEN_COLUMNS)} FROM mdm.golden_customer", ids, key="golden_id")
            con.execute("DELETE FROM golden WHERE golden_id NOT IN (SELECT DISTINCT golden_id FROM records)")
            _golden(con, golden)
            _meta(con, meta)
            con.commit()
        finally:
            con.close()

    def move(self, mapping: dict[str, str], golden: pd.DataFrame, meta: dict[str, Any]) -> None:
        """A steward's action: records to other golden IDs, and the golden rows it rewrote."""
        con = sqlite3.connect(self.path)
        try:
            con.executemany("UPDATE records SET golden_id = ? WHERE record_id = ?",
                            [(g, r) for r, g in mapping.items()])
            con.execute("DELETE FROM golden WHERE golden_id NOT IN (SELECT DISTINCT golden_id FROM records)")
            _golden(con, golden)
            _meta(con, meta)
            con.commit()
        finally:
            con.close()


def _schema(con: sqlite3.Connection, columns: Sequence[str]) -> None:
    extra = "".join(f', "{c}" TEXT' for c in columns)
    con.execute(f"CREATE TABLE records (rid INTEGER PRIMARY KEY, record_id TEXT, golden_id TEXT{extra})")
    con.execute("CREATE TABLE keys (k INTEGER, rid INTEGER, PRIMARY KEY (k, rid)) WITHOUT ROWID")
    con.execute("CREATE TEMPORARY TABLE keys_unsorted (k INTEGER, rid INTEGER)")
    con.execute(f"CREATE TABLE golden ({', '.join(c + ' TEXT' for c in GOLDEN_COLUMNS)}, PRIMARY KEY (golden_id))")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("CREATE TABLE tf (comparison TEXT, value TEXT, share REAL, PRIMARY KEY (comparison, value)) "
                "WITHOUT ROWID")


def _insert(con: sqlite3.Connection, part: pd.DataFrame, rules: Sequence[BlockingRule], columns: Sequence[str],
            keys: str = "keys") -> None:
    """Records (with their `rid`) and their blocking keys, into `keys` (a build: the unsorted keys, put in order
    once at the end: inserting millions of random hashes into a B-tree touches a page each)."""
    if not len(part):
        return
    part = part.reset_index(drop=True)
    cols = ["rid", "record_id", "golden_id", *columns]
    values = part[cols].astype(object).where(part[cols].notna(), None)
    con.executemany(f"INSERT INTO records ({', '.join(repr(c) for c in cols)}) VALUES ({','.join('?' * len(cols))})",
                    values.itertuples(index=False, name=None))
    pos, hashes, _ = key_hashes(part, rules)
    con.executemany(f"INSERT OR IGNORE INTO {keys} VALUES (?, ?)",
                    zip(hashes.tolist(), part["rid"].to_numpy()[pos].tolist(), strict=True))


def _chunks(wh: Warehouse, conn: Connection, cols: str, table: str) -> Iterator[pd.DataFrame]:
    """`cols` of every row of `table`, CHUNK rows at a time (numbered once in a temporary table)."""
    n = int(value(conn, f"SELECT count(*) FROM {table}") or 0)
    conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_lookup_src")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_lookup_src AS SELECT ROW_NUMBER() OVER () AS _i, {cols} "
                         f"FROM {table}")
    yield from wh.read_chunks(conn, "_hub_lookup_src", cols, n, CHUNK)
    conn.exec_driver_sql("DROP TABLE _hub_lookup_src")


def _golden(con: sqlite3.Connection, golden: pd.DataFrame) -> None:
    if len(golden):
        rows = golden[list(GOLDEN_COLUMNS)].astype(object).where(golden[list(GOLDEN_COLUMNS)].notna(), None)
        con.executemany(f"INSERT OR REPLACE INTO golden VALUES ({','.join('?' * len(GOLDEN_COLUMNS))})",
                        rows.itertuples(index=False, name=None))


def _meta(con: sqlite3.Connection, meta: dict[str, Any]) -> None:
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])


def _read(wh: Warehouse, select: str, ids: Sequence[str], key: str = "record_id") -> pd.DataFrame:
    """Rows of `select` whose `key` is one of `ids`, read through a temporary relation (any number of ids)."""
    import pyarrow as pa

    with wh.begin() as conn, wh.dialect.arrow_relation(conn, "_hub_lookup_ids",
                                                       pa.table({key: pa.array(list(ids), pa.string())})) as rel:
        return wh.read_frame(f"SELECT * FROM ({select}) s WHERE {key} IN (SELECT {key} FROM {rel})", conn=conn)


def follow_steward(cfg: HubConfig, wh: Warehouse, conn: Any, mapping: dict[str, str],
                   golden_ids: Sequence[str]) -> None:
    """After a steward's action (inside its transaction): the index's records take their new golden IDs and the
    rewritten golden rows, so the API answers with what the steward decided."""
    store = LookupStore(store_path(cfg, wh))
    meta = store.meta()
    if not meta:
        return
    import pyarrow as pa

    with wh.dialect.arrow_relation(conn, "_hub_lookup_gids", pa.table({"golden_id": pa.array(list(golden_ids),
                                                                                               pa.string())})) as g:
        golden = wh.read_frame(f"SELECT {', '.join(GOLDEN_COLUMNS)} FROM mdm.golden_customer WHERE golden_id IN "
                               f"(SELECT golden_id FROM {g})", conn=conn)
    meta["records_version"] = versions(conn, ["mdm.customer_records"])["mdm.customer_records"]
    store.move(dict(mapping), golden, meta)


def warehouse_version(wh: Warehouse) -> int:
    """The version of `mdm.customer_records` (it changes with every run that matched and every steward action)."""
    with wh.begin() as conn:
        return versions(conn, ["mdm.customer_records"])["mdm.customer_records"]
