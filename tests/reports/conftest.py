"""One shared hand-built result (a records folder with code and record findings) and a pinned rules
registry, so renderer snapshots do not move when rules/checks*.yaml gains entries."""
from __future__ import annotations

import datetime as dt

import pytest

from reports.model import AuditResult, Evidence, Finding, Technique
from rules import Rule, Rules

TARGET = "records/track_10min_16mb/2026-03-22_XSA4_EMA_GPQ"
REPO_URL = "https://github.com/openai/parameter-golf"
SHA = "5b197bed4ef50662d43f9b74826031d3cdd17c46"
OPTIONS = {"tool_version": "0.1.0"}  # pinned so snapshots survive a version bump

LIMITS = {"artifact_bytes_max": 16_000_000, "train_seconds_max": 600, "eval_seconds_max": 600,
          "min_seeds_record": 3, "margin_nats": 0.005, "p_value_readme": 0.01, "p_value_practice": 0.25}


def _rule(id_: str, name: str, title: str, condition: str, severity: str, technique: str = "",
          sources: tuple[str, ...] = (), since: dt.date | None = None) -> Rule:
    return Rule(id=id_, name=name, title=title, condition=condition, severity=severity, technique=technique,
                module=f"auditor.checks.{technique}" if technique else "auditor.verify", sources=sources,
                since=since)


RULES = Rules(
    version=1,
    limits=LIMITS,
    tracks={"record": "track_10min_16mb", "non_record": "track_non_record_16mb"},
    folder_pattern=r"^records/(track_10min_16mb|track_non_record_16mb)/\d{4}-\d{2}-\d{2}_[^/]+/",
    base_requirements=("numpy", "torch"),
    hardware_record="8xH100 SXM",
    checks={r.id: r for r in (
        _rule("EVAL-TTT-001", "test-time-training-after-scoring", "Test-time training on tokens already scored",
              "C3", "info", "score_first_ttt", ("README (2026-03-20)", "0hq on #152")),
        _rule("EVAL-TTT-002", "training-on-unscored-validation-tokens",
              "Test-time training on validation tokens before they are scored", "C3", "violation", "prequant_ttt",
              ("README (2026-03-20)", "0hq on #152", "valerio-oai on #462"), dt.date(2026, 3, 20)),
        _rule("EVAL-NGRAM-001", "target-only-ngram-blend", "N-gram cache that scores only the realized token",
              "C2", "violation", "ngram_cache", ("valerio-oai on #677 (2026-03-27)",)),
        _rule("EVAL-NGRAM-004", "word-gated-ngram-tilt", "N-gram tilt gated on properties of the realized token",
              "C1", "review", "ngram_tilt", ("cocohearts on #2041 (2026-05-02)",)),
        _rule("EVAL-NGRAM-005", "two-pass-rescoring", "Second scoring pass over validation", "C4", "violation",
              "two_pass", ("valerio-oai on #959",)),
        _rule("DATA-VAL-001", "validation-data-in-training", "Validation data read by training", "DATA",
              "violation", "val_in_training", ("README (2026-03-20)",)),
        _rule("BPB-002", "non-canonical-byte-count", "Byte count differs from the canonical LUT", "BPB", "review",
              "bpb_accounting", ("Issue #1719",)),
        _rule("SIZE-CODE-002", "helper-code-loaded-at-run-time", "Code loaded from other files at run time", "SIZE",
              "info", "helper_code", ("README FAQ",)),
        _rule("SIZE-001", "artifact-over-16mb", "Artifact over 16,000,000 bytes", "SIZE", "violation",
              sources=("README", "regina-openai on #1835")),
        _rule("TIME-001", "training-over-600-seconds", "Training over 600 s", "TIME", "violation",
              sources=("README",)),
        _rule("TIME-006", "evaluation-over-600-seconds", "Evaluation over 600 s", "TIME", "violation",
              sources=("README", "cocohearts on #1972")),
        _rule("STAT-004", "fewer-than-three-seeds", "Fewer than three seeds in a record submission", "STATS",
              "review", sources=("README",)),
        _rule("SUB-001", "files-outside-one-records-folder", "Changes outside one new records folder", "FILES",
              "violation", sources=("README", "0hq on #53", "cocohearts on #1143")),
        _rule("LOG-005", "source-not-embedded-in-log", "Logs do not embed the submitted source", "LOG", "info"),
    )},
)


def shared_result() -> AuditResult:
    """A records folder with one illegal technique, an oversize seed, two seeds, and odd characters."""
    return AuditResult(
        target=TARGET,
        findings=[
            Finding("STAT-004", "", "STATS", "review", 1.0, "2 seeds; a record needs 3",
                    (Evidence("submission.json", 0, ""),)),
            Finding("EVAL-TTT-002", "prequant_ttt", "C3", "violation", 0.95,
                    "ttt_adapt() trains on val_tokens before eval_val() scores them",
                    (Evidence("train_gpt.py", 812, "        optimizer.step()  # ttt_adapt, 3 epochs over val"),
                     Evidence("train_gpt.py", 1290, "ttt_adapt(model, val_tokens, epochs=args.ttt_epochs)"))),
            Finding("SIZE-001", "", "SIZE", "violation", 1.0, "seed 1337: 17,412,345 bytes > 16,000,000",
                    (Evidence("train_seed1337.log", 1402, "Total submission size int6+zstd: 17412345 bytes"),)),
            Finding("EVAL-NGRAM-004", "ngram_tilt", "C1", "review", 0.6,
                    "word gate reads tokens[p] | the realized token, 50% of the time",
                    (Evidence("train_gpt.py", 655, "is_ws = tokens_[p] in WS_IDS"),)),
            Finding("LOG-005", "", "LOG", "info", 1.0, "train_seed42.log does not embed the source", ()),
        ],
        techniques=[Technique("prequant_ttt", True, False), Technique("ngram_tilt", True, None),
                    Technique("score_first_ttt", False, True)],
        files=["train_gpt.py"],
        verify={
            "track": "track_10min_16mb",
            "seeds": [
                {"seed": 1337, "log": "train_seed1337.log", "val_loss": 1.9165, "val_bpb": 1.13508,
                 "artifact_bytes": 17412345, "code_bytes": 61234, "train_time_s": 599.4, "eval_time_s": 188.2,
                 "steps": 5722, "over_limit": ["artifact_bytes"]},
                {"seed": 42, "log": "train_seed42.log", "val_loss": 1.9076, "val_bpb": 1.12977,
                 "artifact_bytes": 15912345, "code_bytes": 61234, "train_time_s": 599.1, "eval_time_s": None,
                 "steps": 5722},
            ],
            "stats": {"n": 2, "mean_bpb": 1.132425, "std_bpb": 0.003755, "baseline": "#414",
                      "p_one_sided": 0.73, "delta_bpb": 0.0091, "delta_nats": 0.0063},
            "smoke": {"status": "ok", "summary": "import OK in 0.08 s · dim 512 · 11 layers · vocab 1024 · "
                                                 "27.0 M params · code 61,234 B", "import_s": 0.08,
                      "hparams": {"dim": 512, "layers": 11, "vocab": 1024}, "params": 27_000_000},
        },
        notes=["environment from README: PREQUANT_TTT=1, TTT_EPOCHS=3"],
    )


def clean_file_result() -> AuditResult:
    """A single script: no findings, one legal technique, no verifier block."""
    return AuditResult(target="examples/train_gpt.py", techniques=[Technique("score_first_ttt", True, True)],
                       files=["train_gpt.py"])


@pytest.fixture
def result() -> AuditResult:
    return shared_result()


@pytest.fixture
def rules() -> Rules:
    return RULES
