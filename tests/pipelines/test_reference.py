"""The marts' reference files (sales targets, channel costs): configured, typed, quarantined like any stream."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from core.config import ConfigError
from core.config_file import load_config
from pipelines.reference import ReferenceFileError, stage_reference
from warehouse.engine import Warehouse

TARGETS = """销售,团队,月份,目标金额
张伟,华东,2024-01,"100,000.00"
,华南,2024/02/01,250000
李娜,华南,2024-01,abc
王芳,,,5000
"""


def config(tmp_path: Path, marts: str) -> Path:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"warehouse: {{url: 'duckdb:///w.duckdb'}}\nmarts:\n{marts}", encoding="utf-8")
    return cfg


def rows(wh: Warehouse, sql: str) -> list[tuple]:
    with wh.begin() as c:
        return [tuple(r) for r in c.exec_driver_sql(sql).fetchall()]


def test_a_targets_csv_is_typed_and_its_bad_rows_quarantined(tmp_path: Path, warehouse_url: str) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "targets.csv").write_text(TARGETS, encoding="gbk")
    cfg = load_config(config(tmp_path, "  targets:\n    path: files/targets.csv\n    encoding: gbk\n"
                                       "    columns: {rep_key: 销售, team: 团队, month: 月份, amount: 目标金额}\n"))
    assert cfg.marts.targets.path == str(tmp_path.resolve() / "files" / "targets.csv")
    wh = Warehouse(warehouse_url)
    [result, holidays] = stage_reference(cfg, wh)  # and the public holidays of China, the default country
    assert holidays.stream == "holidays" and holidays.staged > 900
    assert (result.source, result.stream, result.staged, result.rejected) == ("marts_config", "targets", 2, 2)
    assert rows(wh, "SELECT source_key, rep_key, team, month, amount FROM staging.target ORDER BY source_key") == [
        ("2", "张伟", "华东", dt.date(2024, 1, 1), D("100000.00")),
        ("3", None, "华南", dt.date(2024, 2, 1), D("250000.00")),  # a team's target
    ]
    got = rows(wh, "SELECT record_key, field, value, reason, action, record FROM raw._quarantine "
                   "WHERE source = 'marts_config' ORDER BY record_key")
    assert [g[:5] for g in got] == [
        ("4", "amount", "abc", "not a number", "rejected"),
        ("5", "month", None, "required field is empty or missing", "rejected"),
    ]
    assert json.loads(got[0][5]) == {"销售": "李娜", "团队": "华南", "月份": "2024-01", "目标金额": "abc"}

    # the file fixed and staged again: its rows and quarantine are replaced, not added to
    (tmp_path / "files" / "targets.csv").write_text("销售,团队,月份,目标金额\n张伟,,2024-03,1\n", encoding="gbk")
    stage_reference(cfg, wh)
    assert rows(wh, "SELECT rep_key, amount FROM staging.target") == [("张伟", D("1.00"))]
    assert rows(wh, "SELECT COUNT(*) FROM raw._quarantine WHERE source = 'marts_config'") == [(0,)]


def test_channel_costs_from_xlsx_and_a_file_no_longer_configured_leaves_nothing(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "成本"
    for row in (["channel", "month", "amount"], ["展会", dt.datetime(2024, 1, 1), 800], ["广告", None, 300.5]):
        sheet.append(row)
    book.save(tmp_path / "costs.xlsx")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    cfg = load_config(config(tmp_path, "  channel_costs: {path: costs.xlsx, sheet: 成本}\n"))
    stage_reference(cfg, wh)
    assert rows(wh, "SELECT channel, month, amount FROM staging.channel_cost ORDER BY channel") == [
        ("展会", dt.date(2024, 1, 1), D("800.00")), ("广告", None, D("300.50"))]
    stage_reference(load_config(config(tmp_path, "  freshness_hours: 2\n")), wh)
    assert rows(wh, "SELECT COUNT(*) FROM staging.channel_cost") == [(0,)]


def test_a_missing_file_or_column_is_an_error_naming_it(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    cfg = load_config(config(tmp_path, "  targets: {path: nowhere.csv}\n"))
    with pytest.raises(ReferenceFileError, match=r"marts.targets: .*nowhere.csv: file not found"):
        stage_reference(cfg, wh)
    (tmp_path / "t.csv").write_text("rep,month,amount\n", encoding="utf-8")
    cfg = load_config(config(tmp_path, "  targets: {path: t.csv}\n"))
    with pytest.raises(ReferenceFileError, match=r"no column 'rep_key' or 'team'; the file has: rep, month, amount"):
        stage_reference(cfg, wh)


def test_the_marts_section_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"targets.columns: unknown field\(s\) 'rep'; expected some of: rep_key"):
        load_config(config(tmp_path, "  targets: {path: t.csv, columns: {rep: 销售}}\n"))
    with pytest.raises(ConfigError, match="reserved for the files of the `marts` section"):
        load_config(config(tmp_path, "  freshness_hours: 1\nsources:\n  marts_config: {connector: sql, "
                                     "config: {url: 'sqlite:///x.sqlite'}}\n"))


def test_reference_dates_are_read_in_the_configured_time_zone(tmp_path: Path) -> None:
    """A zoned time or an epoch number is a date in the config's `timezone`, as for every stream."""
    (tmp_path / "t.csv").write_text("rep,month,amount\n张伟,2024-02-01T03:00:00+08:00,1\n李娜,1706720400000,2\n",
                                    encoding="utf-8")
    got = {}
    for zone in ("Asia/Shanghai", "America/Los_Angeles"):
        cfg_path = config(tmp_path, "  targets: {path: t.csv, columns: {rep_key: rep}}\n")
        cfg_path.write_text(f"timezone: {zone}\n" + cfg_path.read_text(encoding="utf-8"), encoding="utf-8")
        wh = Warehouse(f"duckdb:///{tmp_path / (zone.replace('/', '_') + '.duckdb')}")
        stage_reference(load_config(cfg_path), wh)
        got[zone] = rows(wh, "SELECT rep_key, month FROM staging.target ORDER BY source_key")
    # 2024-02-01 03:00 in Shanghai and 2024-01-31 17:00 UTC are both 31 January in Los Angeles.
    assert got["Asia/Shanghai"] == [("张伟", dt.date(2024, 2, 1)), ("李娜", dt.date(2024, 2, 1))]
    assert got["America/Los_Angeles"] == [("张伟", dt.date(2024, 1, 31)), ("李娜", dt.date(2024, 1, 31))]


