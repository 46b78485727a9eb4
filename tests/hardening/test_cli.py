"""A handful of hostile inputs through the real command line, in a subprocess: exit 0/1 with a report,
or exit 2 with exactly one line on stderr; never a traceback, never a hang."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .generate import Case, Entry, _bomb, _file, wrap_exec
from .harness import COUNTER

TIMEOUT_S = 60


def _cases() -> list[tuple[Case, list[str], set[int]]]:
    bomb = _bomb("zlib")
    return [
        (Case("cli_syntax", "cli", {"train_gpt.py": _file("def broken(:\n")}), [], {2}),
        (Case("cli_nul", "cli", {"train_gpt.py": _file(b"x = 1\x00\n")}), [], {2}),
        (Case("cli_fifo", "cli", {"train_gpt.py": Entry("fifo")}), [], {2}),
        (Case("cli_missing", "cli", {"README.md": _file("x")}, target="nope.py"), [], {2}),
        (Case("cli_link_out", "cli", {"train_gpt.py": Entry("link", "/etc/passwd")}, target="."), [], {2}),
        (Case("cli_deep_parens", "cli", {"train_gpt.py": _file("x = f'{1}' + " + "(" * 3000 + "1" + ")" * 3000 + "\n")}), [], {2}),
        (Case("cli_bomb", "cli", {"train_gpt.py": _file(
            "import zlib, base64\n" + f"exec(zlib.decompress(base64.b64decode({__import__('base64').b64encode(bomb).decode()!r})))\n")}),
         ["--format", "json"], {0}),
        (Case("cli_nested_wrapper", "cli", {"train_gpt.py": _file(wrap_exec(wrap_exec(wrap_exec("print('x')\n"))))}),
         ["--format", "sarif"], {0}),
        (Case("cli_folder_fifo_helper", "cli", {"train_gpt.py": _file("import helper\nhelper.run()\n"), "helper.py": Entry("fifo"),
                                                "README.md": _file("python " * 200_000)}, target="."), [], {0, 1}),
    ]


CASES = _cases()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and symlinks need a POSIX system")
@pytest.mark.parametrize("case,args,codes", CASES, ids=[c.id for c, _, _ in CASES])
def test_cli_ends_with_a_report_or_one_line_error(case: Case, args: list[str], codes: set[int], tmp_path: Path) -> None:
    target = case.build(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "auditor.cli", str(target), *args], check=False, capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=tmp_path, errors="replace")
    COUNTER.cli += 1
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in codes, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    if proc.returncode == 2:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pgolf-audit: "), proc.stderr
        assert not proc.stdout.strip()
    else:
        assert proc.stdout.strip()
    if "--format" in args and args[args.index("--format") + 1] == "json":
        report = json.loads(proc.stdout)
        assert report["verdict"] == "REVIEW"
        assert any(f["check"] == "AUDIT-001" and "MiB" in f["message"] for f in report["findings"])
