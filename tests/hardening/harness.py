"""Run one audit with a time and memory bound and classify how it ended.

`audit_isolated(path)` calls `auditor.api.audit_path(path, verify=False)` — the in-process static path,
not the CLI — in a worker process forked from the test process, so a hang is killed at the deadline,
memory is capped with RLIMIT_AS, and even a crash of native code (a parser overflowing its C stack) ends
as an outcome instead of taking pytest down. The worker serves inputs one after the other (forking costs
about 10 ms here, an audit of a small input less than 1 ms); after a timeout or a death it is replaced,
and it is recycled every `RECYCLE` inputs so that no input is audited by a worker grown old. Outcomes:

* ``result``      — an AuditResult was produced (detail: its verdict);
* ``input_error`` — `auditor.source.InputError` with a one-line message (detail: the message);
* ``crash``       — any other exception (detail: the traceback) — a bug;
* ``timeout``     — still running at the deadline (killed) — a bug;
* ``killed``      — the worker died from a signal or exited without answering (segfault, OOM) — a bug.

Without `os.fork` (Windows) the audit runs in this process under `signal.alarm` where available.
"""
from __future__ import annotations

import atexit
import json
import os
import resource
import select
import signal
import struct
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 20.0  # per input
EXTRA_MEMORY_BYTES = 2 * 1024 ** 3  # address space an audit may add to the test process's
RECYCLE = 40  # inputs per worker
OK_STATUSES = ("result", "input_error")


@dataclass(frozen=True)
class Outcome:
    status: str  # result | input_error | crash | timeout | killed
    detail: str  # the verdict, the error message, or what went wrong
    seconds: float
    techniques: tuple[str, ...] = ()  # active techniques of a result

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES and (self.status != "input_error" or _one_line(self.detail))


def _one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message.strip() and "Traceback" not in message


class _Counter:
    """How many inputs the hardening suite tried this session (printed by conftest.py)."""

    def __init__(self) -> None:
        self.by_status: dict[str, int] = {}
        self.cli = 0

    def add(self, status: str) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_status.values()) + self.cli


COUNTER = _Counter()


def _run_audit(path: Path, env: dict[str, str] | None) -> dict:
    from auditor.api import audit_path
    from auditor.source import InputError

    try:
        result = audit_path(path, env=env or {}, verify=False)
        json.dumps(result.to_json())  # the result must be serializable (renderers read it)
        active = sorted(t.id for t in result.techniques if t.active)
        return {"status": "result", "detail": result.verdict, "techniques": active}
    except InputError as exc:
        return {"status": "input_error", "detail": str(exc)}
    except BaseException:  # noqa: BLE001 - everything else is the bug being hunted
        return {"status": "crash", "detail": traceback.format_exc()[-4000:]}


def warm_up() -> None:
    """Import and cache what an audit loads lazily (the folder readers, the rules, the check registry)
    before the first fork, so that every worker starts warm."""
    if _WARM:
        return
    import tempfile

    from auditor.api import audit_path

    with tempfile.TemporaryDirectory(prefix="pgolf-warm-") as tmp:
        root = Path(tmp)
        (root / "train_gpt.py").write_text("import torch\nprint(torch.zeros(1))\n", encoding="utf-8")
        (root / "README.md").write_text("torchrun --nproc_per_node 8 train_gpt.py\n", encoding="utf-8")
        audit_path(root, verify=False)
        audit_path(root / "train_gpt.py", verify=False)
    _WARM.append(True)


_WARM: list[bool] = []


def audit_isolated(path: Path, env: dict[str, str] | None = None, timeout_s: float = TIMEOUT_S) -> Outcome:
    """Audit `path` in the worker under a deadline and a memory cap; never raises for the input."""
    warm_up()
    start = time.perf_counter()
    out = _WORKER.run(path, env, timeout_s) if hasattr(os, "fork") else _inline(path, env, timeout_s)
    outcome = Outcome(out["status"], out["detail"], time.perf_counter() - start, tuple(out.get("techniques", ())))
    COUNTER.add(outcome.status)
    return outcome


def _inline(path: Path, env: dict[str, str] | None, timeout_s: float) -> dict:
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        def expire(signum, frame):  # type: ignore[no-untyped-def]
            raise TimeoutError(f"audit still running after {timeout_s:.0f} s")
        previous = signal.signal(signal.SIGALRM, expire)
        signal.alarm(int(timeout_s) + 1)
    try:
        out = _run_audit(path, env)
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    if out["status"] == "crash" and "TimeoutError: audit still running" in out["detail"]:
        return {"status": "timeout", "detail": f"no result after {timeout_s:.0f} s"}
    return out


# -- the worker -------------------------------------------------------------------------------------
def _send(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """`size` bytes from `fd`, or None at end of file or at the deadline (then `_Expired` is raised)."""
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Expired
        chunk = os.read(fd, min(size, 1 << 16))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None) -> dict | None:
    head = _read_exact(fd, 4, deadline)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0], deadline)
    return None if body is None else json.loads(body)


class _Expired(Exception):
    pass


def _address_space() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1024 ** 3


class _Worker:
    def __init__(self) -> None:
        self.pid = 0
        self.to_worker = self.from_worker = -1
        self.served = 0

    def start(self) -> None:
        limit = _address_space() + EXTRA_MEMORY_BYTES
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into pytest
            code = 0
            try:
                os.close(req_w)
                os.close(res_r)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                while True:
                    request = _receive(req_r, None)
                    if request is None:
                        break
                    _send(res_w, _run_audit(Path(request["path"]), request["env"]))
            except BaseException:  # noqa: BLE001
                code = 3
            finally:
                os._exit(code)
        os.close(req_r)
        os.close(res_w)
        self.pid, self.to_worker, self.from_worker, self.served = pid, req_w, res_r, 0

    def stop(self, kill: bool) -> int:
        """End the worker; its wait status."""
        if not self.pid:
            return 0
        if kill:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return status

    def run(self, path: Path, env: dict[str, str] | None, timeout_s: float) -> dict:
        if not self.pid or self.served >= RECYCLE:
            self.stop(kill=False)
            self.start()
        self.served += 1
        try:
            _send(self.to_worker, {"path": str(path), "env": env or {}})
            answer = _receive(self.from_worker, time.monotonic() + timeout_s)
        except _Expired:
            self.stop(kill=True)
            return {"status": "timeout", "detail": f"no result after {timeout_s:.0f} s (killed)"}
        except OSError as exc:  # the worker is gone (broken pipe)
            answer = None
            error = str(exc)
        else:
            error = ""
        if answer is not None:
            return answer
        status = self.stop(kill=True)
        if os.WIFSIGNALED(status):
            return {"status": "killed", "detail": f"worker died from {signal.Signals(os.WTERMSIG(status)).name}"}
        return {"status": "killed", "detail": f"worker exited {os.WEXITSTATUS(status)} without a result {error}".strip()}


_WORKER = _Worker()
atexit.register(_WORKER.stop, False)


def describe(case_id: str, outcome: Outcome) -> str:
    """A failure message naming the input and what happened."""
    return f"{case_id}: {outcome.status} after {outcome.seconds:.1f} s: {outcome.detail}"
