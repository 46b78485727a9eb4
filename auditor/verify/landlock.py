"""Confine a sandboxed child's writes to a few directories with Linux Landlock (no privileges needed).

The parent builds a `WritePolicy` (which directories may be written, which access rights the kernel
supports); the child applies it between fork and exec (`apply`, a `preexec_fn`), so the submitted
command and everything it starts can read the whole filesystem but create, write, truncate, rename
or delete files only beneath the allowed directories. Where the kernel supports it (Landlock ABI 4+)
TCP bind/connect is refused too, and (ABI 6+) signals to processes outside the sandbox and abstract
unix sockets are scoped. Kernel documentation: https://docs.kernel.org/userspace-api/landlock.html
"""
from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Syscall numbers are the same on x86_64 and arm64 (asm-generic table).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

WRITE_FILE, REMOVE_DIR, REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = (1 << n for n in range(6, 13))
REFER, TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@lru_cache(maxsize=1)
def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if os.uname().sysname != "Linux" or os.uname().machine not in ("x86_64", "aarch64"):
        return 0
    try:
        version = _libc().syscall(_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def _handled_writes(abi: int) -> int:
    rights = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
              | MAKE_BLOCK | MAKE_SYM)
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    return rights


@dataclass(frozen=True)
class WritePolicy:
    """Directories the child may write beneath, with the rights each gets; built in the parent."""

    abi: int
    rules: tuple[tuple[str, int, str], ...]  # (directory, access rights, what the exception is for)
    tcp: bool = False  # refuse TCP bind/connect as well (ABI 4+)

    @property
    def description(self) -> str:
        places = ", ".join(f"{path} ({why})" if why else path for path, _, why in self.rules)
        extra = " + TCP refused" if self.tcp and self.abi >= 4 else ""
        extra += " + signals scoped" if self.abi >= 6 else ""
        return f"landlock ABI {self.abi}: writes only beneath {places}{extra}"

    def apply(self) -> None:
        """Restrict the calling process (the forked child, before exec). Raises OSError on failure."""
        libc = _libc()
        handled = _handled_writes(self.abi)
        attr = struct.pack("<Q", handled)
        if self.abi >= 4:
            attr += struct.pack("<Q", NET_BIND_TCP | NET_CONNECT_TCP if self.tcp else 0)
        if self.abi >= 6:
            attr += struct.pack("<Q", SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
        buf = ctypes.create_string_buffer(attr, len(attr))
        ruleset = libc.syscall(_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), 0)
        if ruleset < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
        try:
            for path, rights, _ in self.rules:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                try:
                    rule = ctypes.create_string_buffer(struct.pack("<Qi", rights & handled, fd), 12)
                    if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) < 0:
                        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
                finally:
                    os.close(fd)
            if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
            if libc.syscall(_RESTRICT_SELF, ruleset, 0) < 0:
                raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
        finally:
            os.close(ruleset)


def write_policy(writable: list[Path], own_proc: bool = False, tcp: bool = True) -> WritePolicy | None:
    """A policy letting the child write beneath `writable` only (plus device files such as /dev/null and
    the shared-memory directory /dev/shm, which NCCL and torch's worker processes need), or None where
    the kernel has no Landlock. `own_proc` also lets it write its own /proc/self files (`unshare -r`
    writes its uid map there). `tcp` also refuses TCP bind/connect where the kernel can."""
    abi = abi_version()
    if abi < 1:
        return None
    everything = _handled_writes(abi)
    rules = [(str(Path(p).resolve()), everything, "") for p in writable]
    if os.path.isdir("/dev/shm"):
        rules.append(("/dev/shm", everything, "shared memory"))
    rules.append(("/dev", WRITE_FILE | TRUNCATE, "device files"))
    if own_proc:
        rules.append(("/proc/self", WRITE_FILE, "its uid map"))
    return WritePolicy(abi, tuple(rules), tcp)
