"""The daily refresh of everything, and the weekly retraining of the prediction models."""

from __future__ import annotations

import dagster as dg

from dagster_project.jobs import AssetJob

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
