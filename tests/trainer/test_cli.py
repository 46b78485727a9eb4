"""`pgolf-train` subcommands: prepare, config, usage errors."""

from __future__ import annotations

from pathlib import Path

from reference_trainer.cli import SUBCOMMANDS, main
from reference_trainer.data import shard_files


def test_prepare_with_an_existing_tokenizer(tmp_path: Path, corpus_path: Path, data_dir: Path, capsys) -> None:
    out = tmp_path / "reused"
    code = main(["prepare", "--text", str(corpus_path), "--vocab-size", "512", "--out", str(out),
                 "--tokenizer", str(data_dir / "tokenizer.model"), "--val-docs", "300"])
    assert code == 0 and "vocab 512" in capsys.readouterr().out
    assert (out / "tokenizer.model").read_bytes() == (data_dir / "tokenizer.model").read_bytes()
    assert [p.read_bytes() for p in shard_files(out, "val")] == [p.read_bytes() for p in shard_files(data_dir, "val")]


def test_config_prints_the_aligned_block(capsys) -> None:
    assert main(["config", "--preset", "record", "--set", "num_layers=9"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["num_layers", "9"] for line in out)


def test_usage_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["config", "--set", "no_such_field=1"]) == 2
    missing = tmp_path / "missing.txt"
    assert main(["prepare", "--text", str(missing), "--vocab-size", "300", "--out", str(tmp_path)]) == 2
    assert "pgolf-train: error:" in capsys.readouterr().err


def test_prepare_input_errors_are_one_line_and_leave_the_data_dir_alone(tmp_path: Path, corpus_path: Path,
                                                                         data_dir: Path, capsys) -> None:
    out = tmp_path / "kept"
    out.mkdir()
    (out / "fineweb_val_000000.bin").write_bytes(b"earlier shard")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    cases = {
        "too small for this text: SentencePiece needs at least": ["--text", str(corpus_path), "--vocab-size", "256"],
        "more than --vocab-size 300": ["--text", str(corpus_path), "--vocab-size", "300",
                                       "--tokenizer", str(data_dir / "tokenizer.model")],
        "not a SentencePiece model": ["--text", str(corpus_path), "--vocab-size", "512", "--tokenizer", str(binary)],
        f"{binary}: not UTF-8 text": ["--text", str(binary), "--vocab-size", "512"],
    }
    for expected, args in cases.items():
        assert main(["prepare", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
    assert [p.name for p in out.iterdir()] == ["fineweb_val_000000.bin"]
    assert (out / "fineweb_val_000000.bin").read_bytes() == b"earlier shard"


def test_subcommands_are_a_registry() -> None:
    assert set(SUBCOMMANDS) == {"prepare", "run", "config", "pack", "bundle"}
