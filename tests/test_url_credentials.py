"""A database password holding `@`, `/`, `#` or `:` works, written as is or from `${VAR}`, and nothing of it reaches
an error, a log or `raw._syncs.error`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from core.config_file import encode_url_credentials, load_config
from hub.cli import main
from warehouse.engine import Warehouse

PASSWORD = "p@ss/w#rd:Secret9"


@pytest.mark.parametrize(("url", "encoded", "password"), [
    ("postgresql+psycopg://hub:p@ss@127.0.0.1:5432/hub", "postgresql+psycopg://hub:p%40ss@127.0.0.1:5432/hub", "p@ss"),
    (f"mysql+pymysql://crm:{PASSWORD}@db.local:3306/crm?charset=utf8mb4",
     "mysql+pymysql://crm:p%40ss%2Fw%23rd%3ASecret9@db.local:3306/crm?charset=utf8mb4", PASSWORD),
    ("mysql+pymysql://crm:p%40ss@db.local/crm", "mysql+pymysql://crm:p%40ss@db.local/crm", "p@ss"),  # as it was
    ("postgresql://db.local/crm?application_name=a@b", "postgresql://db.local/crm?application_name=a@b", None),
    ("sqlite:///crm.db", "sqlite:///crm.db", None),
])
def test_credentials_are_percent_encoded_once(url: str, encoded: str, password: str | None) -> None:
    assert encode_url_credentials(url) == (encoded, password)
    if password:
        parsed = sa.engine.make_url(encoded)
        assert (parsed.password, parsed.host) == (password, url.split("@")[-1].split(":")[0].split("/")[0])


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CONFIG = """\
warehouse: {{url: "duckdb:///w.duckdb"}}
sources:
  crm:
    connector: sql
    config: {{url: "{url}"}}
    streams:
      customers: {{table: customers, primary_key: id, entity: customer, mapping: {{name: name}}}}
"""


@pytest.mark.parametrize("written", ["literal", "variable"])
def test_a_failed_connection_shows_no_part_of_the_password(tmp_path: Path, written: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    password = PASSWORD if written == "literal" else "${CRM_PASSWORD}"
    monkeypatch.setenv("CRM_PASSWORD", PASSWORD)
    (tmp_path / "hub.yaml").write_text(CONFIG.format(url=f"postgresql+psycopg://crm:{password}@127.0.0.1:{port}/crm"),
                                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["connectors", "sync", "-c", "hub.yaml"])
    assert r.exit_code == 1, r.output
    assert f"127.0.0.1:{port}" in r.output or "127.0.0.1" in r.output, r.output  # the real host is named
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    error = str(wh.scalar("SELECT error FROM raw._syncs"))
    wh.dispose()
    for text in (r.output, error):
        for fragment in ("p@ss", "w#rd", "Secret9", "p%40ss", "ss/w"):
            assert fragment not in text, text


def test_a_password_with_at_signs_connects_to_the_right_server(tmp_path: Path, pg_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: a login role whose password holds `@`, `/`, `#` and `:`, given through `${VAR}`."""
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    role = f"crm_{tmp_path.name[-8:].replace('-', '_').lower()}"
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        c.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        c.exec_driver_sql("CREATE TABLE customers (id text PRIMARY KEY, name text)")
        c.exec_driver_sql("INSERT INTO customers VALUES ('C1', '甲公司'), ('C2', '乙公司')")
        c.exec_driver_sql(f"GRANT SELECT ON customers TO {role}")
    parsed = sa.engine.make_url(pg_url)
    monkeypatch.setenv("CRM_PASSWORD", PASSWORD)
    url = f"postgresql+psycopg://{role}:${{CRM_PASSWORD}}@{parsed.host}:{parsed.port}/{parsed.database}"
    (tmp_path / "hub.yaml").write_text(CONFIG.format(url=url), encoding="utf-8")
    cfg = load_config(tmp_path / "hub.yaml")
    assert sa.engine.make_url(cfg.sources["crm"].config["url"]).password == PASSWORD
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["connectors", "sync", "-c", "hub.yaml"])
    assert r.exit_code == 0, r.output
    assert "crm: succeeded — 2 read" in r.output
    with admin.connect() as c:
        c.exec_driver_sql("DROP TABLE customers")
        c.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()
