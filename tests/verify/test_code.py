"""The script as code: self-extracting stubs, helper files, compressed size bounds."""
from __future__ import annotations

import base64
import lzma

from auditor.verify.code import floor_if_below, light_minify, unwrap
from tests.verify.conftest import CLEAN, ids

SOURCE = (CLEAN / "train_gpt.py").read_text()


def _wrapper(source: str) -> str:
    blob = base64.b85encode(lzma.compress(source.encode())).decode()
    return f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{blob}")))\n'


def test_unwrap_self_extracting_stub() -> None:
    assert unwrap(_wrapper(SOURCE)) == SOURCE
    assert unwrap(SOURCE) is None
    assert unwrap('exec(B.b85decode("' + "0" * 300 + '"))') is None


def test_light_minify_drops_comments_and_docstrings() -> None:
    text = '"""Doc."""\nimport os  # keep\n# drop\n\n\ndef f():\n    """Doc."""\n    return 1\n'
    assert light_minify(text) == "\nimport os  # keep\ndef f():\n    return 1\n"
    assert "# drop" not in light_minify(SOURCE) and "Hyperparameters" in light_minify(SOURCE)


def test_compressed_floor_only_when_below() -> None:
    assert floor_if_below(SOURCE, 10_000, 0.02) is None
    floor = floor_if_below(SOURCE, 100, 0.02)
    assert floor is not None and 100 < floor < 1200


def test_wrapped_script_is_compared_through_its_payload(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    (folder / "train_gpt.py").write_text(_wrapper(SOURCE))
    outcome = verify(folder)
    assert outcome.block["files"]["wrapped_script"] is True
    assert "LOG-005" not in ids(outcome)  # the logs ran the payload's 2,487 bytes
    assert "SUB-003" not in ids(outcome)


def test_helper_counted_by_the_log_is_fine(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    (folder / "train_gpt_decode.py").write_text(SOURCE)
    (folder / "train_gpt.py").write_text('exec(open(__file__.replace("train_gpt.py","train_gpt_decode.py")).read())\n')
    outcome = verify(folder)
    assert outcome.block["files"]["helpers"] == ["train_gpt_decode.py"]
    assert "SIZE-002" not in ids(outcome) and "LOG-005" not in ids(outcome)


def test_inline_imports_helpers_of_helpers_and_fallbacks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from auditor.verify.files import third_party_imports
    source = ("import os\ntry:\n    import flash_attn_interface\nexcept ImportError:\n    pass\n"
              "if os.environ.get('X'):from ngram_helper import Table\ntry:import fa3_kernels\nexcept Exception:pass\n"
              "import numpy as np, zstandard\nfrom .local import thing\n")
    assert third_party_imports(source, {"ngram_helper"}) == {"numpy": 9, "zstandard": 9}


def test_helper_chain_is_followed(clone, verify) -> None:  # type: ignore[no-untyped-def]
    folder = clone(CLEAN)
    (folder / "kernels_src").mkdir()
    (folder / "kernels_src" / "fused.cpp").write_text("// " + "x" * 4000 + "\n")
    (folder / "tilt.py").write_text('SRC = "kernels_src/fused.cpp"\n')
    script = folder / "train_gpt.py"
    inline = "def main() -> None:\n    if os.environ.get('T'):from tilt import SRC\n"
    script.write_text(script.read_text().replace("def main() -> None:\n", inline))
    outcome = verify(folder)
    assert outcome.block["files"]["helpers"] == ["tilt.py", "kernels_src/fused.cpp"]
    assert "SIZE-002" in ids(outcome)


def test_logged_source_evidence_points_at_the_first_changed_line(clone, verify) -> None:  # type: ignore[no-untyped-def]
    """LOG-005's evidence is the log line where the embedded source first differs, not its first line."""
    folder = clone(CLEAN)
    lines = SOURCE.split("\n")
    changed = next(i for i, ln in enumerate(lines) if "os.environ.get" in ln)
    ran = "\n".join([*lines[:changed], lines[changed] + "  # edited after the run", *lines[changed + 1:]])
    for log in sorted(folder.glob("train_seed*.log")):
        log.write_text("\n" + ran.strip("\n") + "\n" + "=" * 100 + "\n" + log.read_text())
    outcome = verify(folder)
    (finding,) = [f for f in outcome.findings if f.check == "LOG-005"]
    lead = next(i for i, ln in enumerate(lines) if ln.strip())
    assert {(e.line, e.snippet) for e in finding.evidence} == {(changed - lead + 2, lines[changed] + "  # edited after the run")}
    assert f"first at log line {changed - lead + 2}" in finding.message


def test_imports_written_in_docstrings_are_not_imports() -> None:
    from auditor.verify.files import third_party_imports
    source = ('"""Usage notes.\n\nimport mamba_ssm  # only if you want the SSM variant\n"""\nimport numpy as np\n'
              'HELP = """\nfrom flash_attn import x\n"""\n')
    assert third_party_imports(source, set()) == {"numpy": 5}
