"""Sensors: a run when a file source (or a reference file) gets a new or changed file."""

import glob
import hashlib
import json
import os

import dagster as dg

from core.config import HubConfig
from dagster_project.jobs import REFERENCE_JOB, AssetJob, file_sources, reference_files, refresh_job_name

# Runs in these states still write to the warehouse: wait for them (an embedded DuckDB file has one writer).
_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED]


def snapshot(patterns: list[str]) -> dict[str, list[int]]:
    """Each file a path or glob matches now, with its modification time (ns) and size."""
    files: dict[str, list[int]] = {}
    for pattern in patterns:
        paths = glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else [pattern]
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            if os.path.isfile(p):
                files[p] = [st.st_mtime_ns, st.st_size]
    return dict(sorted(files.items()))


def watched(cfg: HubConfig) -> dict[str, list[str]]:
    """Job name → the paths and globs whose new or changed files start it."""
    out = {refresh_job_name(source): paths for source, paths in file_sources(cfg).items()}
    if reference_files(cfg):
        out[REFERENCE_JOB] = reference_files(cfg)
    return out


def changed_files(previous: dict[str, list[int]], current: dict[str, list[int]]) -> list[str]:
    """Files that are new or whose time or size changed (a removed file starts nothing)."""
    return [f for f, sig in current.items() if previous.get(f) != sig]


def file_sensor(cfg: HubConfig, jobs: list[AssetJob]) -> dg.SensorDefinition:
    """Polls the file sources' paths and globs; cursor: JSON {job: {file: [mtime_ns, size]}}.

    The first evaluation only records what is there (the daily schedule covers existing files). While a
    run is active the sensor waits without moving its cursor, so a change is never lost.
    """
    patterns = watched(cfg)
    targets = [j for j in jobs if j.name in patterns]

    @dg.sensor(name="file_sources_changed", jobs=targets, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="a run of a file source's sync and everything downstream when it gets a new or changed "
                           "file")
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        current = {job: snapshot(p) for job, p in patterns.items()}
        cursor = json.dumps(current, sort_keys=True)
        if context.cursor is None:
            n = sum(len(f) for f in current.values())
            return dg.SensorResult(skip_reason=f"first look: {n} file(s) recorded", cursor=cursor)
        previous: dict[str, dict[str, list[int]]] = json.loads(context.cursor)
        requests = []
        for job, files in current.items():
            changed = changed_files(previous.get(job, {}), files)
            if changed:
                key = hashlib.sha1(json.dumps({f: files[f] for f in changed}, sort_keys=True).encode()).hexdigest()
                requests.append(dg.RunRequest(job_name=job, run_key=f"{job}:{key[:16]}",
                                              tags={"hub/changed_files": ", ".join(changed)[:1000]}))
        if not requests:
            return dg.SensorResult(skip_reason="no new or changed file", cursor=cursor)
        if context.instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE), limit=1):
            return dg.SkipReason("a run is active: looking again at the next tick")
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor

