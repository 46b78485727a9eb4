"""Deterministic generator of hostile inputs for the static audit path.

`generate(seed)` returns a list of `Case`s; `Case.build(base)` writes one under `base` and returns the
path to audit (a `.py` file or a folder). The same seed always gives the same cases, byte for byte.
Categories (the `category` of each case):

* ``ast_mutation``   — code fixtures re-written through `ast`: statements deleted, duplicated, swapped,
                       wrapped in `if`/`for`/`with`/`try`, expressions swapped; still valid Python.
* ``text_mutation``  — syntax damage: truncation, byte flips, deleted/duplicated lines, indentation damage,
                       token junk, splices of two fixtures, CRLF/CR endings, tabs.
* ``folder_mutation``— folder fixtures with one file damaged or removed.
* ``encoding``       — latin-1 with and without a cookie, UTF-16 with/without BOM, bad and odd cookies.
* ``nul``            — NUL bytes in files and in decoded payloads.
* ``size``           — huge literals, many statements, long lines, over-limit files.
* ``depth``          — deep nesting: parentheses, brackets, indentation, elif chains, operator chains.
* ``payload``        — exec/eval wrappers: nested 10 deep, decompression bombs, exponential constants,
                       undecodable and odd payloads.
* ``filesystem``     — symlinks out of the folder and in loops, dangling links, FIFOs, device files,
                       unreadable files, directories named like modules, absolute module names.
* ``cycle``          — helper imports and exec/runpy loops between files of a folder.
* ``synthetic``      — programs composed from training/evaluation building blocks with random structure.

Run `python -m tests.hardening.generate --seed 7 --count 3000` for a longer fuzzing session than the
test suite's: it audits every case with the same bounds and prints the ones that fail.
"""
from __future__ import annotations

import argparse
import ast
import base64
import bz2
import copy
import lzma
import os
import random
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code"

# Per-category counts for the test suite (see tests/hardening/test_corpus.py for the time budget).
DEFAULT_COUNTS = {
    "ast_mutation": 90,
    "text_mutation": 130,
    "folder_mutation": 20,
    "synthetic": 90,
}


@dataclass(frozen=True)
class Entry:
    """One filesystem object of a case: a file's bytes, a symlink's target, a FIFO or a directory."""

    kind: str  # file | link | fifo | dir
    data: bytes | str = b""
    mode: int | None = None  # chmod after writing (files)


@dataclass
class Case:
    id: str
    category: str
    files: dict[str, Entry]  # relative path -> entry
    target: str = "train_gpt.py"  # relative path to audit; "." for the folder itself
    note: str = ""
    expect: str = ""  # "", "result" or "input_error": a stronger expectation than "ends cleanly"
    gap: str = ""  # a known failure in code this suite may not change (the engine): why, and where

    def build(self, base: Path) -> Path:
        """Write the case into `base/<id>/` and return the path to audit."""
        root = base / self.id
        root.mkdir(parents=True, exist_ok=True)
        for rel, entry in sorted(self.files.items(), key=lambda kv: (kv[1].kind == "link", kv[0])):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if entry.kind == "file":
                path.write_bytes(entry.data if isinstance(entry.data, bytes) else entry.data.encode())
                if entry.mode is not None:
                    path.chmod(entry.mode)
            elif entry.kind == "link":
                os.symlink(str(entry.data), path)
            elif entry.kind == "fifo":
                os.mkfifo(path)
            elif entry.kind == "dir":
                path.mkdir(exist_ok=True)
        return root if self.target == "." else root / self.target


def _file(data: bytes | str, mode: int | None = None) -> Entry:
    return Entry("file", data if isinstance(data, bytes) else data.encode("utf-8"), mode)


# -- the corpus ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def corpus() -> tuple[tuple[str, bytes], ...]:
    """(fixture id, bytes) of every single-file code fixture, sorted."""
    out = []
    for path in sorted(FIXTURES.rglob("*.py")):
        if path.parent.parent == FIXTURES:  # tests/fixtures/code/<technique>/<file>.py
            out.append((str(path.relative_to(FIXTURES)), path.read_bytes()))
    return tuple(out)


@lru_cache(maxsize=1)
def folder_corpus() -> tuple[tuple[str, tuple[tuple[str, bytes], ...]], ...]:
    """(fixture id, files) of every folder fixture."""
    out = []
    for folder in sorted(p for p in FIXTURES.glob("*/*") if p.is_dir()):
        files = tuple((str(f.relative_to(folder)), f.read_bytes()) for f in sorted(folder.rglob("*")) if f.is_file())
        out.append((str(folder.relative_to(FIXTURES)), files))
    return tuple(out)


def wrap_exec(code: str | bytes, how: str = "lzma") -> str:
    """`code` as a self-extracting `exec(decompress(b85decode(...)))` stub."""
    raw = code.encode("utf-8") if isinstance(code, str) else code
    if how == "lzma":
        return f"import lzma as L, base64 as B\nexec(L.decompress(B.b85decode({base64.b85encode(lzma.compress(raw)).decode()!r})))\n"
    if how == "zlib":
        return f"import zlib, base64\nexec(zlib.decompress(base64.b64decode({base64.b64encode(zlib.compress(raw)).decode()!r})).decode())\n"
    if how == "bz2":
        return f"import bz2, base64\nexec(bz2.decompress(base64.b85decode({base64.b85encode(bz2.compress(raw)).decode()!r})))\n"
    raise ValueError(how)


# -- AST mutations (valid code) --------------------------------------------------------------------
_WRAPPERS = (
    "if os.environ.get('FUZZ_FLAG', '0') == '1':\n    pass",
    "for _fuzz in range(2):\n    pass",
    "with torch.no_grad():\n    pass",
    "try:\n    pass\nexcept Exception:\n    pass",
    "while True:\n    pass\n    break",
    "if __name__ == '__main__':\n    pass",
)


def _bodies(tree: ast.AST) -> list[list[ast.stmt]]:
    return [getattr(n, f) for n in ast.walk(tree) for f in ("body", "orelse", "finalbody")
            if isinstance(getattr(n, f, None), list) and getattr(n, f) and isinstance(getattr(n, f)[0], ast.stmt)]


