"""The evasion fixtures (tests/fixtures/code/evasion/) never pass as CLEAN: each ends in VIOLATION or REVIEW.

tests/auditor/test_code_fixtures.py holds them to their exact headers (what a complete audit reports);
this suite holds the floor. A case below the floor is a strict xfail naming what the engine lacks.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from auditor.api import audit_path
from auditor.checks.dynamic_code import DynamicCode
from auditor.source import load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code"
EVASION = sorted((FIXTURES / "evasion").glob("*.py"))
BELOW_FLOOR: dict[str, str] = {}  # fixture name -> what the engine lacks (a strict xfail)


def _params() -> list:
    return [pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True, reason=BELOW_FLOOR[p.name])]
                         if p.name in BELOW_FLOOR else []) for p in EVASION]


def test_there_are_evasion_fixtures() -> None:
    assert len(EVASION) >= 15


@pytest.mark.parametrize("path", _params())
def test_evasion_is_never_clean(path: Path) -> None:
    result = audit_path(path, verify=False)
    assert result.verdict in ("VIOLATION", "REVIEW"), [f"{f.severity}:{f.check}:{f.message}" for f in result.findings]


def test_dynamic_code_check_is_quiet_on_every_other_fixture() -> None:
    """AUDIT-002 reads syntax only; on the technique fixtures (real-shaped code) it must find nothing."""
    noisy = []
    for entry in sorted(FIXTURES.glob("*/*")):
        if entry.parent.name == "evasion" or not (entry.suffix == ".py" or (entry / "train_gpt.py").exists()):
            continue
        sub = load(entry)
        found = DynamicCode().detect(SimpleNamespace(submission=sub))
        noisy += [f"{entry.relative_to(FIXTURES)}: {d.message}" for d in found]
    assert not noisy, noisy


_CLOSURE_TEMPLATE = '''
import glob
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_tokens(pattern):
    return torch.from_numpy(np.concatenate([np.fromfile(f, dtype="<u2") for f in sorted(glob.glob(pattern))]).astype(np.int64))


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(1024, 64)

    def forward(self, x, y):
        return F.cross_entropy((self.emb(x) @ self.emb.weight.t()).flatten(0, 1), y.flatten())


def factory(tokens, seq_len):
    def window(i):
        chunk = tokens[i * seq_len : (i + 1) * seq_len + 1]
        return chunk[:-1][None], chunk[1:][None]

    return {RETURNED}


class Slots:
    pass


def train(model, opt):
    train_tokens = load_tokens("./data/fineweb_train_*.bin")
    for i in range(1000):
        model(train_tokens[i * 64 : (i + 1) * 64][None], train_tokens[i * 64 + 1 : (i + 1) * 64 + 1][None]).backward()
        opt.step()


def adapt(model, opt):
    tokens = load_tokens("./data/fineweb_{SPLIT}_*.bin")
    {BIND}
    for i in range(100):
        x, y = {CALL}
        model(x, y).backward()
        opt.step()


@torch.no_grad()
def evaluate(model):
    val = load_tokens("./data/fineweb_val_*.bin")
    total = 0.0
    for i in range(100):
        total += model(val[i * 64 : (i + 1) * 64][None], val[i * 64 + 1 : (i + 1) * 64 + 1][None]).item()
    return total


def main():
    model = LM()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    train(model, opt)
    adapt(model, opt)
    print(evaluate(model))


main()
'''
_CLOSURE_SHAPES = {  # how the closure leaves the factory and how the caller reaches it again
    "bare": ("window", "window = factory(tokens, 64)", "window(i)"),
    "tuple": ("window, seq_len", "window, n = factory(tokens, 64)", "window(i)"),
    "dict": ('{"window": window}', "fns = factory(tokens, 64)", 'fns["window"](i)'),
    "attribute": ("window", "slots = Slots()\n    slots.window = factory(tokens, 64)", "slots.window(i)"),
}


@pytest.mark.parametrize("shape", sorted(_CLOSURE_SHAPES))
@pytest.mark.parametrize("split", ["val", "train"])
def test_closure_over_a_factory_parameter_carries_its_data(shape: str, split: str, tmp_path: Path) -> None:
    """The tokens a returned closure reads arrive as the factory's parameter: the call site of the factory
    binds them, the call of the closure yields them. Validation tokens make it a pre-quant TTT; training
    tokens (the same code) a clean training loop."""
    returned, bind, call = _CLOSURE_SHAPES[shape]
    path = tmp_path / "train_gpt.py"
    path.write_text(_CLOSURE_TEMPLATE.replace("{RETURNED}", returned).replace("{BIND}", bind)
                    .replace("{CALL}", call).replace("{SPLIT}", split))
    result = audit_path(path, verify=False)
    active = {t.id for t in result.techniques if t.active}
    if split == "val":
        assert "prequant_ttt" in active and result.verdict == "VIOLATION", [f.message for f in result.findings]
    else:
        assert not active and result.verdict == "CLEAN", [f.message for f in result.findings]


_STEP_LINE = '            getattr(opt, "step")()\n'  # the statement in the loop (the header comment quotes it too)
_CONSTANT_NAMES = {  # spellings of the update's name that fold to "step" (the statements replace _STEP_LINE)
    "joined": 'getattr(opt, "".join(["st", "ep"]))()',
    "module_constant": 'getattr(opt, UPDATE)()',
    "bound_then_called": 'update = getattr(opt, "st" + "ep")\n            update()',
    "methodcaller_inline": 'operator.methodcaller("step")(opt)',
}


@pytest.mark.parametrize("spelling", sorted(_CONSTANT_NAMES))
def test_update_named_by_a_constant_reads_as_the_update(spelling: str, tmp_path: Path) -> None:
    """A method name that folds to a constant string is the method of that name: the fine-tune on
    validation tokens is a pre-quant TTT whichever way "step" is spelled."""
    text = (FIXTURES / "evasion" / "getattr_literal_step.py").read_text(encoding="utf-8")
    assert _STEP_LINE in text
    text = text.replace(_STEP_LINE, f"            {_CONSTANT_NAMES[spelling]}\n").replace("import glob\n", "import glob\nimport operator\n")
    path = tmp_path / "train_gpt.py"
    path.write_text(text.replace("\n\nclass Hyperparameters:", '\n\nUPDATE = "st" + "ep"\n\n\nclass Hyperparameters:'))
    result = audit_path(path, verify=False)
    active = {t.id for t in result.techniques if t.active}
    assert "prequant_ttt" in active and result.verdict == "VIOLATION", [f.message for f in result.findings]


def test_dispatch_through_a_computed_key_is_not_resolved(tmp_path: Path) -> None:
    """A key known only at run time names no function: the call stays dynamic and AUDIT-002 asks for review."""
    text = (FIXTURES / "evasion" / "dict_dispatch_functions.py").read_text(encoding="utf-8")
    call = 'PHASES["polish"](h, model, val_tokens)'
    assert call in text
    path = tmp_path / "train_gpt.py"
    path.write_text(text.replace(call, 'PHASES[os.environ["PHASE"]](h, model, val_tokens)'))
    result = audit_path(path, verify=False)
    assert not {t.id for t in result.techniques if t.active} and result.verdict == "REVIEW", [f.message for f in result.findings]
