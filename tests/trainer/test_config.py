"""Config: presets, typed overrides from the environment and the CLI, the two printed views."""

from __future__ import annotations

import dataclasses
import re

import pytest

from reference_trainer.config import (PRESETS, TrainConfig, aligned_block, from_env, hyperparameter_lines,
                                      load_config, parse_assignments, parse_layer_set, with_overrides)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["record"].seed = 1  # type: ignore[misc]


def test_record_preset_is_the_11x512_recipe() -> None:
    cfg = PRESETS["record"]
    assert (cfg.num_layers, cfg.model_dim, cfg.num_heads, cfg.num_kv_heads, cfg.mlp_mult) == (11, 512, 8, 4, 3.0)
    assert (cfg.rope_dims, cfg.xsa_layers, cfg.ema_decay, cfg.eval_stride) == (16, "all", 0.997, 64)


def test_overrides_are_parsed_into_field_types() -> None:
    cfg = with_overrides(TrainConfig(), {"num_layers": "9", "ln_scale": "0", "matrix_lr": "0.02", "mlp_act": "leaky2"})
    assert (cfg.num_layers, cfg.ln_scale, cfg.matrix_lr, cfg.mlp_act) == (9, False, 0.02, "leaky2")


@pytest.mark.parametrize("bad", [{"nope": "1"}, {"ln_scale": "maybe"}, {"mlp_act": "gelu"}, {"num_layers": "x"}])
def test_bad_overrides_are_rejected(bad: dict[str, str]) -> None:
    with pytest.raises((KeyError, ValueError)):
        with_overrides(TrainConfig(), bad)


def test_precedence_preset_then_env_then_cli() -> None:
    env = {"NUM_LAYERS": "7", "SEED": "5", "HOME": "/root"}
    assert from_env(PRESETS["tiny"], env).num_layers == 7
    cfg = load_config("tiny", env, parse_assignments(["seed=9", "train-seq-len=64"]))
    assert (cfg.num_layers, cfg.seed, cfg.train_seq_len) == (7, 9, 64)


def test_views_list_every_field() -> None:
    cfg = PRESETS["tiny"]
    n = len(dataclasses.fields(TrainConfig))
    block = aligned_block(cfg)
    width = max(len(f.name) for f in dataclasses.fields(TrainConfig))
    assert len(block) == n
    assert all(line[2 + width:4 + width] == "  " and line[2:2 + width].strip().isidentifier() for line in block)
    log_lines = hyperparameter_lines(cfg)
    assert log_lines[0] == "Hyperparameters:"
    parsed = [re.match(r"^  (?P<key>[a-z_][a-z_0-9]*): ?(?P<val>.*)$", line) for line in log_lines[1:]]
    assert all(parsed) and {m["key"] for m in parsed} == {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize("spec,expected", [("all", (0, 1, 2, 3)), ("none", ()), ("", ()), ("last:2", (2, 3)),
                                           ("0,-1", (0, 3)), ("3,1", (1, 3))])
def test_layer_sets(spec: str, expected: tuple[int, ...]) -> None:
    assert parse_layer_set(spec, 4) == expected
