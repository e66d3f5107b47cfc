"""`hub fakes serve` and `hub fakes serve-all` as separate processes: URLs, export lines, clean stop."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from connectors.fakes.serve import DEMO_VARIABLES


def hub(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.05)


def exports(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            out[name] = shlex.split(value)[0]
    return out


def test_serve_all_writes_the_demo_variables_serves_and_stops_cleanly(tmp_path: Path) -> None:
    env_file = tmp_path / "fakes.env"
    proc = hub("fakes", "serve-all", "--entities", "30", "--env-file", str(env_file))
    try:
        wait_for(env_file, proc)
        env = exports(env_file.read_text(encoding="utf-8"))
        assert set(env) == {name for names in DEMO_VARIABLES.values() for name in names}
        for name in ("WECOM_BASE_URL", "DINGTALK_BASE_URL", "FXIAOKE_BASE_URL", "KINGDEE_BASE_URL"):
            assert env[name].startswith("http://127.0.0.1:")
            assert requests.get(f"{env[name]}/_fake/stats", timeout=5).status_code == 200
        assert len({env[n] for n in env if n.endswith("_BASE_URL")}) == 4  # DingTalk's two APIs share one
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert exports(out) == env  # the same lines on stdout
    assert not env_file.exists()  # removed on exit: no stale ports for the next demo


def test_serve_prints_the_url_and_stops_on_sigint(tmp_path: Path) -> None:
    proc = hub("fakes", "serve", "kingdee", "--entities", "20", "--faults", '{"slow_ms": 1}')
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_fake/faults", timeout=5).json()["slow_ms"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_serve_refuses_an_unknown_vendor_or_fault() -> None:
    for args in (["nope"], ["wecom", "--faults", '{"bogus": 1}'], ["wecom", "--faults", "[1]"]):
        proc = hub("fakes", "serve", *args)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and ("unknown" in err or "JSON object" in err), err
