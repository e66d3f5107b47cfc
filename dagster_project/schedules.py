"""The daily refresh of everything, the schedules of sources that have their own (`schedule:` in the config), and
the weekly retraining of the prediction models."""

from __future__ import annotations

import dagster as dg

from core.config import HubConfig
from dagster_project.jobs import AssetJob, refresh_job_name

DAILY_CRON = "0 2 * * *"
TIMEZONE = "Asia/Shanghai"


def daily_schedule(job: AssetJob) -> dg.ScheduleDefinition:
    """Run `job` (every asset) at 02:00 China time, after the sources' nightly exports."""
    return dg.ScheduleDefinition(name="daily_refresh", job=job, cron_schedule=DAILY_CRON, execution_timezone=TIMEZONE,
                                 default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="the whole pipeline, every night")


WEEKLY_CRON = "0 3 * * 0"


def retrain_schedule(job: AssetJob) -> dg.ScheduleDefinition:
    """Retrain the prediction models (`job`) on Sundays at 03:00 China time, after the nightly refresh."""
    return dg.ScheduleDefinition(name="weekly_retrain", job=job, cron_schedule=WEEKLY_CRON,
                                 execution_timezone=TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="retrain the win and lead models, with their backtests")


def source_schedules(cfg: HubConfig) -> list[dg.ScheduleDefinition]:
    """`schedule_<source>`: the source's `refresh_<source>` job (its sync and everything downstream) at its cron
    times in its time zone."""
    return [dg.ScheduleDefinition(name=f"schedule_{name}", job_name=refresh_job_name(name),
                                  cron_schedule=s.schedule.cron, execution_timezone=s.schedule.timezone,
                                  default_status=dg.DefaultScheduleStatus.RUNNING,
                                  description=f"sync {name} and rebuild everything downstream of it")
            for name, s in cfg.sources.items() if s.enabled and s.schedule]
