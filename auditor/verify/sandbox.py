"""Run an untrusted command in a subprocess sandbox: no network, the scratch working directory as the only
writable place, time, memory, process and file-size limits, and an environment without credentials.

Network is refused up to three times: a `sitecustomize` bootstrap (first on PYTHONPATH) replaces
`socket.socket`, `socket.create_connection` and `socket.getaddrinfo` before any user code runs, the
command is wrapped in `unshare -n` (or `unshare -rn`) when the kernel allows it, and Landlock (ABI 4+)
refuses TCP. Writes are confined with Landlock (`landlock.py`), the process count with a pids cgroup
(`pids_cgroup.py`) or `RLIMIT_NPROC`; other limits are rlimits set in the child before exec. When the
command ends or its wallclock runs out, its process group and cgroup are killed. Smoke tests and reruns
use `run_sandboxed`.
"""
from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from auditor.verify import landlock
from auditor.verify.pids_cgroup import PidsCgroup

NETWORK_GUARD = '''\
"""pgolf-audit sandbox bootstrap: refuse network sockets before any submitted code runs."""
import socket as _socket

_REFUSED = "network access is disabled in the pgolf-audit sandbox"
_Base = _socket.socket
_LOCAL = {getattr(_socket, "AF_UNIX", None)}


class _GuardedSocket(_Base):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and family not in _LOCAL:
            raise OSError(_REFUSED)
        super().__init__(family, type, proto, fileno)


def _refuse(*args, **kwargs):
    raise OSError(_REFUSED)


_socket.socket = _GuardedSocket
_socket.SocketType = _GuardedSocket
_socket.create_connection = _refuse
_socket.getaddrinfo = _refuse
_socket.gethostbyname = _refuse
_socket.create_server = _refuse
'''

#: Run first inside the new network namespace when loopback is wanted: brings `lo` up, then execs the command.
LOOPBACK_UP = """
import fcntl, os, socket, struct, sys
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    flags = struct.unpack("16sh22x", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sh22x", b"lo", 0)))[1]
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))
os.execvp(sys.argv[1], sys.argv[1:])
"""

#: Environment variables passed through (when set); everything else is dropped.
PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")
_SECRET = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|API_?KEY|PRIVATE|_KEY$|^AWS_|^GH_|^GITHUB_|"
                     r"^HF_|^HUGGING|^OPENAI|^ANTHROPIC|^WANDB|^NETRC|^SSH_", re.I)


