"""Unit tests of the loading and decoding limits the fuzzer led to (auditor/source.py, unwrap.py, newsyntax.py)."""
from __future__ import annotations

import ast
import base64
import os
import zlib
from pathlib import Path

import pytest

from auditor import newsyntax, source, unwrap
from auditor.source import InputError, parse_python, read_python, run_commands


def test_read_python_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.py")
        with pytest.raises(InputError, match="not a regular file"):
            read_python(tmp_path / "pipe.py", "pipe.py")  # would block forever in open()
        os.symlink("/dev/zero", tmp_path / "zero.py")
        with pytest.raises(InputError, match="not a regular file"):
            read_python(tmp_path / "zero.py", "zero.py")  # would never end
        os.symlink("loop.py", tmp_path / "loop.py")
        with pytest.raises(InputError, match="cannot read"):
            read_python(tmp_path / "loop.py", "loop.py")


@pytest.mark.parametrize("data,message", [
    (b"# coding: punycode\nx = 1\n", "encoding problem: punycode"),
    (b"# coding: rot13\nx = 1\n", "encoding problem: rot13"),
    ("x = 1\n".encode("utf-16"), "UTF-16/UTF-32"),
    (b"# coding: klingon\nx = 1\n", "not valid klingon text"),
])
def test_read_python_refuses_encodings_python_refuses(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "x.py").write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_python(tmp_path / "x.py", "x.py")


def test_code_size_counts_only_code_outside_strings_and_comments() -> None:
    big_literal = "x = '" + "a" * 2_000_000 + "'\n# " + "c" * 100 + "\n"
    assert source.code_bytes(big_literal) < 20
    assert isinstance(parse_python(big_literal, "x.py"), ast.Module)
    with pytest.raises(InputError, match="bytes of code"):
        parse_python("x=1\n" * 300_000, "x.py")


@pytest.mark.parametrize("text", [
    "x = 1\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    pass\n" for i in range(1, 300)),
    "x = " + " + ".join(["a"] * 600) + "\n",
])
def test_deep_trees_are_refused_before_the_analysis_recurses(text: str) -> None:
    with pytest.raises(InputError, match="levels deep"):
        parse_python(text, "x.py")


def test_newer_syntax_fallback_still_works_and_skips_what_would_crash_libcst() -> None:
    tree = parse_python('d = {"k": 1}\nprint(f"{d["k"]}")\n', "x.py")  # PEP 701, through LibCST
    assert any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == newsyntax.FSTRING_STANDIN for n in ast.walk(tree))
    assert newsyntax.too_deep("x = f'{y}' + " + "(" * 2000 + "1" + ")" * 2000 + "\n")
    assert newsyntax.too_deep("x = f'{y}' " + "+ a" * 60_000 + "\n")
    assert newsyntax.downgrade("z = " + "(" * 20_000 + "\n") is None  # LibCST segfaults on this; never reached
    assert not newsyntax.too_deep("s = '" + "(" * 5000 + "'\n# " + "[" * 5000 + "\n")  # brackets in strings don't count


def _zlib_exec(code: bytes, times: int = 1, name: str = "P") -> str:
    packed = base64.b64encode(zlib.compress(code)).decode()
    return f"import zlib, base64\n{name} = base64.b64decode({packed!r})\n" + "exec(zlib.decompress(P))\n" * times


def test_decode_budget_bounds_many_exec_sites_of_one_bomb() -> None:
    tree = ast.parse(_zlib_exec(b"#" * (60 * 1024 * 1024), times=12))
    payloads = unwrap.find_payloads(tree, unwrap.DecodeBudget())
    decoded = [p for p in payloads if p.code is not None]
    assert len(payloads) == 12 and len(decoded) <= 4
    assert all("budget" in (p.error or "") for p in payloads if p.code is None)


@pytest.mark.parametrize("code,error", [
    ("exec(str(b'\\xff'))\n", "str() failed"),
    ("exec('" + "a" * 20_000 + "'.replace('', '" + "b" * 20_000 + "'))\n", "replace"),
    ("a0 = '" + "x" * 70_000 + "'\n" + "".join(f"a{i} = a{i - 1} + a{i - 1}\n" for i in range(1, 14)) + "exec(a13)\n", "concatenation"),
    ("a0 = 'x'\n" + "".join(f"a{i} = a{i - 1} + a{i - 1}\n" for i in range(1, 40)) + "exec(a39)\n", "nested too deeply"),
    ("exec(b'abc'.decode('punycode'))\n", "encoding 'punycode'"),
])
def test_payload_evaluation_refuses_instead_of_crashing(code: str, error: str) -> None:
    (payload,) = unwrap.find_payloads(ast.parse(code))
    assert payload.code is None and error in (payload.error or ""), payload


def test_import_written_as_a_call_is_an_import_alias() -> None:
    tree = ast.parse("import importlib\nA = __import__('torch.optim', fromlist=['SGD'])\nB = __import__('torch.nn')\n"
                     "C = importlib.import_module('torch.' + 'optim')\nD = importlib.import_module(name)\n"
                     "E = __import__('/etc/passwd')\n")
    aliases = unwrap.import_aliases(tree)
    assert (aliases["A"], aliases["B"], aliases["C"]) == ("torch.optim", "torch", "torch.optim")
    assert "D" not in aliases and "E" not in aliases


def test_module_names_that_are_not_dotted_identifiers_are_not_files(tmp_path: Path) -> None:
    (tmp_path / "train_gpt.py").write_text("__import__('')\n__import__('/etc/hostname')\nimport importlib\n"
                                           "importlib.import_module('..x')\n", encoding="utf-8")
    sub = source.load(tmp_path)
    assert [u.file for u in sub.units] == ["train_gpt.py"]


def test_links_out_of_the_folder_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "train_gpt.py").write_text("import helper\nimport lib.os\n", encoding="utf-8")
    os.symlink("/etc/passwd", tmp_path / "helper.py")
    os.symlink(os.path.dirname(os.__file__), tmp_path / "lib")
    sub = source.load(tmp_path)
    assert [u.file for u in sub.units] == ["train_gpt.py"]
    assert sorted(p.file for p in sub.problems) == ["helper.py", "lib/os.py"]
    (tmp_path / "train_gpt.py").unlink()
    os.symlink("/etc/passwd", tmp_path / "train_gpt.py")
    with pytest.raises(InputError, match="outside the folder"):
        source.load(tmp_path)


@pytest.mark.parametrize("text,expected", [
    ("torchrun --standalone --nproc_per_node=8 train_gpt.py", [("torchrun", "train_gpt.py")]),
    ("python3 prep.py && torchrun x.py", [("python3", "prep.py"), ("torchrun", "x.py")]),
    ("`python` then `train.py`", []),
    ("python run.py.bak", [("python", "run.py")]),
    ("python " * 100_000 + "a.py", [("python", "a.py")]),
])
def test_run_commands(text: str, expected: list[tuple[str, str]]) -> None:
    assert list(run_commands(text)) == expected


def test_files_that_vanish_between_listing_and_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, where chmod 000 does not stop a read; a file deleted after it was listed does."""
    (tmp_path / "train_gpt.py").write_text("import helper\nhelper.run()\n", encoding="utf-8")
    (tmp_path / "helper.py").write_text("def run():\n    pass\n", encoding="utf-8")
    found = source._Loader._module_file

    def vanishing(self, dotted: str) -> str | None:
        rel = found(self, dotted)
        if rel:
            (self.root / rel).unlink()
        return rel

    monkeypatch.setattr(source._Loader, "_module_file", vanishing)
    sub = source.load(tmp_path)
    assert [u.file for u in sub.units] == ["train_gpt.py"]
    assert [p.file for p in sub.problems] == ["helper.py"] and "cannot read" in sub.problems[0].message

    headline = source.find_headline
    monkeypatch.setattr(source, "find_headline", lambda root: (root / headline(root)).unlink() or "train_gpt.py")
    with pytest.raises(InputError, match="cannot read"):
        source.load(tmp_path)


def _calls_running_code(code: str) -> list[int]:
    tree = ast.parse(code)
    return sorted(n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and unwrap.runs_code(n, tree))


def test_names_bound_only_to_exec_run_code_in_their_scope() -> None:
    code = "\n".join([
        "run = exec",                     # 1: a module alias
        "run('x = 1')",                   # 2: yes
        "def f(run):",                    # 3: a parameter shadows it
        "    run('x = 2')",               # 4: no
        "def g():",                       # 5
        "    run('x = 3')",               # 6: yes, the module's alias
        "    def h():",                   # 7
        "        for run in [print]:",    # 8: a loop target shadows it
        "            run('x = 4')",       # 9: no
        "class C:",                       # 10
        "    go = exec",                  # 11: a class-body alias
        "    def m(self):",               # 12
        "        go('x = 5')",            # 13: no: methods do not see class-body names
        "other = exec",                   # 14
        "other = print",                  # 15: bound to something else too: not an alias
        "other('x = 6')",                 # 16: no
        "exec('x = 7')",                  # 17: yes
    ])
    assert _calls_running_code(code) == [2, 6, 17]


@pytest.mark.parametrize("call,names", [
    ("exec(s, {'a': x, 'b': y.z})", [("a", "x"), ("b", "y.z")]),
    ("exec(s, {})", []),
    ("exec(s, ns)", None),
    ("exec(s, {**d})", None),
    ("exec(s)", None),
])
def test_literal_namespace_of_an_exec_call(call: str, names: list[tuple[str, str]] | None) -> None:
    node = ast.parse(call).body[0].value
    found = unwrap._literal_namespace(node)
    assert (None if found is None else [(name, ast.unparse(expr)) for name, expr in found]) == names
