"""`hub run`: sync → stage → match → publish, with a summary of what happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.config import HubConfig
from pipelines.checks import CheckOutcome, run_checks
from pipelines.history import stage_history
from pipelines.match import MatchResult, run_match
from pipelines.publish import publish
from pipelines.reference import ReferenceFileError, stage_reference
from pipelines.stage import StageResult, stage_all
from pipelines.sync import SyncResult, sync_source
from warehouse.engine import Warehouse
from warehouse.lock import run_lock

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

    @property
    def failed_sources(self) -> list[SyncResult]:
        return [s for s in self.syncs if s.status != "succeeded"]

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, c in self.checks.items() if c.failed]


def run_all(cfg: HubConfig, wh: Warehouse, sources: list[str] | None = None,
            progress: Callable[[str], None] | None = None, rebuild: bool = False) -> RunSummary:
    """Run the whole pipeline, then the data checks. A failing source or reference file is reported and the
    rest goes on."""
    progress = progress or log.info
    with run_lock(wh, "hub run"):
        return _run(cfg, wh, sources, progress, rebuild)


def _run(cfg: HubConfig, wh: Warehouse, sources: list[str] | None, progress: Callable[[str], None],
         rebuild: bool) -> RunSummary:
    started = time.monotonic()
    summary = RunSummary(warehouse=wh.location)
    names = [n for n, s in cfg.sources.items() if s.enabled and (sources is None or n in sources)]
    for name in names:
        progress(f"syncing {name} ({cfg.sources[name].connector})")
        result = sync_source(cfg, wh, name, progress=progress)
        summary.syncs.append(result)
        if result.status != "succeeded":
            progress(f"source {name} FAILED: {result.error}")
    summary.staged = stage_all(cfg, wh, progress=progress)
    stage_history(cfg, wh, progress=progress)
    try:
        summary.staged += stage_reference(cfg, wh, progress=progress)
    except ReferenceFileError as e:
        summary.problems.append(str(e))
        progress(f"reference file FAILED: {e}")
    summary.match = run_match(cfg, wh, progress=progress, rebuild=rebuild)
    summary.marts = publish(wh, progress=progress)
    summary.checks = run_checks(wh, cfg)
    summary.seconds = time.monotonic() - started
    return summary
