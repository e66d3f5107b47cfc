"""`hub run`: sync → stage → match → publish, with a summary of what happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.config import HubConfig
from pipelines.checks import CheckOutcome, run_checks_if_changed
from pipelines.history import stage_history
from pipelines.match import run_match
from pipelines.match_lookup import refresh as refresh_lookup
from pipelines.match_lookup import warehouse_version
from pipelines.match_outputs import MatchResult
from pipelines.metrics import record_run_metrics
from pipelines.predict import run_predictions
from pipelines.progress import Progress, as_progress
from pipelines.publish import publish
from pipelines.reference import ReferenceFileError, stage_reference
from pipelines.stage import StageResult, stage_all
from pipelines.sync import SyncResult, forget_removed, sync_source
from warehouse.compaction import compact
from warehouse.engine import Warehouse
from warehouse.lock import held_by, run_lock

log = logging.getLogger("hub.run")


@dataclass
class RunSummary:
    warehouse: str
    syncs: list[SyncResult] = field(default_factory=list)
    staged: list[StageResult] = field(default_factory=list)
    match: MatchResult | None = None
    marts: dict[str, int] = field(default_factory=dict)
    checks: dict[str, CheckOutcome] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds of sync, stage, match, marts, checks
    compacted: list[str] = field(default_factory=list)  # tables rewritten for their dead rows (warehouse.compaction)

    @property
    def failed_sources(self) -> list[SyncResult]:
        return [s for s in self.syncs if s.status == "failed"]

    @property
    def warned_sources(self) -> list[SyncResult]:
        return [s for s in self.syncs if s.status == "warning"]

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, c in self.checks.items() if c.failed]


def run_all(cfg: HubConfig, wh: Warehouse, sources: list[str] | None = None,
            progress: Callable[[str], None] | Progress | None = None, rebuild: bool = False,
            allow_mass_delete: bool = False) -> RunSummary:
    """Run the whole pipeline, then the data checks. A failing source or reference file is reported and the
    rest goes on. `allow_mass_delete`: apply deletes above a stream's `max_delete_share` (and of removed sources)."""
    prog = as_progress(progress, log)
    with run_lock(wh, "hub run", wait=30, keep_waiting=held_by("hub steward")):  # a steward's action: ~1 s
        return _run(cfg, wh, sources, prog, rebuild, allow_mass_delete)


def sync_and_stage(cfg: HubConfig, wh: Warehouse, summary: RunSummary, sources: list[str] | None,
                   progress: Progress, allow_mass_delete: bool) -> None:
    """The sync and stage phases of a run (every engine's), recorded in `summary`: each enabled source (or those
    named), removed sources forgotten, staging, rep-list history and the reference files."""
    t = time.monotonic()
    for name in [n for n, s in cfg.sources.items() if s.enabled and (sources is None or n in sources)]:
        progress(f"syncing {name} ({cfg.sources[name].connector})")
        result = sync_source(cfg, wh, name, progress=progress, allow_mass_delete=allow_mass_delete)
        summary.syncs.append(result)
        if result.status == "failed":
            progress(f"source {name} FAILED: {result.error}")
    if sources is None:
        summary.syncs += forget_removed(cfg, wh, allow_mass_delete, progress)
    summary.phases["sync"] = time.monotonic() - t
    t = time.monotonic()
    summary.staged = stage_all(cfg, wh, progress=progress)
    stage_history(cfg, wh, progress=progress)
    try:
        summary.staged += stage_reference(cfg, wh, progress=progress)
    except ReferenceFileError as e:
        summary.problems.append(str(e))
        progress(f"reference file FAILED: {e}")
    summary.phases["stage"] = time.monotonic() - t


def _run(cfg: HubConfig, wh: Warehouse, sources: list[str] | None, progress: Progress, rebuild: bool,
         allow_mass_delete: bool) -> RunSummary:
    started = time.monotonic()
    summary = RunSummary(warehouse=wh.location)
    sync_and_stage(cfg, wh, summary, sources, progress, allow_mass_delete)
    t = time.monotonic()
    before = warehouse_version(wh)
    summary.match = run_match(cfg, wh, progress=progress, rebuild=rebuild)
    m = summary.match
    did = refresh_lookup(cfg, wh, m.changed_ids, m.deleted_ids, m.affected_ids, not m.incremental, before)
    if did:
        progress(did)
    summary.phases["match"] = time.monotonic() - t
    t = time.monotonic()
    summary.marts = publish(wh, progress=progress, force=rebuild)
    summary.marts.update(run_predictions(wh, cfg, progress=progress, force=rebuild).rows)  # issue 15: predictions
    summary.phases["marts"] = time.monotonic() - t
    record_run_metrics(wh)  # the MDM health history (mdm.run_metrics), before the checks read the versions
    t = time.monotonic()
    summary.checks = run_checks_if_changed(wh, cfg)
    summary.phases["checks"] = time.monotonic() - t
    t = time.monotonic()
    summary.compacted = [b.table for b in compact(wh, progress)]
    if summary.compacted:
        summary.phases["compact"] = time.monotonic() - t
    summary.seconds = time.monotonic() - started
    return summary
