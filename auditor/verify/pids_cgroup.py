"""A throwaway pids cgroup for one sandboxed command: caps how many processes it can have and finds every
one of them afterwards, including those that left its process group with `setsid()`.

`RLIMIT_NPROC` does not bind root (CI containers often run as root), so a fork bomb is only held there by
the cgroup's `pids.max`. Works with cgroup v1 (a `pids` hierarchy) and v2 (the `pids` controller enabled
for children of our cgroup); where neither can be written, `create` returns None and the sandbox falls
back to `RLIMIT_NPROC` and the process group.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

_counter = itertools.count()


def _own_pids_dir() -> Path | None:
    """The directory of the cgroup this process is in, in a hierarchy that has the pids controller."""
    try:
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in memberships:
        hierarchy, controllers, path = line.split(":", 2)
        for mount in mounts:
            fields = mount.split()
            if len(fields) < 4:
                continue
            target, fstype, options = fields[1], fields[2], fields[3].split(",")
            v1 = fstype == "cgroup" and "pids" in controllers.split(",") and "pids" in options
            v2 = fstype == "cgroup2" and hierarchy == "0"
            if v1 or v2:
                where = Path(target) / path.lstrip("/")
                if v2 and "pids" not in _read(where / "cgroup.controllers").split():
                    continue
                return where if where.is_dir() else None
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class PidsCgroup:
    """A child cgroup with `pids.max` set. The sandboxed child joins it with `join()` before exec."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._procs = str(path / "cgroup.procs")

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """Make the cgroup, or None where no pids hierarchy is writable."""
        parent = _own_pids_dir()
        if parent is None:
            return None
        path = parent / f"pgolf-sandbox-{os.getpid()}-{next(_counter)}"
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    def join(self) -> None:
        """Move the calling process (the forked child, before exec) into the cgroup."""
        with open(self._procs, "w") as fh:
            fh.write("0")

    def members(self) -> list[int]:
        return [int(pid) for pid in _read(Path(self._procs)).split()]

    def kill_all(self, grace_s: float = 5.0) -> int:
        """SIGKILL every member until none is left (or `grace_s` passes); returns how many were signalled."""
        killed: set[int] = set()
        deadline = time.monotonic() + grace_s
        while (members := self.members()) and time.monotonic() < deadline:
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.02)
        return len(killed)

    def remove(self) -> None:
        """Delete the cgroup (after `kill_all`); a cgroup that cannot be removed yet is left to the system."""
        deadline = time.monotonic() + 2.0
        while True:
            try:
                self.path.rmdir()
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.02)
