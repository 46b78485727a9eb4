"""Property-based tests of the static path (hypothesis, derandomized: the same examples every run).

* any bytes, any damaged fixture and any program built from training/evaluation statements end in a
  report or a one-line input error, in bounded time and memory (audited like the corpus, `harness.py`);
* a program audited as is and shipped inside a compressed exec wrapper gives the same verdict and the
  same active techniques;
* the exec-wrapper decoder returns exactly the wrapped text;
* the linear run-command scanner finds what the regex it replaced found.
"""
from __future__ import annotations

import ast
import base64
import bz2
import lzma
import re
import tempfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.source import run_commands
from auditor.unwrap import find_payloads

from .generate import _JUNK, corpus
from .harness import COUNTER, audit_isolated, describe

# Deterministic and quiet: the same examples every run, no example database written to the checkout.
PROFILE = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _audit_text(data: bytes, name: str = "train_gpt.py"):
    with tempfile.TemporaryDirectory(prefix="pgolf-prop-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return audit_isolated(path)


# -- any bytes ------------------------------------------------------------------------------------
@settings(PROFILE, max_examples=40)
@given(st.binary(max_size=4000))
def test_any_bytes_end_cleanly(data: bytes) -> None:
    outcome = _audit_text(data)
    assert outcome.ok, describe(repr(data[:60]), outcome)


# -- damaged fixtures ------------------------------------------------------------------------------
_EDITS = st.lists(st.tuples(st.sampled_from(("insert", "delete", "replace", "truncate")),
                            st.integers(min_value=0, max_value=50_000), st.sampled_from(_JUNK)), min_size=1, max_size=6)


def _damage(raw: bytes, edits: list[tuple[str, int, str]]) -> bytes:
    for op, at, junk in edits:
        at = at % (len(raw) + 1)
        token = junk.encode("utf-8")
        if op == "insert":
            raw = raw[:at] + token + raw[at:]
        elif op == "delete":
            raw = raw[:at] + raw[at + len(token) * 7:]
        elif op == "replace":
            raw = raw[:at] + token + raw[at + len(token):]
        else:
            raw = raw[:at]
    return raw


@settings(PROFILE, max_examples=60)
@given(st.sampled_from(corpus()), _EDITS)
def test_damaged_fixture_ends_cleanly(fixture: tuple[str, bytes], edits) -> None:
    name, raw = fixture
    outcome = _audit_text(_damage(raw, edits))
    assert outcome.ok, describe(f"{name} {edits}", outcome)


# -- programs from training/evaluation statements ---------------------------------------------------
LEAVES = (
    "x = val[i : i + 8]", "x = tokens[i : i + 8]", "loss = model(x).float().mean()", "loss.backward()", "opt.step()",
    "opt.zero_grad()", "acc += loss.item()", "nll = F.cross_entropy(model(x), x)", "acc = acc + nll.sum()",
    "table[int(x[0])] = table.get(int(x[0]), 0) + 1", "val = torch.load('fineweb_val_000.bin')",
    "tokens = torch.load('fineweb_train_000.bin')", "print(f'loss {acc:.3f}')", "scores.append(nll)",
    "delta = torch.zeros(8, requires_grad=True)", "opt = torch.optim.SGD([delta], lr=0.1)",
    "opt = torch.optim.AdamW(model.parameters(), lr=1e-3)", "model = copy.deepcopy(model)", "pass", "i = i + 1",
    "logp = F.log_softmax(model(x), -1).gather(-1, x[:, None])", "state = model.state_dict()",
    "model.load_state_dict(state)", "getattr(opt, name)()", "name = 'st' + 'ep'", "exec(code)", "code = 'opt.step()'",
    "globals()['fn_' + str(i)]()", "p.data.add_(p.grad, alpha=-0.1)", "x = next(stream)", "y = (yield x)",
    "nonlocal_value = [i for i in range(3) if i]", "del x", "return acc", "break", "continue",
)
HEADERS = ("for i in range(3):", "for x in batches(val):", "for x in batches(tokens):", "if flag:", "if not flag:",
           "while i < 3:", "with torch.no_grad():", "with torch.enable_grad():", "try:", "def fn:", "class Box(nn.Module):")
PRELUDE = ("import copy, glob, os\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
           "flag = os.environ.get('FLAG', '1') == '1'\nacc, i, table, scores, name, code = 0.0, 0, {}, [], 'step', ''\n"
           "val = torch.load(sorted(glob.glob('./data/fineweb_val_*.bin'))[0])\n"
           "tokens = torch.load(sorted(glob.glob('./data/fineweb_train_*.bin'))[0])\n"
           "model = nn.Linear(8, 8)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
           "def batches(t):\n    for j in range(0, len(t), 8):\n        yield t[j : j + 8]\n")

_statement = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.tuples(st.sampled_from(HEADERS), st.lists(inner, min_size=1, max_size=4)),
    max_leaves=30,
)
programs = st.lists(_statement, min_size=1, max_size=8)