def test_fx_rates_holidays_and_the_marts_settings_are_staged(tmp_path: Path) -> None:
    (tmp_path / "fx.csv").write_text("month,currency,rate\n2024-01,USD,7.123456789\n2024-02,jpy,0.0476\n"
                                     "2024-03,EUR,-1\n", encoding="utf-8")
    cfg = load_config(config(tmp_path, "  fx_rates: {path: fx.csv}\n  currency: cny\n  revenue: [booked, draft]\n"
                                       "  calendar: {fiscal_year_start: 4}\n"
                                       "  order_status: {erp: {booked: [C], draft: [A, ' B ']}}\n"
                                       "sources:\n  erp: {connector: sql, config: {url: 'sqlite:///x.sqlite'}}\n"))
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    stage_reference(cfg, wh)
    # rates exactly, to 8 decimals (7.123456789 rounds half away from zero); a rate below 0 is rejected
    assert rows(wh, "SELECT month, currency, rate FROM staging.fx_rate ORDER BY month") == [
        (dt.date(2024, 1, 1), "USD", D("7.12345679")), (dt.date(2024, 2, 1), "jpy", D("0.04760000"))]
    assert rows(wh, "SELECT record_key, field, reason FROM raw._quarantine") == [("4", "rate", "not a rate above 0")]
    # China's holidays and its make-up working days (调休) from the holidays package
    assert rows(wh, "SELECT day, name, kind FROM staging.holiday WHERE day IN (DATE '2026-02-14', "
                    "DATE '2026-02-17', DATE '2026-02-18') ORDER BY day") == [
        (dt.date(2026, 2, 14), "调休上班", "workday"), (dt.date(2026, 2, 17), "春节", "holiday"),
        (dt.date(2026, 2, 18), "春节", "holiday")]
    assert rows(wh, "SELECT source, status, status_class FROM staging.order_status ORDER BY status") == [
        ("erp", "A", "draft"), ("erp", "B", "draft"), ("erp", "C", "booked")]
    assert rows(wh, "SELECT name, value FROM staging.mart_setting ORDER BY name, value") == [
        ("currency", "CNY"), ("fiscal_year_start", "4"), ("revenue_class", "booked"), ("revenue_class", "draft")]

    # a holidays file replaces the package's days; no country: no holidays at all
    (tmp_path / "days.csv").write_text("day,name,kind\n2024-12-26,Boxing Day,holiday\n", encoding="utf-8")
    stage_reference(load_config(config(tmp_path, "  holidays: {path: days.csv}\n")), wh)
    assert rows(wh, "SELECT day, name, kind FROM staging.holiday") == [(dt.date(2024, 12, 26), "Boxing Day", "holiday")]
    stage_reference(load_config(config(tmp_path, "  calendar: {country: ''}\n")), wh)
    assert rows(wh, "SELECT COUNT(*) FROM staging.holiday") == [(0,)]


