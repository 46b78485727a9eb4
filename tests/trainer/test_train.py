"""End to end on CPU: the tiny run trains, logs in the challenge's formats, and its artifact scores well."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from reference_trainer.artifact import deserialize, dequantize_state
from reference_trainer.loglines import SEPARATOR, parse
from reference_trainer.train import run

# Regexes copied from shared/LOG_FORMATS.md (the challenge's own shapes): the trainer's grammar must
# produce lines these match, independently of reference_trainer.loglines.
N = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
CHALLENGE = {
    "train_step": rf"^step:(?P<step>\d+)/(?P<iters>\d+)(?: \[[^\]]+\])? train_loss:(?P<loss>{N})"
                  rf"(?: lr_mul:(?P<lr>{N}))? train_time:(?P<ms>\d+)ms step_avg:(?P<avg>[\d.]+)ms"
                  r"(?: tok/s:(?P<tps>\d+))?$",
    "val_step": rf"^step:(?P<step>\d+)/(?P<iters>\d+) val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N}) "
                r"train_time:(?P<ms>\d+)ms",
    "total_size": r"^Total submission size (?P<tag>[A-Za-z0-9_+\-]+): (?P<bytes>\d+) bytes$",
    "model_size": r"^Serialized model (?P<tag>[A-Za-z0-9_+\-]+): (?P<bytes>\d+) bytes",
    "code_size": r"^Code size: (?P<bytes>\d+) bytes$",
    "sliding_exact": rf"^final_int\d+_sliding_window_exact val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})$",
    "roundtrip_exact": rf"^final_(?P<q>int\d+_zlib|int\d+)_roundtrip_exact val_loss:(?P<loss>{N}) "
                       rf"val_bpb:(?P<bpb>{N})$",
    "legal_ttt_exact": rf"^legal_ttt(?P<exact>_exact)? val_loss:(?P<loss>{N}) val_bpb:(?P<bpb>{N})"
                       r"(?: eval_time:(?P<ms>\d+)ms)?$",
    "hparam": r"^  (?P<key>[a-z_][a-z_0-9]*): ?(?P<val>.*)$",
    "seed": r"^seed:(?P<seed>\d+)$",
}


def log_body(path: Path) -> tuple[list[str], list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    cut = lines.index(SEPARATOR)
    return lines[:cut], lines[cut:]


def matches(kind: str, lines: list[str]) -> list[re.Match]:
    return [m for m in (re.match(CHALLENGE[kind], line) for line in lines) if m]


def test_tiny_run_loss_falls(tiny_run: dict) -> None:
    assert tiny_run["steps"] == 60
    assert tiny_run["last_loss"] < 0.5 * tiny_run["first_loss"]


def test_log_embeds_source_then_challenge_lines(tiny_run: dict) -> None:
    source, body = log_body(Path(tiny_run["log_path"]))
    assert source[0].startswith("\"\"\"Run configuration") and "# ---- reference_trainer/model.py ----" in source
    assert not [line for line in source if parse(line)], "no source line may look like a log line"
    unparsed = [line for line in body if not parse(line) and not line.startswith("  ") and line != "Hyperparameters:"]
    assert unparsed == []
    steps = matches("train_step", body)
    assert [int(m["step"]) for m in steps][:3] == [1, 2, 3] and steps[-1]["step"] == "60"
    assert matches("seed", body)[0]["seed"] == "7"
    hparams = dict(m.group("key", "val") for m in matches("hparam", body))
    assert hparams["num_layers"] == "4" and hparams["ttt_enabled"] == "True"


def test_size_lines_add_up(tiny_run: dict) -> None:
    _, body = log_body(Path(tiny_run["log_path"]))
    total = matches("total_size", body)[-1]
    model = [m for m in matches("model_size", body) if m["tag"] == total["tag"]][-1]
    code = matches("code_size", body)[-1]
    assert total["tag"] == "int6+zstd"
    assert int(total["bytes"]) == int(model["bytes"]) + int(code["bytes"])
    assert int(model["bytes"]) == Path(tiny_run["artifact_path"]).stat().st_size
    assert int(total["bytes"]) <= 16_000_000


def test_final_metrics_match_summary_and_quant_gap_is_small(tiny_run: dict) -> None:
    _, body = log_body(Path(tiny_run["log_path"]))
    sliding = matches("sliding_exact", body)[-1]
    assert abs(float(sliding["bpb"]) - tiny_run["sliding_bpb"]) < 5e-9
    assert matches("roundtrip_exact", body)[-1]["q"] == "int6"
    assert abs(float(matches("legal_ttt_exact", body)[-1]["bpb"]) - tiny_run["ttt_bpb"]) < 5e-9
    assert tiny_run["roundtrip_bpb"] - tiny_run["pre_quant_bpb"] < 0.02
    assert tiny_run["sliding_bpb"] <= tiny_run["roundtrip_bpb"] + 1e-3


def test_artifact_holds_its_own_model_config(tiny_run: dict) -> None:
    tensors, meta = deserialize(Path(tiny_run["artifact_path"]).read_bytes())
    assert meta["gpt_config"]["num_layers"] == 4
    state = dequantize_state(tensors)
    assert "tok_emb.weight" in state and state["blocks.0.attn.c_q.weight"].shape == (64, 64)


def test_wallclock_cap_counts_the_gptq_reserve(tiny_cfg, tmp_path: Path) -> None:
    cfg = replace(tiny_cfg, iterations=10_000, max_wallclock_seconds=2.0, gptq_reserve_seconds=1.0,
                  train_log_every=50, eval_stride=128)
    summary = run(cfg, tmp_path)
    _, body = log_body(Path(summary["log_path"]))
    reserve = [parse(line)[1] for line in body if line.startswith("gptq:reserving")]
    assert reserve == [{"s": "1.0", "ms": "1000"}]
    stops = [parse(line)[1] for line in body if line.startswith("stopping_early")]
    assert len(stops) == 1 and int(stops[0]["step"]) == summary["steps"] < 10_000
    step_ms = summary["train_ms"] / summary["steps"]
    assert 1000 <= int(stops[0]["ms"]) <= 1000 + 2 * step_ms + 200   # checked after every step
    post = [parse(line)[1] for line in body if line.startswith("wallclock:post_gptq")][0]
    assert float(post["s"]) >= int(stops[0]["ms"]) / 1000 - 0.05 and float(post["b"]) == 2.0


def test_embedded_source_covers_every_module() -> None:
    from reference_trainer.train import MODULE_ORDER, source_text

    package = Path(run.__code__.co_filename).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__", "pack"}  # pack is tooling: it audits, it does not train
    assert set(MODULE_ORDER) == modules
    text = source_text()
    assert all(f"# ---- reference_trainer/{m}.py ----" in text for m in MODULE_ORDER[1:])
    assert "import auditor" not in text and "from auditor" not in text     # the package stays self-contained