def render(statements, indent: int = 0, counter: list[int] | None = None) -> list[str]:
    counter = counter if counter is not None else [0]
    pad = " " * indent
    lines: list[str] = []
    for stmt in statements:
        if isinstance(stmt, str):
            lines.append(pad + stmt)
            continue
        header, body = stmt
        if header == "def fn:":
            counter[0] += 1
            name = f"fn_{counter[0]}"
            lines.append(f"{pad}def {name}(val, model, opt, acc=0.0):")
            lines += render(body, indent + 4, counter)
            lines.append(f"{pad}{name}(val, model, opt)")
        elif header.startswith("class "):
            lines.append(pad + header)
            lines.append(f"{pad}    def forward(self, x):")
            lines += render(body, indent + 8, counter)
            lines.append(f"{pad}        return x")
            lines.append(f"{pad}model = Box()")
        elif header == "try:":
            lines.append(pad + header)
            lines += render(body, indent + 4, counter)
            lines.append(f"{pad}except Exception:")
            lines.append(f"{pad}    pass")
        else:
            lines.append(pad + header)
            lines += render(body, indent + 4, counter)
    return lines


def program_text(statements) -> str:
    return PRELUDE + "\n".join(render(statements)) + "\n"


@settings(PROFILE, max_examples=60)
@given(programs)
def test_generated_program_ends_cleanly(statements) -> None:
    text = program_text(statements)
    outcome = _audit_text(text.encode())
    assert outcome.ok, describe(text, outcome)


def _wrapped(text: str) -> str:
    payload = base64.b85encode(lzma.compress(text.encode("utf-8"))).decode()
    return f"import lzma as L, base64 as B\nexec(L.decompress(B.b85decode({payload!r})))\n"


@settings(PROFILE, max_examples=25)
@given(programs)
def test_compressed_wrapper_gives_the_same_verdict(statements) -> None:
    text = program_text(statements)
    plain = _audit_text(text.encode())
    wrapped = _audit_text(_wrapped(text).encode())
    assert plain.ok and wrapped.ok, (describe("plain", plain), describe("wrapped", wrapped))
    if plain.status == "result":
        assert wrapped.status == "result", describe(text, wrapped)
        assert "compressed_code" in wrapped.techniques
        assert (wrapped.detail, set(wrapped.techniques) - {"compressed_code"}) == (plain.detail, set(plain.techniques) - {"compressed_code"}), text


# -- the decoder and the run-command scanner (pure functions: many examples, no audit) --------------
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
_CODECS = {
    "lzma/b85": lambda raw: f"import lzma, base64\nexec(lzma.decompress(base64.b85decode({base64.b85encode(lzma.compress(raw)).decode()!r})).decode())\n",
    "zlib/b64": lambda raw: f"import zlib as Z, base64 as B\nP = B.b64decode({base64.b64encode(zlib.compress(raw)).decode()!r})\nexec(Z.decompress(P).decode('utf-8'))\n",
    "bz2/a85": lambda raw: f"from bz2 import decompress as d\nfrom base64 import a85decode as a\nexec(d(a({base64.a85encode(bz2.compress(raw)).decode()!r})))\n",
}


@settings(PROFILE, max_examples=120)
@given(_TEXT, st.sampled_from(sorted(_CODECS)))
def test_exec_wrapper_decodes_to_exactly_the_wrapped_text(text: str, codec: str) -> None:
    stub = _CODECS[codec](text.encode("utf-8"))
    payloads = find_payloads(ast.parse(stub))
    COUNTER.add("decoded")
    assert len(payloads) == 1 and payloads[0].error is None, payloads
    assert payloads[0].code == text


_OLD_RUN_RE = re.compile(r"(torchrun|python3?|accelerate launch|deepspeed)\b[^\n`]*?([\w./-]+\.py)\b")
_LINE = st.lists(st.sampled_from(("torchrun", "python", "python3", "deepspeed", "accelerate launch", " ", " ", "`", "train_gpt.py",
                                  "a.py", ".py", "x.py.bak", "dir/run.py", "-", "--nproc_per_node=8", "py", "3", "_", "/", ".",
                                  "&&", "\n", "é")), max_size=14).map("".join)


@settings(PROFILE, max_examples=400)
@given(_LINE)
def test_run_command_scanner_matches_the_regex_it_replaced(text: str) -> None:
    expected = [(m.group(1), m.group(2)) for m in _OLD_RUN_RE.finditer(text)]
    assert list(run_commands(text)) == expected