@dataclass(frozen=True)
class SandboxResult:
    """What the sandboxed command did. `returncode` is None when it was killed on the wallclock."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    wall_s: float
    isolation: str  # the layers that applied, e.g. "unshare -n + socket guard + landlock ... + pids cgroup max 64"
    output_truncated: bool
    stragglers: int = 0  # other processes the sandbox killed: left running after the command, or with it at the timeout

    @property
    def killed_by(self) -> str | None:
        """The signal that ended the process, by name, when it was killed."""
        if self.returncode is not None and self.returncode < 0:
            return signal.Signals(-self.returncode).name
        return "SIGKILL (timeout)" if self.timed_out else None

    @property
    def ending(self) -> str:
        """How the command ended: "exit 0", "killed by SIGKILL (timeout)", "killed by SIGSEGV"."""
        return f"killed by {self.killed_by}" if self.killed_by else f"exit {self.returncode}"


MAX_COPY_BYTES = 64 * 1024 * 1024


def scratch_copy(src: Path, dst: Path) -> None:
    """Copy a submission folder to a scratch place: regular files and directories only (no dotfiles,
    symbolic links, FIFOs or devices: a link to /dev/zero or a FIFO would never finish copying), and no
    file over MAX_COPY_BYTES."""
    def skipped(path: Path) -> bool:
        if path.name.startswith(".") or path.is_symlink():
            return True
        if path.is_dir():
            return False
        return not path.is_file() or path.stat().st_size > MAX_COPY_BYTES

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [name for name in names if skipped(Path(folder) / name)]
    shutil.copytree(src, dst, ignore=ignore, symlinks=False)


def scrub_env(env: Mapping[str, str]) -> dict[str, str]:
    """Drop every variable whose name looks like a token, key, password or credential."""
    return {k: v for k, v in env.items() if not _SECRET.search(k)}


@lru_cache(maxsize=1)
def _unshare_prefix() -> tuple[str, ...]:
    exe = shutil.which("unshare")
    if exe is None:
        return ()
    for flags in (("-n",), ("-r", "-n")):
        try:
            probe = subprocess.run([exe, *flags, "true"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return (exe, *flags, "--")
    return ()


def _pids() -> list[int]:
    """Every process id /proc lists (none where there is no /proc)."""
    try:
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def _user_processes() -> int:
    uid = os.getuid()
    count = 0
    for pid in _pids():
        with contextlib.suppress(OSError):
            count += os.stat(f"/proc/{pid}").st_uid == uid
    return count


def _live_group_members(pgid: int) -> list[int]:
    """Pids in process group `pgid` that are not yet zombies."""
    members = []
    for pid in _pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rfind(")") + 2:].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(pid)
    return members


def _kill_group(pgid: int, grace_s: float = 5.0) -> int:
    """SIGKILL the whole group and wait (up to `grace_s`) until none of its members is still running;
    returns how many were running when it started.

    A killed process can stay runnable for a moment before it exits; callers rely on the group being
    gone when the sandbox returns, so the kill is repeated until /proc shows no live member."""
    deadline = time.monotonic() + grace_s
    found = len(_live_group_members(pgid))
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        if not _live_group_members(pgid) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _limits(mem_bytes: int, cpu_s: int, nproc: int, fsize: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _wait_unreaped(pid: int, timeout_s: float) -> bool:
    """Wait for `pid` to exit without reaping it (its pid, and so its process group id, stay taken until
    the group has been killed); False on timeout."""
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if info is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.1)


def _tail(path: Path, limit: int) -> tuple[str, bool]:
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size > limit:
            fh.seek(size - limit)
        return fh.read().decode("utf-8", errors="replace"), size > limit


def run_sandboxed(cmd: Sequence[str], cwd: Path, timeout_s: float, mem_bytes: int, *,
                  env: Mapping[str, str] | None = None, pythonpath: Sequence[Path] = (),
                  max_procs: int = 1024, max_file_bytes: int = 256 * 1024 * 1024,
                  max_output_bytes: int = 1024 * 1024, loopback: bool = False) -> SandboxResult:
    """Run `cmd` in `cwd` (which should be a scratch copy) under the sandbox described above.

    `env` adds variables (credentials are still scrubbed); `pythonpath` is placed after the network
    guard. CPU time is capped at the wallclock limit; tasks (processes and threads) at `max_procs` in a
    pids cgroup where one can be made, else at the user's current count plus `max_procs`; files the
    command writes (and its captured output) at `max_file_bytes`. Writes outside `cwd` and the sandbox's
    TMPDIR are refused where the kernel has Landlock. When the command ends (or is killed at
    `timeout_s`) every process it left behind is killed before this returns.

    `loopback=True` (for multi-process commands: torchrun's rendezvous and gloo/NCCL need TCP on
    127.0.0.1) relies on the network namespace alone, with its loopback interface up and nothing else
    in it: the socket guard and Landlock's TCP rules are left out. Where no namespace can be made the
    request is refused and the command runs with every barrier, so it finds no loopback either."""
    cwd = Path(cwd)
    with tempfile.TemporaryDirectory(prefix="pgolf-sandbox-") as tmp:
        work = Path(tmp)
        guard = work / "guard"
        guard.mkdir()
        (guard / "sitecustomize.py").write_text(NETWORK_GUARD, encoding="utf-8")
        scratch_tmp = work / "tmp"
        scratch_tmp.mkdir()
        prefix = _unshare_prefix()
        loopback_ns = loopback and bool(prefix)
        child_env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        child_env.update(scrub_env(dict(env or {})))
        child_env.update({
            "HOME": str(cwd), "TMPDIR": str(scratch_tmp), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join([*([] if loopback_ns else [str(guard)]), *(str(p) for p in pythonpath)]),
            "NO_PROXY": "*", "http_proxy": "http://0.0.0.0:9", "https_proxy": "http://0.0.0.0:9",
        })
        writes = landlock.write_policy([cwd, scratch_tmp], own_proc="-r" in prefix, tcp=not loopback_ns)
        cgroup = PidsCgroup.create(max_procs)
        if loopback_ns:
            prefix = (*prefix, sys.executable, "-I", "-S", "-c", LOOPBACK_UP)
            layers = ["unshare -n (loopback only)"]
        else:
            layers = ["unshare -n"] if prefix else []
            layers.append("socket guard" if not loopback else "socket guard (loopback refused: no network namespace)")
        layers += [writes.description] if writes else ["writes not confined (no landlock)"]
        layers.append(f"pids cgroup max {max_procs}" if cgroup else f"RLIMIT_NPROC +{max_procs}")
        out_path, err_path = work / "stdout", work / "stderr"
        nproc = _user_processes() + max_procs

        def confine() -> None:  # runs in the child between fork and exec
            if cgroup is not None:
                cgroup.join()
            _limits(mem_bytes, max(1, int(timeout_s) + 1), nproc, max_file_bytes)
            if writes is not None:
                writes.apply()

        start = time.perf_counter()
        try:
            with out_path.open("wb") as out, err_path.open("wb") as err:
                try:
                    proc = subprocess.Popen([*prefix, *cmd], cwd=cwd, env=child_env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True, preexec_fn=confine)
                except (OSError, subprocess.SubprocessError) as exc:  # not found, or a limit that cannot be set
                    return SandboxResult(127, "", f"sandbox: could not start {cmd[0]}: {exc}", False,
                                         time.perf_counter() - start, " + ".join(layers), False)
                timed_out = not _wait_unreaped(proc.pid, timeout_s)
                wall = time.perf_counter() - start
                stragglers = _kill_group(proc.pid)  # all of it on timeout, else what it left running
                if cgroup is not None:  # and what left the group with setsid()
                    stragglers += cgroup.kill_all()
                stragglers = max(0, stragglers - timed_out)  # the command itself is not a straggler
                proc.wait()
        finally:
            if cgroup is not None:
                cgroup.remove()
        stdout, cut_out = _tail(out_path, max_output_bytes)
        stderr, cut_err = _tail(err_path, max_output_bytes)
    return SandboxResult(None if timed_out else proc.returncode, stdout, stderr, timed_out, wall,
                         " + ".join(layers), cut_out or cut_err, stragglers)