def _ast_mutate(tree: ast.Module, rng: random.Random) -> str:
    exprs = [n for n in ast.walk(tree) if isinstance(n, ast.expr) and not isinstance(getattr(n, "ctx", None), (ast.Store, ast.Del))]
    for _ in range(rng.randint(1, 4)):
        bodies = _bodies(tree)
        body = rng.choice(bodies)
        op = rng.choice(("delete", "duplicate", "swap", "wrap", "expr", "expr", "move"))
        i = rng.randrange(len(body))
        if op == "delete" and len(body) > 1:
            del body[i]
        elif op == "duplicate":
            body.insert(i, copy.deepcopy(body[i]))
        elif op == "swap" and len(body) > 1:
            j = rng.randrange(len(body))
            body[i], body[j] = body[j], body[i]
        elif op == "wrap":
            wrapper = ast.parse(rng.choice(_WRAPPERS)).body[0]
            target = wrapper
            while True:  # the innermost `pass` takes the statement
                inner = target.body
                if isinstance(inner[0], ast.Pass):
                    inner[0] = body[i]
                    break
                target = inner[0]
            body[i] = wrapper
        elif op == "move":
            other = rng.choice(bodies)
            stmt = body.pop(i) if len(body) > 1 else copy.deepcopy(body[i])
            other.insert(rng.randrange(len(other) + 1), stmt)
        elif op == "expr" and exprs:
            # replace a random sub-expression of a random statement by another expression of the file
            stmt = body[i]
            slots = [(n, f) for n in ast.walk(stmt) if not isinstance(n, (ast.JoinedStr, ast.FormattedValue))
                     for f, v in ast.iter_fields(n)
                     if isinstance(v, ast.expr) and not isinstance(getattr(v, "ctx", None), (ast.Store, ast.Del))]
            if slots:
                node, field_name = rng.choice(slots)
                setattr(node, field_name, copy.deepcopy(rng.choice(exprs)))
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def ast_mutations(rng: random.Random, n: int) -> list[Case]:
    out = []
    items = corpus()
    for k in range(n):
        name, raw = items[rng.randrange(len(items))]
        try:
            tree = ast.parse(raw.decode("utf-8"))
        except SyntaxError:
            continue
        try:
            text = _ast_mutate(tree, rng)
        except (ValueError, RecursionError):  # a mutation `ast.unparse` cannot write back
            continue
        if rng.random() < 0.15:
            text = wrap_exec(text, rng.choice(("lzma", "zlib", "bz2")))
        out.append(Case(f"ast{k:03d}", "ast_mutation", {"train_gpt.py": _file(text)}, note=f"from {name}"))
    return out


# -- text mutations (mostly broken code) ------------------------------------------------------------
_JUNK = ("(", ")", "[", "]", "{", "}", ":", "lambda", "def ", "class ", "'''", '"""', '"', "'", "\\", "f'{", "}", "**",
         "yield", "await ", "async ", "@", "=", "\t", "\x0c", "\r", " if ", "else", "elif", "#", ",", ";", "exec(",
         "match x:\n case 1:\n  pass\n", "print 'x'", "\u00e9", "\u200b", "\U0001f600", "0x", "1e", "...", "global x",
         "nonlocal y", ":=", "->", "*", "return", "import", "from . import", "except*")


def _text_mutate(raw: bytes, rng: random.Random, other: bytes) -> tuple[bytes, str]:
    raw, other = raw or b"x", other or b"y"
    op = rng.choice(("truncate", "flip", "delete_lines", "dup_lines", "swap_lines", "indent", "junk", "junk", "splice",
                     "crlf", "cr", "tabs", "unclosed", "dedent_all"))
    lines = raw.split(b"\n")
    if op == "truncate":
        return raw[: rng.randrange(1, max(2, len(raw)))], op
    if op == "flip":
        buf = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(1, 256)
        return bytes(buf), op
    if op == "delete_lines":
        for _ in range(rng.randint(1, 5)):
            if len(lines) > 1:
                del lines[rng.randrange(len(lines))]
        return b"\n".join(lines), op
    if op == "dup_lines":
        i = rng.randrange(len(lines))
        lines[i:i] = lines[i:i + rng.randint(1, 6)]
        return b"\n".join(lines), op
    if op == "swap_lines":
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines), op
    if op == "indent":
        i = rng.randrange(len(lines))
        lines[i] = (b" " * rng.randint(1, 7) + lines[i]) if rng.random() < 0.5 else lines[i].lstrip()
        return b"\n".join(lines), op
    if op == "junk":
        buf = raw
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(buf) + 1)
            buf = buf[:at] + rng.choice(_JUNK).encode("utf-8") + buf[at:]
        return buf, op
    if op == "splice":
        return raw[: rng.randrange(len(raw))] + other[rng.randrange(len(other)):], op
    if op == "crlf":
        return raw.replace(b"\n", b"\r\n"), op
    if op == "cr":
        return raw.replace(b"\n", b"\r"), op
    if op == "tabs":
        return raw.replace(b"    ", b"\t", rng.randint(1, 50)), op
    if op == "unclosed":
        at = rng.randrange(len(raw))
        return raw[:at] + rng.choice((b'"""', b"'''", b"(", b"[", b"{", b"f'")) + raw[at:], op
    return b"\n".join(line.lstrip() for line in lines), op


def text_mutations(rng: random.Random, n: int) -> list[Case]:
    items = corpus()
    out = []
    for k in range(n):
        name, raw = items[rng.randrange(len(items))]
        other = items[rng.randrange(len(items))][1]
        data, op = _text_mutate(raw, rng, other)
        if rng.random() < 0.3:
            data, op2 = _text_mutate(data or b"x", rng, other)
            op = f"{op}+{op2}"
        out.append(Case(f"txt{k:03d}", "text_mutation", {"train_gpt.py": _file(data)}, note=f"{op} of {name}"))
    return out


def folder_mutations(rng: random.Random, n: int) -> list[Case]:
    folders = folder_corpus()
    out = []
    for k in range(n):
        name, files = folders[rng.randrange(len(folders))]
        entries = {rel: _file(data) for rel, data in files}
        victim = rng.choice(sorted(entries))
        op = rng.choice(("damage", "damage", "remove", "fifo", "dangling", "empty"))
        if op == "damage":
            data, sub = _text_mutate(files[[r for r, _ in files].index(victim)][1] or b"x", rng, b"")
            entries[victim] = _file(data)
            op = f"damage({sub})"
        elif op == "remove" and len(entries) > 1:
            del entries[victim]
        elif op == "fifo":
            entries[victim] = Entry("fifo")
        elif op == "dangling":
            entries[victim] = Entry("link", "does_not_exist.py")
        else:
            entries[victim] = _file(b"")
        out.append(Case(f"fold{k:03d}", "folder_mutation", entries, target=".", note=f"{op} {victim} of {name}"))
    return out


# -- hand-made hostile inputs -----------------------------------------------------------------------
_SMALL = (
    "import glob\nimport torch\n\n"
    "def main():\n"
    "    val = torch.load(sorted(glob.glob('./data/fineweb_val_*.bin'))[0])\n"
    "    print('val_bpb', float(val.float().mean()))\n\n"
    "if __name__ == '__main__':\n    main()\n"
)
_LATIN1 = "# commentaire: évaluation\nx = 'déjà vu'\nprint(x)\n"


