"""SQL Server (pymssql) and Oracle (oracledb, thin mode) sources, as far as their drivers go without a server here:
the driver loads, the URL (a password holding @ / #) reaches the right host, and a refused connection is a clear
error with nothing of the password. (MariaDB and PostgreSQL are tested against real servers.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connectors.sql.engines import source_engine
from core.config_file import encode_url_credentials
from hub.cli import main

PASSWORD = "Crm@2024/#1"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize(("url", "dialect"), [
    ("mssql+pymssql://crm:{pw}@127.0.0.1:{port}/crm", "mssql"),
    ("oracle+oracledb://crm:{pw}@127.0.0.1:{port}/?service_name=XEPDB1", "oracle"),
])
def test_an_unreachable_server_is_a_clear_error_without_the_password(tmp_path: Path, url: str, dialect: str) -> None:
    port = closed_port()
    full = url.format(pw=PASSWORD, port=port)
    engine = source_engine(encode_url_credentials(full)[0])
    assert (engine.dialect.name, engine.url.password, engine.url.host, engine.url.port) == (
        dialect, PASSWORD, "127.0.0.1", port)
    engine.dispose()
    conf = {"warehouse": {"url": f"duckdb:///{tmp_path / 'w.duckdb'}"},
            "sources": {"crm": {"connector": "sql", "config": {"url": full}, "streams": {
                "customers": {"table": "CRM.CUSTOMERS", "primary_key": "CUSTID"}}}}}
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(conf), encoding="utf-8")
    r = CliRunner().invoke(main, ["connectors", "check", "-c", str(tmp_path / "hub.yaml")])
    assert r.exit_code == 1, r.output
    assert "crm: FAILED: " in r.output and f"database {full.split(':')[0]}://crm:****@127.0.0.1:{port}/" in r.output
    assert "refused" in r.output.lower() or "cannot connect" in r.output, r.output
    for fragment in ("Crm@2024", "2024/#1", "Crm%402024"):
        assert fragment not in r.output, r.output
