"""A MySQL/MariaDB CRM as an IT team has one, against a real MariaDB server: its own schema, mixed-case table and
column names, utf8mb4 Chinese, a datetime cursor, a login whose password holds `@`, and every row read."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from core import exit_codes
from hub.cli import main
from warehouse.engine import Warehouse

PASSWORD = "Crm@2024/#:ok"


def crm_database(url: str) -> tuple[str, str]:
    """A `Customers` table in the database of `url` and a login `crm_reader` that may read it: (database, role)."""
    engine = sa.create_engine(url)
    db = engine.url.database
    assert db
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE `Customers` (`CustID` varchar(20) PRIMARY KEY, `CustName` varchar(100), "
                          "`TaxNo` char(18), `UpdatedAt` datetime(3)) DEFAULT CHARSET=utf8mb4")
        c.exec_driver_sql("INSERT INTO `Customers` VALUES ('C001', '厦门优润包装材料有限公司', '91350200MA2XXXXX1X', "
                          "'2024-03-01 09:00:00'), ('C002', '福建省闽江建材贸易有限公司', NULL, "
                          "'2024-03-02 10:30:00'), "
                          "('C003', '𠀋记商行', '91350200MA2YYYYY2Y', '2024-03-02 10:30:00')")
        role = f"crm_{db[-8:]}"
        c.exec_driver_sql(f"DROP USER IF EXISTS '{role}'@'127.0.0.1'")
        c.exec_driver_sql(f"CREATE USER '{role}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
        c.exec_driver_sql(f"GRANT SELECT ON `{db}`.* TO '{role}'@'127.0.0.1'")
    engine.dispose()
    return db, role


def write_config(tmp_path: Path, url: str, **stream: object) -> Path:
    conf = {"warehouse": {"url": f"duckdb:///{tmp_path / 'w.duckdb'}"},
            "sources": {"crm": {"connector": "sql", "config": {"url": url}, "streams": {"customers": {
                "table": "Customers", "primary_key": "CustID", "cursor_field": "UpdatedAt", "entity": "customer",
                "mapping": {"name": "CustName", "uscc": "TaxNo", "updated_at": "UpdatedAt"}, **stream}}}}}
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
    return path


def test_a_mariadb_crm_syncs_incrementally_with_a_password_holding_at_signs(
        tmp_path: Path, mysql_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db, role = crm_database(mysql_url)
    u = sa.engine.make_url(mysql_url)
    monkeypatch.setenv("CRM_PASSWORD", PASSWORD)
    # the table schema-qualified (`db.Customers`); the password from ${VAR}, as it is
    cfg = write_config(tmp_path, f"mysql+pymysql://{role}:${{CRM_PASSWORD}}@{u.host}:{u.port}/{db}?charset=utf8mb4",
                       table=f"{db}.Customers")
    runner = CliRunner()
    r = runner.invoke(main, ["config", "validate", "--live", "-c", str(cfg)])
    assert r.exit_code == 0 and "crm: OK" in r.output, r.output
    r = runner.invoke(main, ["connectors", "sync", "-c", str(cfg)])
    assert r.exit_code == exit_codes.OK, r.output
    assert "crm: succeeded — 3 read, 3 new or changed" in r.output
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    rows = wh.read_frame("SELECT _key, _data FROM raw.crm__customers ORDER BY _key")
    assert rows["_key"].tolist() == ["C001", "C002", "C003"]
    assert '"CustName":"𠀋记商行"' in rows["_data"].iloc[2]  # a 4-byte character, intact
    wh.dispose()
    # a later change: only rows at or after the last cursor value are read again
    admin = sa.create_engine(mysql_url)
    with admin.begin() as c:
        c.exec_driver_sql("UPDATE `Customers` SET `CustName` = '厦门优润包装', `UpdatedAt` = '2024-03-05 08:00:00' "
                          "WHERE `CustID` = 'C001'")
    admin.dispose()
    r = runner.invoke(main, ["connectors", "sync", "-c", str(cfg)])
    assert r.exit_code == 0 and "crm: succeeded — 3 read, 1 new or changed" in r.output, r.output


def test_a_mariadb_column_in_the_wrong_case_and_a_wrong_password_are_clear_errors(
        tmp_path: Path, mysql_url: str) -> None:
    db, role = crm_database(mysql_url)
    u = sa.engine.make_url(mysql_url)
    cfg = write_config(tmp_path, f"mysql+pymysql://{role}:{PASSWORD}@{u.host}:{u.port}/{db}", primary_key="custid")
    r = CliRunner().invoke(main, ["connectors", "sync", "-c", str(cfg)])
    assert r.exit_code == exit_codes.FAILED
    assert "primary_key 'custid' is not a column of the source; did you mean 'CustID'?" in r.output
    wrong = "Wr0ng@pass/word"
    cfg = write_config(tmp_path, f"mysql+pymysql://{role}:{wrong}@{u.host}:{u.port}/{db}")
    r = CliRunner().invoke(main, ["connectors", "sync", "-c", str(cfg)])
    assert r.exit_code == exit_codes.FAILED
    assert "Access denied for user" in r.output, r.output
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    errors = " ".join(wh.read_frame("SELECT error FROM raw._syncs")["error"])
    wh.dispose()
    for fragment in ("Wr0ng", "pass/word", "Wr0ng%40"):
        assert fragment not in r.output and fragment not in errors