def encoding_cases() -> list[Case]:
    cases: list[tuple[str, bytes, str]] = [
        ("latin1_no_cookie", _LATIN1.encode("latin-1"), "input_error"),
        ("latin1_cookie", b"# -*- coding: latin-1 -*-\n" + _LATIN1.encode("latin-1"), "result"),
        ("latin1_cookie_line2", b"#!/usr/bin/env python\n# coding=iso-8859-15\n" + _LATIN1.encode("latin-1"), "result"),
        ("cookie_line3_ignored", b"#\n#\n# coding: latin-1\n" + _LATIN1.encode("latin-1"), "input_error"),
        ("utf16_bom", _SMALL.encode("utf-16"), ""),
        ("utf16_le_no_bom", _SMALL.encode("utf-16-le"), ""),
        ("utf16_be_no_bom", _SMALL.encode("utf-16-be"), ""),
        ("utf16_cookie", "# coding: utf-16\n".encode("utf-16") + _SMALL.encode("utf-16-le"), ""),
        ("utf32_bom", _SMALL.encode("utf-32"), ""),
        ("utf8_bom", b"\xef\xbb\xbf" + _SMALL.encode(), "result"),
        ("utf8_bom_latin1_cookie", b"\xef\xbb\xbf# coding: latin-1\n" + _SMALL.encode(), ""),
        ("utf8_sig_cookie", b"# coding: utf-8-sig\n" + _SMALL.encode(), ""),
        ("unknown_cookie", b"# coding: klingon-9\n" + _SMALL.encode(), "input_error"),
        ("bytes_codec_cookie", b"# coding: zlib\n" + _SMALL.encode(), "input_error"),
        ("rot13_cookie", b"# coding: rot13\n" + _SMALL.encode(), ""),
        ("hex_cookie", b"# coding: hex\n" + _SMALL.encode(), ""),
        ("utf16_cookie_on_ascii", b"# coding: utf-16\n" + _SMALL.encode() + b"#", ""),
        ("punycode_cookie", b"# coding: punycode\n" + _SMALL.encode(), ""),
        ("idna_cookie", b"# coding: idna\n" + _SMALL.encode(), ""),
        ("unicode_escape_cookie", b"# coding: unicode_escape\nx = '\\u00e9'\n" + _SMALL.encode(), ""),
        ("cp037_cookie", b"# coding: cp037\n" + _SMALL.encode("cp037"), ""),
        ("cookie_empty_name", b"# coding: \n" + _SMALL.encode(), ""),
        ("cookie_dots", b"# coding: ....\n" + _SMALL.encode(), ""),
        ("lone_surrogate_bytes", b"x = '\xed\xa0\x80'\n", "input_error"),
        ("overlong_utf8", b"x = '\xc0\xaf'\n", "input_error"),
        ("mixed_endings", _SMALL.replace("\n", "\r\n", 3).replace("\n", "\r", 2).encode(), ""),
        ("form_feeds", _SMALL.replace("\n", "\n\x0c").encode(), ""),
        ("unicode_identifiers", "ｖａｌ = 1\nécole = ｖａｌ + 1\nprint(val, école)\n".encode(), "result"),
        ("bidi_controls", "x = 1  # \u202e evil \u202c\nprint(x)\n".encode(), "result"),
    ]
    return [Case(f"enc_{name}", "encoding", {"train_gpt.py": _file(data)}, expect=expect) for name, data, expect in cases]


def nul_cases() -> list[Case]:
    return [
        Case("nul_middle", "nul", {"train_gpt.py": _file(_SMALL.encode().replace(b"\n\n", b"\n\x00\n", 1))}, expect="input_error"),
        Case("nul_only", "nul", {"train_gpt.py": _file(b"\x00" * 64)}, expect="input_error"),
        Case("nul_in_string_escape", "nul", {"train_gpt.py": _file(b"x = '\\x00'\nprint(x)\n")}, expect="result"),
        Case("nul_in_payload", "nul", {"train_gpt.py": _file(wrap_exec(b"x = 1\x00\nprint(x)\n"))}, expect="result"),
        Case("nul_in_literal_exec", "nul", {"train_gpt.py": _file(b"exec('x = 1\\x00')\n")}, expect="result"),
        Case("nul_in_helper", "nul", {"train_gpt.py": _file(b"import helper\nhelper.run()\n"),
                                      "helper.py": _file(b"def run():\n    pass\x00\n")}, target=".", expect="result"),
    ]


def size_cases() -> list[Case]:
    return [
        Case("str_10mb", "size", {"train_gpt.py": _file(b"x = '" + b"a" * 10_000_000 + b"'\nprint(len(x))\n")}),
        Case("str_3mb", "size", {"train_gpt.py": _file(b"x = '" + b"ab " * 1_000_000 + b"'\nprint(len(x))\n")}, expect="result"),
        Case("bytes_3mb_blob", "size", {"train_gpt.py": _file(b"B = b'" + b"\\xff" * 700_000 + b"'\n")}, expect="result"),
        Case("triple_quoted_3mb", "size", {"train_gpt.py": _file(b'D = """' + b"line\n" * 600_000 + b'"""\n')}, expect="result"),
        Case("comment_3mb", "size", {"train_gpt.py": _file(b"#" + b"c" * 3_000_000 + b"\nx = 1\n")}, expect="result"),
        Case("statements_10k", "size", {"train_gpt.py": _file(b"x = 1\n" * 10_000)}, expect="result"),
        Case("statements_800k", "size", {"train_gpt.py": _file(b"x=1\n" * 800_000)}),
        Case("list_literal_1m", "size", {"train_gpt.py": _file(b"T = [" + b"1," * 1_000_000 + b"]\n")}),
        Case("functions_1k", "size", {"train_gpt.py": _file("".join(f"def f{i}(x):\n    return f{i - 1}(x) if {i} else x\n" for i in range(1000)).encode())}, expect="result"),
        Case("calls_chain_500", "size", {"train_gpt.py": _file(("import torch\nopt = torch.optim.SGD([], lr=0.1)\n" + "".join(f"def f{i}():\n    f{i + 1}()\n    f{i + 1}()\n" for i in range(500)) + "def f500():\n    opt.step()\nf0()\n").encode())}, expect="result"),
        Case("calls_fanout_6_depth_16", "size", {"train_gpt.py": _file(("import torch\nopt = torch.optim.SGD([], lr=0.1)\n" + "".join(f"def f{i}():\n" + f"    f{i + 1}()\n" * 6 for i in range(15)) + "def f15():\n    opt.step()\nf0()\n").encode())},
             expect="result"),
        Case("elif_95_through_16_calls", "size", {"train_gpt.py": _file(("import torch\nopt = torch.optim.SGD([], lr=0.1)\nx = 1\n" + "".join(
            f"def f{i}():\n    if x == 0:\n        pass\n" + "".join(f"    elif x == {j}:\n        pass\n" for j in range(1, 95))
            + f"    else:\n        {'opt.step()' if i == 15 else f'f{i + 1}()'}\n" for i in range(16)) + "f0()\n").encode())},
             expect="result"),
        Case("long_line_1mb", "size", {"train_gpt.py": _file(b"x = " + b"+".join([b"1"] * 300_000) + b"\n")}),
        Case("int_literal_100k_digits", "size", {"train_gpt.py": _file(b"x = " + b"7" * 100_000 + b"\n")}),
        Case("float_literal_huge", "size", {"train_gpt.py": _file(b"x = 1" + b"0" * 5000 + b".5e99999\n")}),
        Case("many_exec_literals", "size", {"train_gpt.py": _file("".join(f"exec('y{i} = {i}')\n" for i in range(300)).encode())}, expect="result"),
        Case("empty_file", "size", {"train_gpt.py": _file(b"")}, expect="result"),
        Case("whitespace_only", "size", {"train_gpt.py": _file(b"\n\n   \n\t\n")}, expect="result"),
        Case("over_4mib", "size", {"train_gpt.py": _file(b"#" * (5 * 1024 * 1024))}, expect="input_error"),
    ]


