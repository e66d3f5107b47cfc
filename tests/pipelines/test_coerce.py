"""Typing of staged values: the date forms sources write, epochs and zones, amounts."""

from __future__ import annotations

import warnings
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest

from pipelines.coerce import amount_currency, currency_of, money_array, parse_date, parse_decimal, parse_timestamp


def test_text_dates_in_the_forms_sources_write() -> None:
    s = pd.Series(["2024-02-17 19:48:23", "2024/2/7 09:08:07", "2024年2月17日", "20240217", " ", None, "2023-02-30"])
    out, bad = parse_timestamp(s)
    assert [str(x) for x in out[:4]] == ["2024-02-17 19:48:23", "2024-02-07 09:08:07", "2024-02-17 00:00:00",
                                         "2024-02-17 00:00:00"]
    assert bad.tolist() == [False, False, False, False, False, False, True]  # an impossible date is flagged


def test_fractions_of_a_second_are_kept_not_read_as_a_dates_separator() -> None:
    """APIs write milliseconds (Kingdee's FModifyDate, ISO stamps): the dot after the seconds is a decimal point,
    while 2024.01.08 is still a date."""
    ts, bad = parse_timestamp(pd.Series(["2024-01-08T10:09:47.433", "2024/01/08 10:09:47.5", "2024.01.08 10:09:47",
                                         "2024-01-08 10:09:47.123456"]))
    assert not bad.any()
    assert ts.tolist() == [pd.Timestamp("2024-01-08 10:09:47.433"), pd.Timestamp("2024-01-08 10:09:47.500"),
                           pd.Timestamp("2024-01-08 10:09:47"), pd.Timestamp("2024-01-08 10:09:47.123456")]


def test_a_date_with_the_year_last_is_no_zone_and_dotted_dates_are_day_first() -> None:
    """08-01-2024 ends like a zone (-20:24), and had been read as 08:00 of that day in Beijing (the day before, west
    of UTC); a zone counts only after a time of day. Dotted dates are written day first."""
    s = pd.Series(["08.01.2024", "8.1.2024 10:30:05", "31.12.2023", "01/08/2024", "2023-07-06 07:30:00 +0800"])
    for tz in ("Asia/Shanghai", "America/Los_Angeles"):
        out, bad = parse_timestamp(s, tz=tz)
        assert not bad.any()
        assert [str(x) for x in out[:4]] == ["2024-01-08 00:00:00", "2024-01-08 10:30:05", "2023-12-31 00:00:00",
                                             "2024-01-08 00:00:00"]
        assert str(parse_date(s[:1], tz=tz)[0].iloc[0]) == "2024-01-08 00:00:00"
    assert str(parse_timestamp(s[4:])[0].iloc[0]) == "2023-07-06 07:30:00"  # (a zone after the time still counts)


def test_a_two_digit_year_is_reported_not_guessed_and_read_with_its_format() -> None:
    """24-01-08, 08/01/24, 1/8/24: which is the year, and which century? Each is reported as not a date (counted,
    not silently dated); the mapping's `format` reads it."""
    s = pd.Series(["24-01-08", "08/01/24", "1/8/24", "99-12-31", "2024-1-8"])
    out, bad = parse_date(s)
    assert bad.tolist() == [True, True, True, True, False]
    assert out.isna().tolist() == [True, True, True, True, False]
    out, bad = parse_date(s[[0, 3]], fmt="%y-%m-%d")
    assert not bad.any() and [str(x.date()) for x in out] == ["2024-01-08", "1999-12-31"]
    out, bad = parse_date(s[[1]], fmt="%d/%m/%y")
    assert not bad.any() and str(out.iloc[0].date()) == "2024-01-08"


