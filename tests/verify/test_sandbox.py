"""The sandbox refuses network, enforces time/memory/file limits, kills the process group and strips
credentials from the environment."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from auditor.verify.sandbox import run_sandboxed, scrub_env

MB = 1024 * 1024


def _py(tmp_path: Path, code: str, **kwargs):  # type: ignore[no-untyped-def]
    script = tmp_path / "probe.py"
    script.write_text(code)
    kwargs.setdefault("timeout_s", 20)
    kwargs.setdefault("mem_bytes", 1024 * MB)
    return run_sandboxed([sys.executable, "-s", str(script)], cwd=tmp_path, **kwargs)


def test_network_is_refused_at_the_socket_layer(tmp_path: Path) -> None:
    res = _py(tmp_path, "\n".join([
        "import socket",
        "for attempt in (lambda: socket.create_connection(('1.1.1.1', 80), timeout=2),",
        "                lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),",
        "                lambda: socket.getaddrinfo('example.com', 443)):",
        "    try:",
        "        attempt()",
        "        print('CONNECTED')",
        "    except OSError as exc:",
        "        print('refused:', exc)",
        "a, b = socket.socketpair(socket.AF_UNIX)",
        "print('unix ok')",
    ]))
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("refused:") == 3 and "CONNECTED" not in res.stdout and "unix ok" in res.stdout
    assert "socket guard" in res.isolation


def test_wallclock_timeout_kills_the_process_group(tmp_path: Path) -> None:
    res = _py(tmp_path, "\n".join([
        "import subprocess, sys, time",
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])",
        "open('child.pid', 'w').write(str(child.pid))",
        "time.sleep(60)",
    ]), timeout_s=2)
    assert res.timed_out and res.returncode is None and res.wall_s < 30
    pid = int((tmp_path / "child.pid").read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"


def test_memory_limit(tmp_path: Path) -> None:
    res = _py(tmp_path, "block = bytearray(2 * 1024 ** 3)\nprint('allocated')", mem_bytes=512 * MB)
    assert res.returncode != 0 and "allocated" not in res.stdout and "MemoryError" in res.stderr


def test_file_size_limit(tmp_path: Path) -> None:
    res = _py(tmp_path, "open('big.bin', 'wb').write(b'x' * (8 * 1024 ** 2))\nprint('written')",
              max_file_bytes=1 * MB)
    assert "written" not in res.stdout and (tmp_path / "big.bin").stat().st_size <= 1 * MB


def test_environment_is_stripped_of_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("SOME_PASSWORD", "hunter2")
    res = _py(tmp_path, "import os, json; print(json.dumps(dict(os.environ)))",
              env={"GITHUB_TOKEN": "ghp_x", "NUM_LAYERS": "11"})
    assert "hf_secret" not in res.stdout and "hunter2" not in res.stdout and "ghp_x" not in res.stdout
    assert '"NUM_LAYERS": "11"' in res.stdout and f'"HOME": "{tmp_path}"' in res.stdout
    assert scrub_env({"AWS_ACCESS_KEY_ID": "a", "OPENAI_API_KEY": "b", "SEED": "1"}) == {"SEED": "1"}
    assert os.environ.get("HF_TOKEN") == "hf_secret"  # the parent is untouched