def depth_cases() -> list[Case]:
    def nest_if(n: int) -> bytes:
        return ("x = 1\n" + "".join(" " * i + "if x:\n" for i in range(n)) + " " * n + "pass\n").encode()

    def nest_def(n: int) -> bytes:
        return ("".join(" " * i + f"def f{i}():\n" for i in range(n)) + " " * n + "return 1\n").encode()

    specs: list[tuple[str, bytes]] = [
        ("parens_150", b"x = " + b"(" * 150 + b"1" + b")" * 150 + b"\n"),
        ("parens_199", b"x = " + b"(" * 199 + b"1" + b")" * 199 + b"\n"),
        ("parens_2000", b"x = " + b"(" * 2000 + b"1" + b")" * 2000 + b"\nif x: pass\n"),
        ("parens_20000_fstring", b"x = f'{y}'\nz = " + b"(" * 20000 + b"1" + b")" * 20000 + b"\n"),
        ("brackets_2000_unclosed", b"x = " + b"[" * 2000 + b"\n"),
        ("braces_mixed_3000", b"x = " + b"([{" * 1000 + b"\n"),
        ("calls_nested_190", b"x = " + b"f(" * 190 + b")" * 190 + b"\n"),
        ("ifs_99", nest_if(99)),
        ("ifs_100", nest_if(100)),
        ("ifs_2000", nest_if(2000)),
        ("defs_98", nest_def(98)),
        ("elif_150", ("x = 1\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 150))).encode()),
        ("elif_400", ("x = 1\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 400))).encode()),
        ("elif_2000", ("x = 1\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 2000))).encode()),
        ("elif_20000_fstring", ("x = f'{1}'\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 20000)) + "print(1 2)\n").encode()),
        ("binop_500", b"x = " + b"+".join([b"a"] * 500) + b"\n"),
        ("binop_1500", b"x = " + b"+".join([b"a"] * 1500) + b"\n"),
        ("binop_10000", b"x = " + b"+".join([b"a"] * 10000) + b"\n"),
        ("binop_60000_fstring_error", b"x = f'{1}' " + b"+ a" * 60000 + b"\nprint(1 2)\n"),
        ("attr_chain_5000", b"x = a" + b".b" * 5000 + b"\n"),
        ("call_chain_5000", b"x = f" + b"()" * 5000 + b"\n"),
        ("subscript_chain_5000", b"x = a" + b"[0]" * 5000 + b"\n"),
        ("unary_neg_5000", b"x = " + b"-" * 5000 + b"y\n"),
        ("not_chain_30000_error", b"x = f'{y}' and " + b"not " * 30000 + b"y\nprint(1 2)\n"),
        ("ifexp_3000", b"x = " + b"a if b else " * 3000 + b"c\n"),
        ("lambda_3000", b"x = " + b"lambda: " * 3000 + b"1\n"),
        ("power_3000", b"x = " + b"**".join([b"2"] * 3000) + b"\n"),
        ("compare_5000", b"x = " + b" < ".join([b"a"] * 5000) + b"\n"),
        ("boolop_5000", b"x = " + b" and ".join([b"a"] * 5000) + b"\n"),
        ("string_concat_50000", b"x = " + b" ".join([b"'a'"] * 50000) + b"\n"),
        ("decorators_5000", b"@d\n" * 5000 + b"def f():\n    pass\n"),
        ("fstring_nested_3_12", b"d = {'k': 1}\nprint(f\"{d[\"k\"]} {f'{d[\"k\"]:>{3}}'}\")\n"),
        ("fstring_deep_3_12_error", b"x = " + b'f"{' * 150 + b"1" + b'}"' * 150 + b"\n"),
        ("with_items_2000", b"with " + b", ".join([b"a"] * 2000) + b":\n    pass\n"),
        ("dict_nested_150", b"x = " + b"{'a': " * 150 + b"1" + b"}" * 150 + b"\n"),
        ("tuple_unpack_deep_150", b"(" * 150 + b"a" + b",)" * 150 + b" = x\n"),
        ("comprehension_nested_150", b"x = " + b"[" * 150 + b"i" + b" for i in y]" * 150 + b"\n"),
        ("walrus_chain_3000", b"x = " + b"(a := " * 150 + b"1" + b")" * 150 + b"\n"),
    ]
    return [Case(f"deep_{name}", "depth", {"train_gpt.py": _file(data)}) for name, data in specs]


@cache
def _bomb(codec: str, size: int = 80 * 1024 * 1024, fill: bytes = b"#") -> bytes:
    """`size` bytes of `fill` compressed: a few KB that inflate past the 64 MiB decoding cap."""
    chunk = fill * (1024 * 1024)
    if codec == "zlib":
        comp = zlib.compressobj(9)
        return b"".join([comp.compress(chunk) for _ in range(size // len(chunk))] + [comp.flush()])
    if codec == "bz2":
        comp = bz2.BZ2Compressor(9)
        return b"".join([comp.compress(chunk) for _ in range(size // len(chunk))] + [comp.flush()])
    comp = lzma.LZMACompressor(preset=1)
    return b"".join([comp.compress(chunk) for _ in range(size // len(chunk))] + [comp.flush()])


def payload_cases() -> list[Case]:
    nested = "print('innermost')\n"
    levels = {}
    for depth in range(1, 11):
        nested = wrap_exec(nested, ("lzma", "zlib", "bz2")[depth % 3])
        levels[depth] = nested
    zbomb, lbomb, bbomb = _bomb("zlib"), _bomb("lzma"), _bomb("bz2")
    code_bomb = _bomb("zlib", 60 * 1024 * 1024, b"x=1\n")
    specs: list[tuple[str, str | bytes, str]] = [
        ("nested_5", levels[5], "result"),
        ("nested_7", levels[7], "result"),
        ("nested_10", levels[10], "result"),
        ("bomb_zlib", f"import zlib, base64\nexec(zlib.decompress(base64.b64decode({base64.b64encode(zbomb).decode()!r})))\n", "result"),
        ("bomb_lzma", f"import lzma, base64\nexec(lzma.decompress(base64.b85decode({base64.b85encode(lbomb).decode()!r})))\n", "result"),
        ("bomb_bz2", f"import bz2, base64\nexec(bz2.decompress(base64.b85decode({base64.b85encode(bbomb).decode()!r})))\n", "result"),
        ("bomb_gzip_codec", f"import codecs, base64\nexec(codecs.decode(base64.b64decode({base64.b64encode(zbomb).decode()!r}), 'zlib'))\n", "result"),
        ("bomb_under_cap_code", f"import zlib, base64\nexec(zlib.decompress(base64.b64decode({base64.b64encode(code_bomb).decode()!r})))\n", "result"),
        ("bomb_repeated_40", f"import zlib, base64\nP = base64.b64decode({base64.b64encode(_bomb('zlib', 60 * 1024 * 1024)).decode()!r})\n"
         + "".join("exec(zlib.decompress(P))\n" for _ in range(40)), "result"),
        ("bomb_nested_inside_payload", wrap_exec(f"import zlib, base64\nexec(zlib.decompress(base64.b64decode({base64.b64encode(zbomb).decode()!r})))\n"), "result"),
        ("exponential_constants_40", "a0 = 'x = 1;'\n" + "".join(f"a{i} = a{i - 1} + a{i - 1}\n" for i in range(1, 41)) + "exec(a40)\n", "result"),
        ("corrupt_blob_repeated_300", "import base64\nP = '" + "0" * 2_000_000 + "~'\n" + "exec(base64.b85decode(P))\n" * 300, "result"),
        ("self_referencing_constant", "a = a + 'x'\nexec(a)\n", "result"),
        ("mutual_constants", "a = b + 'x'\nb = a + 'y'\nexec(a)\n", "result"),
        ("replace_explosion", "exec('" + "a" * 50_000 + "'.replace('', '" + "b" * 50_000 + "'))\n", "result"),
        ("replace_chain", "s = 'ab'\n" + "".join(f"s{i} = (s{i - 1} if {i} > 1 else s).replace('a', 'aa')\n" for i in range(1, 60)) + "exec(s59)\n", "result"),
        ("str_of_bad_bytes", "exec(str(b'\\xff\\xfe'))\n", "result"),
        ("decode_utf16_odd", "exec(b'abc'.decode('utf-16'))\n", "result"),
        ("decode_punycode_big", "exec(b'" + "a" * 200_000 + "-'.decode('punycode'))\n", "result"),
        ("codecs_unknown", "import codecs\nexec(codecs.decode(b'x', 'no-such-codec'))\n", "result"),
        ("codecs_rot13", "import codecs\nexec(codecs.decode('cevag(1)', 'rot13'))\n", "result"),
        ("bytes_not_utf8", "import base64\nexec(base64.b64decode('//79'))\n", "result"),
        ("decodes_to_int", "import zlib\nexec(len(zlib.decompress(b'x')))\n", "result"),
        ("decodes_to_list", "exec(['print(1)'])\n", "result"),
        ("decodes_to_dict", "exec({'a': 'b'})\n", "result"),
        ("payload_syntax_error", wrap_exec("def broken(:\n"), "result"),
        ("payload_deep_parens", wrap_exec("x = " + "(" * 3000 + "1" + ")" * 3000 + "\n"), "result"),
        ("payload_elif_2000", wrap_exec("x = 1\nif x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 2000))), "result"),
        ("payload_fstring_3_12", wrap_exec("d = {'k': 1}\nprint(f\"{d[\"k\"]}\")\n"), "result"),
        ("lzma_raw_filters", "import lzma\nexec(lzma.decompress(b'\\x00\\x00', lzma.FORMAT_RAW, None, [{'id': lzma.FILTER_LZMA2, 'dict_size': 1536 * 1024 * 1024}]))\n", "result"),
        ("lzma_bad_kwargs", "import lzma\nexec(lzma.decompress(b'x', format=99, memlimit='a'))\n", "result"),
        ("zlib_bad_wbits", "import zlib\nexec(zlib.decompress(b'x', 99))\n", "result"),
        ("b85_garbage", "import base64\nexec(base64.b85decode('~~~~~~~~'))\n", "result"),
        ("a85_huge", "import base64\nexec(base64.a85decode('" + "z" * 400_000 + "'))\n", "result"),
        ("b16_lowercase", "import base64\nexec(base64.b16decode('7072696e74283129'))\n", "result"),
        ("fromhex_bad", "exec(bytes.fromhex('zz'))\n", "result"),
        ("compile_wrapper", "exec(compile('x = 1', '<s>', 'exec'))\n", "result"),
        ("eval_literal", "y = eval('1 + 1')\n", "result"),
        ("exec_runtime_code", "import sys\nexec(sys.argv[1])\n", "result"),
        ("exec_no_args", "exec()\n", "result"),
        ("exec_kwargs_only", "exec(source='x')\n", "result"),
        ("exec_starred", "exec(*['x = 1'])\n", "result"),
        ("quine_like", "P = 'exec(P)'\nexec(P)\n", "result"),
        ("payload_imports_missing_helper", wrap_exec("import helper_that_is_not_there\n"), "result"),
        ("decoded_decoders_aliases", "from base64 import b85decode as d\nfrom lzma import decompress as z\nexec(z(d("
         + repr(base64.b85encode(lzma.compress(b"print(2)\n")).decode()) + ")))\n", "result"),
    ]
    return [Case(f"pay_{name}", "payload", {"train_gpt.py": _file(data)}, expect=expect) for name, data, expect in specs]


_HELPER = "def run(x):\n    return x\n"
_MAIN_IMPORTS_HELPER = "import helper\nhelper.run(1)\n"


def filesystem_cases() -> list[Case]:
    main = _file(_MAIN_IMPORTS_HELPER)
    cases = [
        Case("fs_helper_link_etc_passwd", "filesystem", {"train_gpt.py": main, "helper.py": Entry("link", "/etc/passwd")}, ".", expect="result"),
        Case("fs_headline_link_etc_passwd", "filesystem", {"train_gpt.py": Entry("link", "/etc/passwd")}, "."),
        Case("fs_file_target_link_etc_passwd", "filesystem", {"passwd.py": Entry("link", "/etc/passwd")}, "passwd.py"),
        Case("fs_file_target_link_dev_zero", "filesystem", {"zero.py": Entry("link", "/dev/zero")}, "zero.py", expect="input_error"),
        Case("fs_folder_link_dev_zero", "filesystem", {"train_gpt.py": Entry("link", "/dev/zero")}, "."),
        Case("fs_helper_link_dev_zero_inside", "filesystem", {"train_gpt.py": main, "helper.py": Entry("link", "zero"), "zero": Entry("link", "/dev/zero")}, ".", expect="result"),
        Case("fs_link_loop_helper", "filesystem", {"train_gpt.py": main, "helper.py": Entry("link", "other.py"), "other.py": Entry("link", "helper.py")}, ".", expect="result"),
        Case("fs_link_self_loop_headline", "filesystem", {"train_gpt.py": Entry("link", "train_gpt.py"), "prep.py": _file(_SMALL)}, "."),
        Case("fs_link_loop_file_target", "filesystem", {"a.py": Entry("link", "b.py"), "b.py": Entry("link", "a.py")}, "a.py", expect="input_error"),
        Case("fs_dangling_helper", "filesystem", {"train_gpt.py": main, "helper.py": Entry("link", "gone.py")}, ".", expect="result"),
        Case("fs_dangling_headline", "filesystem", {"train_gpt.py": Entry("link", "gone.py"), "other.py": _file(_SMALL)}, "."),
        Case("fs_dangling_file_target", "filesystem", {"gone_link.py": Entry("link", "gone.py")}, "gone_link.py", expect="input_error"),
        Case("fs_fifo_file_target", "filesystem", {"pipe.py": Entry("fifo")}, "pipe.py", expect="input_error"),
        Case("fs_fifo_headline", "filesystem", {"train_gpt.py": Entry("fifo")}, "."),
        Case("fs_fifo_helper", "filesystem", {"train_gpt.py": main, "helper.py": Entry("fifo")}, ".", expect="result"),
        Case("fs_fifo_readme", "filesystem", {"train_gpt.py": _file(_SMALL), "README.md": Entry("fifo")}, ".", expect="result"),
        Case("fs_fifo_log", "filesystem", {"train_gpt.py": _file(_SMALL), "train_seed1.log": Entry("fifo")}, ".", expect="result"),
        Case("fs_fifo_sibling_script", "filesystem", {"train_gpt.py": _file(_SMALL), "prep.py": Entry("fifo"), "submission.json": _file("{}")}, ".", expect="result"),
        Case("fs_fifo_config_json", "filesystem", {"train_gpt.py": _file(_SMALL), "config.json": Entry("fifo")}, ".", expect="result"),
        Case("fs_unreadable_helper", "filesystem", {"train_gpt.py": main, "helper.py": _file(_HELPER, mode=0)}, ".", expect="result"),
        Case("fs_unreadable_headline", "filesystem", {"train_gpt.py": _file(_SMALL, mode=0)}, "."),
        Case("fs_unreadable_file_target", "filesystem", {"x.py": _file(_SMALL, mode=0)}, "x.py"),
        Case("fs_directory_named_helper", "filesystem", {"train_gpt.py": main, "helper.py": Entry("dir")}, ".", expect="result"),
        Case("fs_directory_named_train_gpt", "filesystem", {"train_gpt.py": Entry("dir"), "run.py": _file(_SMALL)}, ".", expect="result"),
        Case("fs_dir_link_loop_nested_only", "filesystem", {"sub/inner.py": _file(_SMALL), "sub/loop": Entry("link", ".."), "sub/self": Entry("link", ".")}, "."),
        Case("fs_dir_link_outside_import", "filesystem", {"train_gpt.py": _file("import sys_lib.os\n"), "sys_lib": Entry("link", os.path.dirname(os.__file__))}, ".", expect="result"),
        Case("fs_absolute_module_name", "filesystem", {"train_gpt.py": _file("__import__('/etc/hostname')\nimport importlib\nimportlib.import_module('/tmp/../etc/x')\n")}, ".", expect="result"),
        Case("fs_empty_module_name", "filesystem", {"train_gpt.py": _file("__import__('')\nimport importlib\nimportlib.import_module('.')\nimportlib.import_module('..')\n")}, ".", expect="result"),
        Case("fs_exec_open_outside", "filesystem", {"train_gpt.py": _file("exec(open('/etc/passwd').read())\nexec(open('../../x.py').read())\n")}, ".", expect="result"),
        Case("fs_empty_folder", "filesystem", {"README.md": _file("nothing here\n")}, ".", expect="input_error"),
        Case("fs_readme_run_regex_stress", "filesystem", {"train_gpt.py": _file(_SMALL), "README.md": _file("python " * 300_000)}, ".", expect="result"),
        Case("fs_readme_many_commands", "filesystem", {"train_gpt.py": _file(_SMALL), "alt.py": _file(_SMALL), "README.md": _file("torchrun alt.py\n" * 30_000)}, ".", expect="result"),
        Case("fs_unicode_names", "filesystem", {"train_gpt.py": _file("import módulo\nmódulo.run(1)\n"), "módulo.py": _file(_HELPER)}, ".", expect="result"),
        Case("fs_space_names", "filesystem", {"my script.py": _file(_SMALL)}, ".", expect="result"),
        Case("fs_non_py_target", "filesystem", {"train_gpt.txt": _file(_SMALL)}, "train_gpt.txt", expect="input_error"),
        Case("fs_missing_target", "filesystem", {"README.md": _file("x")}, "nope.py", expect="input_error"),
        Case("fs_stdlib_shadow_torch", "filesystem", {"train_gpt.py": _file("import torch\ntorch.run(1)\n"), "torch.py": _file(_HELPER)}, ".", expect="result"),
    ]
    return cases


def cycle_cases() -> list[Case]:
    chain = {f"m{i}.py": _file(f"import m{i + 1}\n") for i in range(80)}
    chain["m80.py"] = _file("import m0\n")
    return [
        Case("cyc_ab", "cycle", {"train_gpt.py": _file("import a\n"), "a.py": _file("import b\ndef fa():\n    b.fb()\n"), "b.py": _file("import a\ndef fb():\n    a.fa()\n")}, ".", expect="result"),
        Case("cyc_self_import", "cycle", {"train_gpt.py": _file("import train_gpt\ntrain_gpt.main()\ndef main():\n    main()\n")}, ".", expect="result"),
        Case("cyc_exec_self", "cycle", {"train_gpt.py": _file("exec(open('train_gpt.py').read())\n")}, ".", expect="result"),
        Case("cyc_runpy_pair", "cycle", {"train_gpt.py": _file("import runpy\nrunpy.run_path('b.py')\n"), "b.py": _file("import runpy\nrunpy.run_path('train_gpt.py')\n")}, ".", expect="result"),
        Case("cyc_importlib_pair", "cycle", {"train_gpt.py": _file("import importlib\nimportlib.import_module('b')\n"), "b.py": _file("__import__('train_gpt')\n")}, ".", expect="result"),
        Case("cyc_package", "cycle", {"train_gpt.py": _file("import pkg.mod\n"), "pkg/__init__.py": _file("from . import mod\n"), "pkg/mod.py": _file("import pkg\nfrom pkg import mod\n")}, ".", expect="result"),
        Case("cyc_chain_80", "cycle", {"train_gpt.py": _file("import m0\n"), **chain}, ".", expect="result"),
        Case("cyc_payload_imports_main", "cycle", {"train_gpt.py": _file(wrap_exec("import helper\n")), "helper.py": _file("import train_gpt\n")}, ".", expect="result"),
        Case("cyc_mutual_recursion_step", "cycle", {"train_gpt.py": _file(
            "import torch\nimport a\nopt = torch.optim.SGD([], lr=1)\ndef f(n):\n    a.g(n)\n    opt.step()\nf(3)\n"),
            "a.py": _file("import train_gpt\ndef g(n):\n    train_gpt.f(n - 1)\n")}, ".", expect="result"),
        Case("cyc_constant_and_flag_cycles", "cycle", {"train_gpt.py": _file('import os\nX = Y\nY = X\nclass H:\n    a = b\n    b = a\n    c = int(os.environ.get("C", H.c))\ndef f():\n    return f()\ndef g(n):\n    return g(n + 1) if n else g(n - 1)\nh = H()\nFLAG = bool(int(os.environ.get("FLAG", str(int(X)))))\nif X and H.a and f() and g(1) and FLAG and h.c > 0:\n    import torch\n    opt = torch.optim.SGD([], lr=1)\n    opt.step()\nwhile Y:\n    Y = not Y\n')}, ".", expect="result"),
        Case("cyc_attribute_and_default_cycles", "cycle", {"train_gpt.py": _file('import os\nclass A:\n    def __init__(self):\n        self.x = self.y\n        self.y = self.x\n    @property\n    def p(self):\n        return self.p\na = A()\ncfg = a\ncfg.z = cfg\nif cfg.z.z.z.z.p and a.x:\n    pass\nv = [v for v in v]\nw = {k: w[k] for k in w}\ndef rec(h=rec):\n    return rec(h)\nif rec():\n    pass\n')}, ".", expect="result"),
        Case("cyc_class_hierarchy", "cycle", {"train_gpt.py": _file("class A(B):\n    pass\nclass B(A):\n    def step(self):\n        self.step()\nB().step()\n")}, ".", expect="result"),
        Case("cyc_class_self_base", "cycle", {"train_gpt.py": _file("class Optimizer(Optimizer):\n    pass\nclass M(M):\n    def forward(self, x):\n        return self(x)\nOptimizer().step()\nM()(1)\n")}, ".", expect="result"),
    ]


# -- synthetic programs -----------------------------------------------------------------------------
class _Synth:
    """Valid programs from training/evaluation building blocks with random structure and names."""

    IDENT = ("model", "opt", "val", "tokens", "stream", "buf", "state", "cfg", "h", "x", "y", "loss", "nll", "acc", "table",
             "cache", "delta", "chunk", "seq", "w", "grad", "scores", "ref", "holdout", "batch")

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.n = 0

    def name(self, prefix: str = "") -> str:
        self.n += 1
        return f"{prefix or self.rng.choice(self.IDENT)}_{self.n}"

    def expr(self, env: list[str], depth: int = 0) -> str:
        r = self.rng
        pick = r.randrange(16 if depth < 3 else 4)
        v = r.choice(env) if env else "0"
        if pick == 0:
            return v
        if pick == 1:
            return str(r.randint(0, 9))
        if pick == 2:
            return repr(r.choice(("./data/fineweb_val_000.bin", "fineweb_train_*.bin", "weights.pt", "k", "step", "st")))
        if pick == 3:
            return f"{v}[{self.expr(env, depth + 1)}:{self.expr(env, depth + 1)}]"
        if pick == 4:
            return f"F.cross_entropy({self.expr(env, depth + 1)}, {self.expr(env, depth + 1)})"
        if pick == 5:
            return f"model({self.expr(env, depth + 1)})"
        if pick == 6:
            return f"torch.load(sorted(glob.glob({self.expr(env, depth + 1)}))[0])"
        if pick == 7:
            return f"{{'a': {self.expr(env, depth + 1)}, 'b': [{self.expr(env, depth + 1)}]}}[{r.choice(('a', 'b'))!r}]"
        if pick == 8:
            return f"[{self.expr(env, depth + 1)} for _i in range({r.randint(1, 4)})]"
        if pick == 9:
            return f"(lambda q: q + {self.expr(env, depth + 1)})({v})"
        if pick == 10:
            return f"getattr({v}, {self.expr(env, depth + 1)})"
        if pick == 11:
            return f"{self.expr(env, depth + 1)} if {v} else {self.expr(env, depth + 1)}"
        if pick == 12:
            return f"torch.log_softmax({self.expr(env, depth + 1)}, -1).gather(-1, {v})"
        if pick == 13:
            return f"({self.name('w')} := {self.expr(env, depth + 1)})"
        if pick == 14:
            return f"{v}.detach().float().sum()"
        return f"f\"{{{v}}} {{{self.expr(env, depth + 1)}!r}}\""

    def block(self, env: list[str], depth: int, indent: int, in_fn: bool) -> list[str]:
        r = self.rng
        pad = " " * indent
        lines: list[str] = []
        env = list(env)
        for _ in range(r.randint(1, 4)):
            kind = r.randrange(20 if depth < 4 else 9)
            if kind in (0, 1, 2):
                t = self.name()
                lines.append(f"{pad}{t} = {self.expr(env)}")
                env.append(t)
            elif kind == 3:
                lines.append(f"{pad}{self.expr(env)}.backward()")
            elif kind == 4:
                lines.append(f"{pad}{r.choice(env) if env else 'opt'}.step()")
            elif kind == 5:
                lines.append(f"{pad}{r.choice(env) if env else 'acc'} += {self.expr(env)}")
            elif kind == 6:
                o = self.name("opt")
                lines.append(f"{pad}{o} = torch.optim.{r.choice(('SGD', 'AdamW', 'LBFGS'))}({self.expr(env)}, lr=0.1)")
                env.append(o)
            elif kind == 7:
                lines.append(f"{pad}{r.choice(('table', 'cache'))}[{self.expr(env)}] = {self.expr(env)}")
            elif kind == 8:
                lines.append(f"{pad}print({self.expr(env)})")
            elif kind == 9:
                it = self.name("i")
                lines.append(f"{pad}for {it} in {r.choice(('range(3)', 'enumerate(' + (r.choice(env) if env else 'x') + ')', 'zip(a, b)', 'stream()'))}:")
                lines += self.block(env + [it], depth + 1, indent + 4, in_fn)
            elif kind == 10:
                lines.append(f"{pad}if {self.expr(env)}:")
                lines += self.block(env, depth + 1, indent + 4, in_fn)
                if r.random() < 0.5:
                    lines.append(f"{pad}elif {self.expr(env)}:")
                    lines += self.block(env, depth + 1, indent + 4, in_fn)
                if r.random() < 0.5:
                    lines.append(f"{pad}else:")
                    lines += self.block(env, depth + 1, indent + 4, in_fn)
            elif kind == 11:
                ctx = r.choice(("torch.no_grad()", "torch.enable_grad()", 'open("f") as fh', "torch.inference_mode()"))
                lines.append(f"{pad}with {ctx}:")
                lines += self.block(env + ["fh"], depth + 1, indent + 4, in_fn)
            elif kind == 12:
                lines.append(f"{pad}try:")
                lines += self.block(env, depth + 1, indent + 4, in_fn)
                lines.append(f"{pad}except {r.choice(('Exception', 'ValueError as e', '(KeyError, IndexError)'))}:")
                lines += self.block(env, depth + 1, indent + 4, in_fn)
                lines.append(f"{pad}finally:")
                lines += self.block(env, depth + 1, indent + 4, in_fn)
            elif kind == 13:
                fn = self.name("fn")
                params = [self.name("p") for _ in range(r.randint(0, 3))]
                deco = r.choice(("", "@torch.no_grad()", "@staticmethod", "@functools.lru_cache(None)", "@torch.compile"))
                if deco:
                    lines.append(f"{pad}{deco}")
                lines.append(f"{pad}{r.choice(('def', 'def', 'async def'))} {fn}({', '.join(params + r.choice(([], ['*args'], ['**kw'], ['*', 'k=1'])))}):")
                body = self.block(env + params, depth + 1, indent + 4, True)
                lines += body
                lines.append(f"{pad}    {r.choice(('return', 'yield', 'return'))} {self.expr(env + params)}")
                lines.append(f"{pad}{fn}({', '.join(self.expr(env) for _ in params)})")
                env.append(fn)
            elif kind == 14:
                cls = self.name("Net")
                lines.append(f"{pad}class {cls}({r.choice(('nn.Module', 'torch.optim.Optimizer', 'object', 'Base'))}):")
                lines.append(f"{pad}    scale = {self.expr(env)}")
                lines.append(f"{pad}    def forward(self, inp, tgt=None):")
                lines += self.block(env + ["self", "inp", "tgt"], depth + 2, indent + 8, True)
                lines.append(f"{pad}        return F.cross_entropy(inp, tgt)")
                lines.append(f"{pad}    def step(self, closure=None):")
                lines.append(f"{pad}        self.scale = self.scale + 1")
                env.append(cls)
            elif kind == 15:
                lines.append(f"{pad}match {self.expr(env)}:")
                pattern = r.choice(("1", "[a, *rest]", '{"k": v}', "str() as s", "Point(x=0)"))
                lines.append(f"{pad}    case {pattern}:")
                lines += self.block(env, depth + 1, indent + 8, in_fn)
                lines.append(f"{pad}    case _:")
                lines += self.block(env, depth + 1, indent + 8, in_fn)
            elif kind == 16:
                code = "\n".join(self.block([], depth + 1, 0, False))
                packed = base64.b85encode(lzma.compress(code.encode())).decode()
                lines.append(f"{pad}exec(lzma.decompress(base64.b85decode({packed!r})))" if r.random() < 0.5 else f"{pad}exec({code!r})")
            elif kind == 17:
                lines.append(f"{pad}while {self.expr(env)}:")
                lines += self.block(env, depth + 1, indent + 4, in_fn)
                lines.append(f"{pad}    break")
            elif kind == 18 and in_fn:
                lines.append(f"{pad}{r.choice(('global', 'nonlocal') if depth > 1 else ('global',))} {r.choice(self.IDENT)}")
            else:
                simple = r.choice(("pass", "del x", 'assert x, "m"', "raise SystemExit(0)", "continue" if depth else "pass"))
                lines.append(f"{pad}{simple}")
        return lines

    def program(self) -> str:
        head = ["import functools, glob, os, lzma, base64, importlib", "import torch", "import torch.nn as nn",
                "import torch.nn.functional as F", "table, cache, acc, x, a, b = {}, {}, 0.0, 0, [], []",
                "val = torch.load(sorted(glob.glob('./data/fineweb_val_*.bin'))[0])",
                "tokens = torch.load(sorted(glob.glob('./data/fineweb_train_*.bin'))[0])",
                "model = nn.Linear(8, 8)", "opt = torch.optim.AdamW(model.parameters(), lr=1e-3)",
                "def stream():", "    yield torch.load('fineweb_val_000.bin')"]
        body = self.block(["x", "acc", "table", "val", "tokens", "model", "opt"], 0, 0, False)
        text = "\n".join(head + body) + "\n"
        compile(text, "<synth>", "exec", flags=ast.PyCF_ONLY_AST)  # the generator only emits valid code...
        return text


def synthetic(rng: random.Random, n: int) -> list[Case]:
    out = []
    k = 0
    while len(out) < n:
        try:
            text = _Synth(rng).program()
        except SyntaxError:  # ...except `nonlocal`/`continue`/`yield` placements the block did not foresee
            k += 1
            continue
        out.append(Case(f"syn{len(out):03d}", "synthetic", {"train_gpt.py": _file(text)}))
        k += 1
    return out


# -- everything ------------------------------------------------------------------------------------
def generate(seed: int = 0, counts: dict[str, int] | None = None) -> list[Case]:
    """Every case for `seed`: the fixed hostile inputs and `counts` random ones per random category."""
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    cases = (encoding_cases() + nul_cases() + size_cases() + depth_cases() + payload_cases() + filesystem_cases()
             + cycle_cases())
    cases += ast_mutations(random.Random(f"{seed}:ast"), counts["ast_mutation"])
    cases += text_mutations(random.Random(f"{seed}:text"), counts["text_mutation"])
    cases += folder_mutations(random.Random(f"{seed}:folder"), counts["folder_mutation"])
    cases += synthetic(random.Random(f"{seed}:synth"), counts["synthetic"])
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzz the static audit path with generated hostile inputs.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=0, help="random cases per random category (default: the suite's)")
    parser.add_argument("--out", type=Path, help="write the cases here instead of a temporary folder")
    parser.add_argument("--only", default="", help="only categories whose name contains this")
    args = parser.parse_args()
    import tempfile

    from .harness import audit_isolated, describe

    counts = {k: args.count for k in DEFAULT_COUNTS} if args.count else None
    cases = [c for c in generate(args.seed, counts) if args.only in c.category]
    base = args.out or Path(tempfile.mkdtemp(prefix="pgolf-fuzz-"))
    bad = gaps = 0
    for case in cases:
        outcome = audit_isolated(case.build(base), timeout_s=1.0 if case.gap else 20.0)
        if not outcome.ok or (case.expect and outcome.status != case.expect):
            if case.gap:
                gaps += 1
                continue
            bad += 1
            print(describe(case.id, outcome), f"[{case.note}]" if case.note else "", flush=True)
    print(f"{len(cases)} inputs, {bad} failing, {gaps} known gaps; cases under {base}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
