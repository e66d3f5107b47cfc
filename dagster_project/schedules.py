"""The daily refresh of everything."""

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
