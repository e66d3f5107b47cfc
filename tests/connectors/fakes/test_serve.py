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


def test_serve_all_takes_the_ports_it_is_given_and_names_a_busy_one(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env_file = tmp_path / "fakes.env"
    proc = hub("fakes", "serve-all", "--entities", "30", "--port", f"kingdee={port}", "--env-file", str(env_file))
    try:
        wait_for(env_file, proc)
        env = exports(env_file.read_text(encoding="utf-8"))
        assert env["KINGDEE_BASE_URL"] == f"http://127.0.0.1:{port}"  # (the others on free ports)
        assert requests.get(f"http://127.0.0.1:{port}/_fake/stats", timeout=5).status_code == 200
        busy = hub("fakes", "serve-all", "--entities", "30", "--port", f"kingdee={port}")
        _, err = busy.communicate(timeout=60)
        assert busy.returncode == 1 and f"kingdee on 127.0.0.1:{port}" in err, err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    for bad in ("nope=1", "wecom", "wecom=0", "wecom=x"):
        proc = hub("fakes", "serve-all", "--port", bad)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and "--port" in err, err


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