def test_zone_names_utc_and_gmt_are_read_others_are_reported_and_a_time_alone_is_no_date() -> None:
    """HTTP and Java dates name their zone. UTC and GMT are read as such. Another name is reported, not guessed
    (CST: China's or the US's?), as is UTC+8 (+8 or, by POSIX, -8?) and a zone dateutil finds elsewhere (alone or
    beside plain values). A time of day alone was dated today by dateutil (a staged value that changed every day):
    it is no date. Zone names had stopped staging with a pandas error."""
    s = pd.Series(["Tue, 09 Jan 2024 10:00:00 GMT", "Tue Jan 09 10:00:00 GMT 2024", "2024-01-08 10:00 UTC",
                   "5 Jan 2024 10:00 PM", "2024-01-08 10:00+8", "20240108T1000Z", "2024-01-08 10:00 CST",
                   "Tue Jan 09 10:00:00 CST 2024", "2024-01-08 10:00 UTC+8", "10:00 2024-01-08 GMT", "13:45",
                   "1.2.3.4"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (and no warning on the way)
        out, bad = parse_timestamp(s)
        alone, alone_bad = parse_timestamp(s[9:10])
    assert [str(x) for x in out[:6]] == ["2024-01-09 18:00:00", "2024-01-09 18:00:00", "2024-01-08 18:00:00",
                                         "2024-01-05 22:00:00", "2024-01-08 10:00:00", "2024-01-08 18:00:00"]
    assert bad.tolist() == [False] * 6 + [True] * 6 and out[6:].isna().all()
    assert alone.isna().all() and alone_bad.all()


def test_epochs_and_zoned_text_become_wall_clock_time_of_the_configured_zone() -> None:
    # 2023-07-05 23:30 UTC is 2023-07-06 07:30 in Beijing: an order placed that morning is dated the 6th.
    s = pd.Series(["1688599800000", "1688599800", "2023-07-05T23:30:00Z", "2023-07-06T07:30:00+08:00"])
    out, bad = parse_timestamp(s)
    assert not bad.any()
    assert set(out.astype(str)) == {"2023-07-06 07:30:00"}
    assert str(parse_date(s[:1])[0].iloc[0]) == "2023-07-06 00:00:00"
    out_utc, _ = parse_timestamp(s, tz="UTC")
    assert set(out_utc.astype(str)) == {"2023-07-05 23:30:00"}
    naive, _ = parse_timestamp(pd.Series(["2023-07-06 07:30:00"]), tz="UTC")
    assert str(naive.iloc[0]) == "2023-07-06 07:30:00"  # text without a zone is kept as written


def test_amounts() -> None:
    out, bad = parse_decimal(pd.Series(["¥1,234.565", "(12.50)", "3 元", "十二万", "", "1e400", "$250.00",
                                        "9999999999999999.99", "10000000000000000"]))
    assert out[:3].tolist() == [D("1234.57"), D("-12.50"), D("3.00")]
    assert out[6:8].tolist() == [D("250.00"), D("9999999999999999.99")]  # the largest DECIMAL(18,2)
    assert bad.tolist() == [False, False, False, True, False, True, False, False, True]


def test_amounts_are_exact_decimals_rounded_half_away_from_zero() -> None:
    # Through a float, 1.005 is 1.00499999999999989… and rounds down while 10.005 rounds up: no float step here.
    out, bad = parse_decimal(pd.Series(["1.005", "10.005", "-2.675", "0.125", "1E5", 1000.1]))
    assert out.tolist() == [D("1.01"), D("10.01"), D("-2.68"), D("0.13"), D("100000.00"), D("1000.10")]
    assert not bad.any()
    total = money_array(pd.Series(["0.10"] * 10_000 + ["0.20"] * 10_000))
    assert sum(total.to_pylist()) == D("3000.00")


def test_the_currency_an_amount_names_and_the_currency_field() -> None:
    amounts = pd.Series(["$250.00", "HK$ 1,000", "¥1,000", "3 元", "RMB 12", "250.00", "$9", "7"])
    field = pd.Series([None, None, None, None, None, " usd ", "CNY", "人民币"])
    assert amount_currency(amounts).tolist() == ["USD", "HKD", "CNY", "CNY", "CNY", None, "USD", None]
    currency, clash = currency_of(amounts, field)
    assert currency.tolist() == ["USD", "HKD", "CNY", "CNY", "CNY", "USD", "CNY", "CNY"]
    assert clash.tolist() == [False] * 6 + [True, False]  # "$9" in a CNY record


def test_unknown_time_zone_is_a_config_error(tmp_path: Path) -> None:
    from core.config import ConfigError
    from core.config_file import load_config

    p = tmp_path / "hub.yaml"
    p.write_text("timezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        load_config(p, env={})
