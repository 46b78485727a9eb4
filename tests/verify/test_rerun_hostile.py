"""Hostile submissions under `verify --rerun`: each misbehaviour is contained by the sandbox and shows up in
the rerun report, and the submitted folder is unchanged afterwards.

Each case replaces the clean fixture's train_gpt.py with a script that attacks its host instead of
training, and reruns one seed with small limits."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.verify import landlock
from auditor.verify.rerun import _fingerprint, rerun_folder
from tests.verify.conftest import CLEAN, edit

MB = 1024 * 1024
OUTSIDE = "OUTSIDE_TARGET"  # replaced by a path outside the folder

HOSTILE = {
    "opens_a_socket": (
        "import socket, subprocess, sys\n"
        "seen = []\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
        "    seen.append('CONNECTED')\n"
        "except OSError as exc:\n"
        "    seen.append(f'guarded: {exc}')\n"
        "raw = 'import socket; socket.create_connection((\"1.1.1.1\", 80), timeout=2); print(\"CONNECTED\")'\n"
        "done = subprocess.run([sys.executable, '-I', '-c', raw], capture_output=True, text=True)\n"
        "seen.append('unguarded: ' + (done.stdout + done.stderr).strip().splitlines()[-1])\n"
        "raise SystemExit('; '.join(seen))\n",
        "guarded: network access is disabled in the pgolf-audit sandbox; unguarded: "),
    "writes_outside_its_folder": (
        f"open({OUTSIDE!r}, 'w').write('escaped')\n",
        "PermissionError"),
    "forks_many_processes": (
        "import os, time\n"
        "while True:\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(120)\n"
        "        os._exit(0)\n",
        "BlockingIOError"),
    "allocates_far_beyond_the_limit": (
        "hog = [bytearray(64 * 1024 * 1024) for _ in range(64)]\n",
        "MemoryError"),
    "sleeps_forever": (
        "import time\n"
        "while True:\n"
        "    time.sleep(1)\n",
        "timed out"),
    "deletes_files_in_its_folder": (
        "import os, shutil\n"
        "for name in os.listdir('.'):\n"
        "    if name != 'train_gpt.py':\n"
        "        shutil.rmtree(name) if os.path.isdir(name) else os.remove(name)\n"
        "os.remove('train_gpt.py')\n"
        "raise SystemExit('deleted everything')\n",
        "deleted everything"),
}


@pytest.fixture
def hostile_folder(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(script: str) -> tuple[Path, Path]:
        folder = tmp_path / "records" / "track_10min_16mb" / CLEAN.name
        folder.parent.mkdir(parents=True)
        shutil.copytree(CLEAN, folder)
        edit(folder / "README.md", "--nproc_per_node=8", "--nproc_per_node=1")
        outside = tmp_path / "outside.txt"
        (folder / "train_gpt.py").write_text(script.replace(OUTSIDE, str(outside)), encoding="utf-8")
        return folder, outside
    return make


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_rerun_is_contained_and_reported(case: str, hostile_folder) -> None:  # type: ignore[no-untyped-def]
    script, symptom = HOSTILE[case]
    if case == "writes_outside_its_folder" and landlock.abi_version() == 0:
        pytest.skip("this kernel has no Landlock: writes are not confined")
    folder, outside = hostile_folder(script)
    before = _fingerprint(folder)
    out = rerun_folder(folder, seeds=[1], timeout_s=8, mem_bytes=1024 * MB, max_procs=48,
                       env={"OMP_NUM_THREADS": "1"})
    (seed,) = out.block["seeds"]
    assert not seed["ok"] and symptom in seed["problem"], seed
    assert [f.check for f in out.findings] == ["SUB-SMOKE-001"], [f.message for f in out.findings]
    assert "rerun of seed 1" in out.findings[0].message
    assert out.block["original_unchanged"] and _fingerprint(folder) == before
    assert not outside.exists()
    assert seed["wall_s"] < 60
    if case == "sleeps_forever":
        assert seed["exit"] == "killed by SIGKILL (timeout)"
    if case == "forks_many_processes":
        assert seed["stragglers"] >= 30  # the children still sleeping were killed with it
    if case == "opens_a_socket":
        assert "CONNECTED" not in seed["problem"] and "socket guard" in out.block["isolation"]

