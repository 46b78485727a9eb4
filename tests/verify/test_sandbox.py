"""The sandbox refuses network, enforces time/memory/file limits, kills the process group and strips
credentials from the environment."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.verify import landlock, sandbox
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


def test_writes_outside_the_working_directory_are_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside.txt"
    res = _py(work, "\n".join([
        "import os, sys",
        f"for path in ({str(outside)!r}, 'inside.txt', os.path.join(os.environ['TMPDIR'], 't.txt'), '/dev/null'):",
        "    try:",
        "        open(path, 'w').write('x')",
        "        print('wrote', path)",
        "    except OSError as exc:",
        "        print('refused', path, exc.errno)",
    ]))
    if landlock.abi_version() == 0:
        assert "writes not confined" in res.isolation
        pytest.skip("this kernel has no Landlock")
    assert f"refused {outside} 13" in res.stdout and not outside.exists()
    assert res.stdout.count("wrote") == 3 and (work / "inside.txt").exists()
    assert "writes only beneath" in res.isolation


def test_a_fork_bomb_is_capped_and_cleaned_up(tmp_path: Path) -> None:
    res = _py(tmp_path, "\n".join([
        "import os, time",
        "born = 0",
        "try:",
        "    while born < 500:",
        "        if os.fork() == 0:",
        "            time.sleep(60)",
        "            os._exit(0)",
        "        born += 1",
        "except OSError as exc:",
        "    print('refused after', born, type(exc).__name__)",
        "else:",
        "    print('forked', born)",
    ]), max_procs=32)
    assert "refused after" in res.stdout, res.stdout + res.stderr
    assert int(res.stdout.split()[2]) < 40
    assert res.stragglers >= 20  # the sleeping children were killed when the command ended
    assert not _probes_running(tmp_path / "probe.py")


def _probes_running(script: Path) -> list[int]:
    """Pids of live (not zombie) processes running `script`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] != "Z" and str(script) in cmdline:
            found.append(int(entry.name))
    return found


def test_children_that_leave_the_session_are_killed(tmp_path: Path) -> None:
    res = _py(tmp_path, "\n".join([
        "import subprocess, sys",
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)",
        "open('child.pid', 'w').write(str(child.pid))",
        "print('parent exits')",
    ]))
    if "pids cgroup" not in res.isolation:
        pytest.skip("no writable pids cgroup: a child that calls setsid() cannot be found")
    assert res.returncode == 0 and res.stragglers == 1
    stat = Path(f"/proc/{int((tmp_path / 'child.pid').read_text())}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"


def test_a_child_without_the_socket_guard_still_has_no_network(tmp_path: Path) -> None:
    res = _py(tmp_path, "\n".join([
        "import subprocess, sys",
        "probe = 'import socket; socket.create_connection((\"1.1.1.1\", 80), timeout=3); print(\"CONNECTED\")'",
        "done = subprocess.run([sys.executable, '-I', '-c', probe], capture_output=True, text=True)",
        "print(done.stdout, done.stderr.strip().splitlines()[-1])",
    ]))
    if "unshare" not in res.isolation and landlock.abi_version() < 4:
        pytest.skip("neither a network namespace nor Landlock TCP rules on this machine")
    assert "CONNECTED" not in res.stdout and "Error" in res.stdout, res.stdout + res.stderr


def test_signals_to_processes_outside_the_sandbox_are_refused(tmp_path: Path) -> None:
    if landlock.abi_version() < 6:
        pytest.skip("signal scoping needs Landlock ABI 6")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        res = _py(tmp_path, "\n".join([
            "import os, signal",
            "try:",
            f"    os.kill({bystander.pid}, signal.SIGKILL)",
            "    print('killed')",
            "except PermissionError:",
            "    print('refused')",
        ]))
        assert res.stdout.strip() == "refused" and bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_loopback_mode_lets_processes_talk_locally_and_nowhere_else(tmp_path: Path) -> None:
    res = _py(tmp_path, "\n".join([
        "import socket, threading",
        "server = socket.socket()",
        "server.bind(('127.0.0.1', 0))",
        "server.listen(1)",
        "threading.Thread(target=lambda: server.accept()[0].sendall(b'hello')).start()",
        "print('loopback', socket.create_connection(server.getsockname()).recv(5).decode())",
        "try:",
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)",
        "    print('CONNECTED')",
        "except OSError as exc:",
        "    print('outside refused', exc.errno)",
    ]), loopback=True)
    if "unshare" not in res.isolation:
        assert "loopback refused" in res.isolation and res.returncode != 0
        pytest.skip("no network namespace: loopback is refused with the rest")
    assert res.isolation.startswith("unshare -n (loopback only)") and "socket guard" not in res.isolation
    assert "loopback hello" in res.stdout and "outside refused" in res.stdout, res.stdout + res.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torchrun_with_two_processes_runs_in_loopback_mode(tmp_path: Path) -> None:
    script = tmp_path / "ranks.py"
    script.write_text("\n".join([
        "import torch, torch.distributed as dist",
        "dist.init_process_group('gloo')",
        "total = torch.tensor([dist.get_rank() + 1.0])",
        "dist.all_reduce(total)",
        "print(f'rank {dist.get_rank()} of {dist.get_world_size()}: sum {total.item():g}')",
        "dist.destroy_process_group()",
    ]))
    res = run_sandboxed([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                         str(script)], cwd=tmp_path, timeout_s=120, mem_bytes=8 * 1024 * MB,
                        env={"OMP_NUM_THREADS": "1"}, loopback=True)
    if "unshare" not in res.isolation:
        pytest.skip("no network namespace on this machine")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "rank 0 of 2: sum 3" in res.stdout and "rank 1 of 2: sum 3" in res.stdout


@pytest.mark.parametrize("namespace", [True, False], ids=["through unshare", "started directly"])
def test_a_command_that_cannot_start_is_a_result_not_a_traceback(tmp_path: Path, namespace: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if not namespace:  # then Popen itself fails to exec the program
        monkeypatch.setattr(sandbox, "_unshare_prefix", lambda: ())
    res = run_sandboxed([str(tmp_path / "no-such-program")], cwd=tmp_path, timeout_s=10, mem_bytes=256 * MB)
    assert res.returncode == 127 and not res.timed_out
    assert "no-such-program" in res.stderr
    assert namespace or res.stderr.startswith("sandbox: could not start")
