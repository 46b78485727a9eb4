"""`--smoke`: the script is imported (not run) in the sandbox; harness failures are never blamed on
the submission."""
from __future__ import annotations

import base64
import lzma
import re
from pathlib import Path

from auditor.verify.code import ScriptCode
from auditor.verify.folder import discover
from auditor.verify.smoke import smoke_test
from rules import load_rules
from tests.verify.conftest import CLEAN, ids


def _smoke(folder: Path):  # type: ignore[no-untyped-def]
    layout = discover(folder, load_rules())
    assert layout.script is not None
    code = ScriptCode(layout.script, layout.script.read_text(), None, ())
    return smoke_test(layout, code, timeout_s=60)


def _folder(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "records" / "track_10min_16mb" / "2026-04-01_smoke_case"
    folder.mkdir(parents=True)
    (folder / "train_gpt.py").write_text(source)
    return folder


def test_fixture_imports_and_reports_its_shape(verify) -> None:  # type: ignore[no-untyped-def]
    outcome = verify(CLEAN, smoke=True)
    smoke = outcome.block["smoke"]
    assert smoke["status"] == "ok", smoke
    assert re.fullmatch(r"import OK in \d+\.\d\d s · dim 64 · 4 layers · vocab 1024 · \d+\.\d M params · code 2,487 B",
                        smoke["summary"]), smoke["summary"]
    assert smoke["params"] == 1024 * 64 + 64 + 4 * (2 * 64 + 4 * 64 * 64 + 4 * 64 + (64 * 128 + 128) + (128 * 64 + 64))
    assert "SUB-SMOKE-001" not in ids(outcome)
    from reports.model import AuditResult
    from reports.render import smoke_line
    shown = smoke_line(AuditResult(target=str(CLEAN), findings=[], files=[], verify=outcome.block))
    assert shown == smoke["summary"]   # what the terminal and markdown views print


def test_main_is_not_run_and_stand_ins_serve_cuda_modules(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "\n".join([
        "import flash_attn_interface",
        "import triton",
        "import triton.language as tl",
        "from flash_attn_interface import flash_attn_func",
        "@triton.jit",
        "def kernel(x, BLOCK: tl.constexpr):",
        "    return x",
        "class Hyperparameters:",
        "    model_dim = 96",
        "    num_layers = 3",
        "def main():",
        "    open('ran.txt', 'w').write('main ran')",
        "if __name__ == '__main__':",
        "    main()",
    ]))
    result = _smoke(folder)
    assert result.status == "ok", result.summary
    assert set(result.stubs) == {"flash_attn_interface", "triton"}
    assert result.hparams == {"dim": 96, "layers": 3}
    assert not (folder / "ran.txt").exists()


def test_missing_package_is_the_harness(tmp_path: Path) -> None:
    result = _smoke(_folder(tmp_path, "import package_that_is_not_installed_anywhere\n"))
    assert result.status == "harness_error" and result.error and result.error["attribution"] == "harness"
    assert "not the submission's fault" in result.summary


def test_network_at_import_is_refused_not_blamed(tmp_path: Path) -> None:
    result = _smoke(_folder(tmp_path, "import urllib.request\nurllib.request.urlopen('http://example.com')\n"))
    assert result.status != "ok" and result.status != "author_error"


def test_a_bug_in_the_script_is_the_author(tmp_path: Path, verify) -> None:  # type: ignore[no-untyped-def]
    folder = _folder(tmp_path, "SCALE = 2\nWIDTH = SCALE * undefined_width\n")
    result = _smoke(folder)
    assert result.status == "author_error" and result.error and result.error["line"] == 2
    outcome = verify(folder, smoke=True)
    smoke_findings = [f for f in outcome.findings if f.check == "SUB-SMOKE-001"]
    assert smoke_findings and "NameError" in smoke_findings[0].message
    assert smoke_findings[0].evidence[0].line == 2


def test_python_312_fstrings_are_rewritten_in_the_scratch_copy_only(tmp_path: Path) -> None:
    """Records ran on Python 3.12, whose f-strings may reuse their quotes; the sandbox's Python may be
    older. The scratch copy is rewritten (auditor.newsyntax), the folder is not, and the summary says so."""
    import sys

    source = "\n".join([
        "CFG = {'dim': 80}",
        'RUN_ID = f"run_{CFG["dim"]}d"',
        "class Hyperparameters:",
        "    model_dim = CFG['dim']",
        "    num_layers = 2",
    ]) + "\n"
    for wrapped in (False, True):   # plain, and as a self-extracting stub whose payload is the source
        blob = base64.b85encode(lzma.compress(source.encode())).decode()
        text = f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{blob}")))\n' if wrapped else source
        folder = _folder(tmp_path / str(wrapped), text)
        layout = discover(folder, load_rules())
        result = smoke_test(layout, ScriptCode(layout.script, text, source if wrapped else None, ()), timeout_s=60)
        assert result.status == "ok", result.summary
        assert result.hparams.get("dim") == 80
        assert (folder / "train_gpt.py").read_text() == text
        if sys.version_info < (3, 12):
            assert "f-strings were rewritten" in result.summary
        else:
            assert "rewritten" not in result.summary
