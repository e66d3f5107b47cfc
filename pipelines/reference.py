"""Reference data the marts read: the files of the config's `marts` section (sales targets, channel costs,
exchange rates, holidays), public holidays from the `holidays` package, and the section's settings.

Each file (CSV in any encoding, or XLSX) is staged like a stream of the pseudo-source
`marts_config` (`staging.target`, stream `targets`; `staging.channel_cost`, stream
`channel_costs`; `staging.fx_rate`, stream `fx_rates`; `staging.holiday`, stream `holidays`): the
same typing as every other stream, and a row whose required field is missing or untypable goes to
`raw._quarantine` with the reason and the whole row. The key of a row is its row number in the
file (the header is row 1). The settings become `staging.order_status` and `staging.mart_setting`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

from core.config import REFERENCE_FILES, REFERENCE_SOURCE, STATUS_CLASSES, HubConfig, ReferenceFileConfig
from core.entities import ENTITIES
from pipelines.coerce import DEFAULT_TIMEZONE
from pipelines.stage import StageResult, ensure_staging, type_records, write_staged
from warehouse.changes import clear_watermarks, set_watermark, watermark
from warehouse.engine import Warehouse
from warehouse.raw import QUARANTINE_COLUMNS

log = logging.getLogger("hub.reference")


class ReferenceFileError(Exception):
    """A configured reference file that cannot be read; the message names the file."""


def read_reference_file(ref: ReferenceFileConfig) -> pd.DataFrame:
    """The file's rows as text (empty cells as None), with `_line`: the row number (the header is row 1)."""
    path = Path(ref.path)
    fmt = ref.format or {".csv": "csv", ".xlsx": "xlsx"}.get(path.suffix.lower())
    try:
        if fmt == "xlsx":
            df = pd.read_excel(path, sheet_name=ref.sheet or 0, dtype=str)
        elif fmt == "csv":
            df = pd.read_csv(path, dtype=str, encoding="utf-8-sig" if ref.encoding == "utf-8" else ref.encoding,
                             keep_default_na=False)
        else:
            raise ReferenceFileError(f"{path}: cannot tell the format; set format: csv or xlsx")
    except FileNotFoundError:
        raise ReferenceFileError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReferenceFileError(f"{path}: cannot be read: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    df = df.apply(lambda c: c.str.strip())
    df = df.astype(object).where(df.notna() & (df != ""), None)
    df.insert(0, "_line", range(2, len(df) + 2))  # line 1 is the header
    return df


def stage_reference_file(wh: Warehouse, key: str, ref: ReferenceFileConfig,
                         tz: str = DEFAULT_TIMEZONE) -> StageResult:
    """Stage one reference file (`key` is `targets` or `channel_costs`), replacing its earlier rows; dates
    and times written with a zone or as epoch numbers are read into the warehouse's zone `tz` (the config's
    `timezone`), as for every stream. A file unchanged since it was staged (same bytes, same settings, same
    zone) is not staged again."""
    entity = ENTITIES[REFERENCE_FILES[key]]
    try:
        content = Path(ref.path).read_bytes()
    except FileNotFoundError:
        raise ReferenceFileError(f"{ref.path}: file not found") from None
    except OSError as e:
        raise ReferenceFileError(f"{ref.path}: cannot be read: {e}") from None
    settings = json.dumps(ref.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)  # (not the file's order)
    digest = hashlib.sha256(content + settings.encode() + tz.encode()).hexdigest()[:16]
    consumer = f"stage:{REFERENCE_SOURCE}.{key}"
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        mark = watermark(conn, consumer)
    if mark is not None and mark[1].get("digest") == digest:
        return StageResult(REFERENCE_SOURCE, key, entity.name, total=int(mark[1].get("rows", 0)), full=False)
    rows = read_reference_file(ref)
    columns = {f: ref.columns.get(f, f) for f in entity.field_names}
    # required fields and the ones mapped explicitly must be there; a target needs its rep or its team
    wanted = [[f.name] for f in entity.fields if f.required] + [[f] for f in ref.columns]
    wanted += [["rep_key", "team"]] if entity.name == "target" else []
    missing = [" or ".join(repr(columns[f]) for f in w) for w in wanted if not any(columns[f] in rows for f in w)]
    if missing:
        raise ReferenceFileError(f"{ref.path}: no column {', '.join(dict.fromkeys(missing))}; the file has: "
                                 f"{', '.join(c for c in rows.columns if c != '_line')} "
                                 f"(map them with marts.{key}.columns)")
    raw = pd.DataFrame({"source_key": rows["_line"].astype(str), "_sync_id": f"file-{digest}",
                        "_extracted_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)})
    formats: dict[str, str | None] = {}
    for field, header in columns.items():
        if header in rows.columns:
            raw["f_" + field] = rows[header]
            formats[field] = None
    staged, quarantine = type_records(REFERENCE_SOURCE, key, entity, raw, formats, tz)
    if len(quarantine):
        records = rows.drop(columns="_line").apply(lambda r: json.dumps(dict(r), ensure_ascii=False), axis=1)
        by_line = dict(zip(raw["source_key"], records, strict=True))
        quarantine["record"] = quarantine["record_key"].map(by_line)
    result = write_staged(wh, REFERENCE_SOURCE, key, entity, staged, quarantine)
    with wh.begin() as conn:
        set_watermark(conn, consumer, 0, {"digest": digest, "rows": result.total})
    return result


def stage_reference(cfg: HubConfig, wh: Warehouse, progress: Callable[[str], None] | None = None,
                    entity: str | None = None) -> list[StageResult]:
    """Stage every configured reference file, the public holidays of `marts.calendar.country` when no holidays
    file is configured, and the settings of the `marts` section the mart SQL reads (order status classes,
    reporting currency, fiscal year, revenue classes); only those filling `entity`, if given.

    A file that cannot be read keeps its earlier staged rows; after the others are staged, a
    `ReferenceFileError` names every such file. The rows of a file no longer configured are removed.
    """
    progress = progress or log.info
    results, errors = [], []
    for key, ent in REFERENCE_FILES.items():
        ref = getattr(cfg.marts, key)
        if entity is not None and ent != entity:
            continue
        if ref is None and key == "holidays":
            r = stage_holidays(wh, cfg.marts.calendar.country)
            results.append(r)
            if r.full:
                progress(f"staged the public holidays of {cfg.marts.calendar.country or '(no country)'} → "
                         f"staging.holiday: {r.staged:,} days")
            continue
        if ref is None:  # not (or no longer) configured: no rows of it stay behind
            empty = pd.DataFrame(columns=["source_key"])
            write_staged(wh, REFERENCE_SOURCE, key, ENTITIES[ent], empty, pd.DataFrame(columns=QUARANTINE_COLUMNS))
            with wh.begin() as conn:
                clear_watermarks(conn, f"stage:{REFERENCE_SOURCE}.{key}")
            continue
        try:
            r = stage_reference_file(wh, key, ref, cfg.timezone)
        except ReferenceFileError as e:
            errors.append(f"marts.{key}: {e}")
            continue
        results.append(r)
        if not r.full:
            continue  # unchanged
        msg = f"staged marts.{key} ({Path(ref.path).name}) → staging.{ent}: {r.staged:,} rows"
        if r.rejected or r.fields_nulled:
            msg += f" ({r.rejected:,} rejected, {r.fields_nulled:,} fields nulled: see raw._quarantine)"
        progress(msg)
    if entity is None or entity in ("order_status", "mart_setting"):
        stage_settings(cfg, wh)
    if errors:
        raise ReferenceFileError("; ".join(errors))
    return results


Rows = list[dict[str, str]]


def _stage_rows(wh: Warehouse, stream: str, entity: str, rows: Rows | Callable[[], Rows],
                made_from: str | None = None) -> StageResult:
    """Stage rows of text values (`source_key` and one key per field) as stream `stream` of marts_config; the
    same rows as last time are not staged again (nothing downstream is rebuilt for them). `rows` may be a function
    making them, with `made_from` naming all it reads: when that is what the staged rows were made from, the rows
    are not made again."""
    ent = ENTITIES[entity]
    consumer = f"stage:{REFERENCE_SOURCE}.{stream}"
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        mark = watermark(conn, consumer)
    if made_from is not None and mark is not None and mark[1].get("made_from") == made_from:
        return StageResult(REFERENCE_SOURCE, stream, ent.name, total=int(mark[1].get("rows", 0)), full=False)
    rows = rows() if callable(rows) else rows
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    if mark is not None and mark[1].get("digest") == digest:
        if made_from is not None and mark[1].get("made_from") != made_from:
            with wh.begin() as conn:
                set_watermark(conn, consumer, 0, {**mark[1], "made_from": made_from})
        return StageResult(REFERENCE_SOURCE, stream, ent.name, total=int(mark[1].get("rows", 0)), full=False)
    raw = pd.DataFrame(rows, columns=["source_key", *ent.field_names])
    raw = raw.rename(columns={f: "f_" + f for f in ent.field_names})
    raw["_sync_id"] = "config"
    raw["_extracted_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    staged, quarantine = type_records(REFERENCE_SOURCE, stream, ent, raw, dict.fromkeys(ent.field_names))
    result = write_staged(wh, REFERENCE_SOURCE, stream, ent, staged, quarantine)
    with wh.begin() as conn:
        set_watermark(conn, consumer, 0, {"digest": digest, "rows": result.total,
                                          **({"made_from": made_from} if made_from is not None else {})})
    return result


HOLIDAY_YEARS = (1990, 10)  # public holidays from this year to this many years after the current one


def stage_holidays(wh: Warehouse, country: str | None) -> StageResult:
    """The public holidays and make-up working days (调休) of `country` from the `holidays` package, as stream
    `holidays` of marts_config. Years beyond a government's published schedule are the package's estimate. The days
    are worked out again only when the country, the years or the package's version changed since they were staged."""
    first, ahead = HOLIDAY_YEARS
    years = range(first, dt.date.today().year + ahead + 1)

    def days() -> list[dict[str, str]]:
        if not country:
            return []
        import holidays

        found = holidays.country_holidays(country, years=years, language="zh_CN" if country == "CN" else None)
        rows = [{"source_key": str(d), "day": str(d), "name": name, "kind": "holiday"}
                for d, name in sorted(found.items())]
        return rows + [{"source_key": str(d), "day": str(d), "name": "调休上班" if country == "CN" else "working day",
                        "kind": "workday"} for d in sorted(found.weekend_workdays) if d.year in years]

    made_from = f"{country or ''}:{years.start}-{years.stop - 1}:holidays {metadata.version('holidays')}"
    return _stage_rows(wh, "holidays", "holiday", days, made_from if country else None)


def stage_settings(cfg: HubConfig, wh: Warehouse) -> None:
    """The `marts` settings the mart SQL reads, as staging.order_status and staging.mart_setting."""
    statuses = [{"source_key": f"{src}:{cls}:{status}", "source": src, "status": status.strip(), "status_class": cls}
                for src, conf in cfg.marts.order_status.items() for cls in STATUS_CLASSES
                for status in getattr(conf, cls)]
    _stage_rows(wh, "order_status", "order_status", statuses)
    settings = {"currency": cfg.marts.currency, "fiscal_year_start": str(cfg.marts.calendar.fiscal_year_start)}
    rows = [{"source_key": k, "name": k, "value": v} for k, v in settings.items()]
    rows += [{"source_key": f"revenue_class:{c}", "name": "revenue_class", "value": c} for c in cfg.marts.revenue]
    _stage_rows(wh, "settings", "mart_setting", rows)