def test_the_order_statuses_currency_and_calendar_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"marts.order_status: no source 'kingdee'; the sources are: \(none\)"):
        load_config(config(tmp_path, "  order_status: {kingdee: {booked: [C]}}\n"))
    with pytest.raises(ConfigError, match=r"status 'c' is both booked and draft"):
        load_config(config(tmp_path, "  order_status: {erp: {booked: [C], draft: [c]}}\n"
                                     "sources:\n  erp: {connector: sql, config: {url: 'sqlite:///x.sqlite'}}\n"))
    with pytest.raises(ConfigError, match="expected an ISO currency code like CNY, got 'yuan'"):
        load_config(config(tmp_path, "  currency: yuan\n"))
    with pytest.raises(ConfigError, match="no public holidays known for country 'XX'"):
        load_config(config(tmp_path, "  calendar: {country: XX}\n"))
    with pytest.raises(ConfigError, match="fiscal_year_start"):
        load_config(config(tmp_path, "  calendar: {fiscal_year_start: 13}\n"))
    with pytest.raises(ConfigError, match="unknown entity 'order_status'"):  # filled from the config only
        load_config(config(tmp_path, "  freshness_hours: 1\nsources:\n  erp: {connector: sql, config: {url: "
                                     "'sqlite:///x.sqlite'}, streams: {s: {table: t, entity: order_status}}}\n"))


def test_the_holidays_are_worked_out_again_only_when_what_they_are_made_from_changed(tmp_path: Path) -> None:
    """The staged days record the country, the years and the package version they came from; a stage with the same
    reads nothing (even a digest of the rows that no longer matches is not looked at), another country stages anew."""
    from importlib import metadata

    from warehouse.changes import set_watermark, watermark

    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    first = stage_reference(load_config(config(tmp_path, "  calendar: {country: CN}\n")), wh)[-1]
    years = f"1990-{dt.date.today().year + 10}"
    with wh.begin() as conn:
        mark = watermark(conn, "stage:marts_config.holidays")
        assert mark is not None and mark[1]["made_from"] == f"CN:{years}:holidays {metadata.version('holidays')}"
        set_watermark(conn, "stage:marts_config.holidays", 0, {**mark[1], "digest": "not these rows"})
    again = stage_reference(load_config(config(tmp_path, "  calendar: {country: CN}\n")), wh)[-1]
    assert first.full and not again.full and again.total == first.total > 900
    other = stage_reference(load_config(config(tmp_path, "  calendar: {country: HK}\n")), wh)[-1]
    assert other.full and rows(wh, "SELECT name FROM staging.holiday WHERE day = DATE '2024-12-26'") == [
        ("The first weekday after Christmas Day",)]


def test_a_reference_file_is_not_staged_again_for_its_settings_written_in_another_order(tmp_path: Path) -> None:
    """Its settings count by value, not by the order the file lists them in (a config rewritten by a tool that
    sorts keys had staged the targets again, and rebuilt the marts reading them); another setting stages anew."""
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "targets.csv").write_text(TARGETS, encoding="gbk")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")

    def stage(columns: str, encoding: str = "gbk") -> bool:
        cfg = load_config(config(tmp_path, f"  targets:\n    path: files/targets.csv\n    encoding: {encoding}\n"
                                           f"    columns: {columns}\n"))
        return stage_reference(cfg, wh)[0].full

    assert stage("{rep_key: 销售, team: 团队, month: 月份, amount: 目标金额}")
    assert not stage("{amount: 目标金额, month: 月份, rep_key: 销售, team: 团队}")
    assert stage("{amount: 目标金额, month: 月份, rep_key: 销售}")  # (no team: a setting changed)
