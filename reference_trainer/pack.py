"""`pgolf-train pack`: turn finished seed runs into a records folder the challenge (and our auditor) accepts.

    pgolf-train pack runs/seed1 runs/seed2 runs/seed3 --name tiny_test --author A --github-id g \
        [--track record|non-record] [--out records] [--baseline 1.2,1.21,1.19] [--compress]

Writes RECORDS/<track dir>/YYYY-MM-DD_<name>/ with:
  * train_gpt.py: the reference_trainer modules bundled into one file (intra-package imports dropped,
    clashing module-level names renamed), runnable as `torchrun --standalone --nproc_per_node=N
    train_gpt.py` with the settings in the environment; with --compress an lzma+base85 `exec` stub and
    the readable source beside it as train_gpt_readable.py;
  * the seed logs (copied unchanged), requirements.txt, README.md (per-seed table, run command, plot);
  * submission.json, whose numbers come from the logs as the verifier reads them and whose
    `compliance` block comes from running `auditor.api.audit_path` on the folder itself.

Unlike the trainer modules, this one imports the auditor (it is never bundled).
"""

from __future__ import annotations

import argparse
import ast
import base64
import datetime as dt
import io
import json
import lzma
import re
import shutil
import sys
import tempfile
import tokenize
from dataclasses import fields
from pathlib import Path
from typing import Any

PACKAGE = "reference_trainer"
README_TECHNIQUES = {
    "xsa_layers": "exclusive self-attention (XSA) on layers `{}`",
    "bigram_vocab_size": "BigramHash embedding ({} buckets)",
    "ve_dim": "shared value embedding (dim {})",
    "smear_gate": "smear gate",
    "ema_decay": "EMA of weights (decay {})",
    "late_qat_threshold": "late QAT (STE fake quantization below lr scale {})",
    "quant_method": "{} quantization",
    "eval_stride": "sliding-window evaluation (stride {})",
    "ttt_enabled": "legal score-first TTT",
}
ENTRY_POINT = '''

# ---- bundle entry point (written by `pgolf-train pack`) ----
def _bundle_argv(argv: list[str]) -> list[str]:
    """No subcommand: the challenge's convention, `torchrun train_gpt.py` with settings in the
    environment (PRESET, DATA_DIR, OUT_DIR and every config field's upper-case name)."""
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        return argv
    return ["run", "--data", os.environ.get("DATA_DIR", "./data"), "--out", os.environ.get("OUT_DIR", "."),
            "--preset", os.environ.get("PRESET", "record"), "--no-progress", *argv]


if __name__ == "__main__":
    sys.exit(main(_bundle_argv(sys.argv[1:])))
'''


class PackError(Exception):
    """Inputs that cannot be packed (reported by the CLI as a usage error)."""


# ------------------------------------------------------------------------------------------ bundling
def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not _intra(node) and node.module != "__future__":
            names |= {a.asname or a.name for a in node.names}
    return names


def _intra(node: ast.AST) -> bool:
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE and node.level == 0


def _rename(source: str, renames: dict[str, str]) -> str:
    """Rename NAME tokens (not attributes `x.NAME`, not keyword arguments) in `source`."""
    if not renames:
        return source
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in renames and not (prev is not None and prev.string == "."):
            edits.append((tok.start[0], tok.start[1], tok.end[1], renames[tok.string]))
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            prev = tok
    for row, c0, c1, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:c0] + new + line[c1:]
    return "".join(lines)


def _module_body(name: str, text: str, first: bool) -> str:
    """One module's text for the bundle: intra-package imports, `from __future__` (except in the first
    module) and the `if __name__ == "__main__"` block dropped; aliases of dropped imports kept."""
    tree = ast.parse(text)
    drop: dict[int, str] = {}  # first line -> replacement text; other lines of the statement -> ""

    def visit(body: list[ast.stmt]) -> None:
        kept = [s for s in body if not _intra(s)]
        for stmt in body:
            if _intra(stmt) or (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__" and not first):
                indent = " " * stmt.col_offset
                aliases = [f"{indent}{a.asname} = {a.name}" for a in stmt.names if a.asname]  # type: ignore[union-attr]
                repl = "\n".join(aliases) or (f"{indent}pass" if not kept and stmt is body[0] else None)
                for ln in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
                    drop[ln] = ""
                if repl:
                    drop[stmt.lineno] = repl

    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                visit(inner)
    # names imported from modules that are not bundled (e.g. this one): drop the dict entries using them
    from reference_trainer.train import MODULE_ORDER
    foreign = {a.asname or a.name for node in ast.walk(tree) if _intra(node)
               and (node.module or "").split(".")[-1] not in MODULE_ORDER for a in node.names}  # type: ignore[attr-defined]
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and foreign:
            for key, value in zip(node.keys, node.values):
                if key is not None and any(isinstance(n, ast.Name) and n.id in foreign for n in ast.walk(value)):
                    for ln in range(key.lineno, (value.end_lineno or value.lineno) + 1):
                        drop[ln] = ""
    for stmt in tree.body:
        if (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare)
                and isinstance(stmt.test.left, ast.Name) and stmt.test.left.id == "__name__"):
            for ln in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
                drop[ln] = ""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if i in drop:
            if drop[i]:
                out.append(drop[i])
            continue
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def bundle_source() -> str:
    """The reference_trainer modules (train.MODULE_ORDER) as one self-contained script."""
    from reference_trainer.train import MODULE_ORDER

    here = Path(__file__).resolve().parent
    parts: list[str] = []
    defined: dict[str, str] = {}
    for i, name in enumerate(MODULE_ORDER):
        text = (here / f"{name}.py").read_text(encoding="utf-8")
        tree = ast.parse(text)
        mine = _top_level_names(tree)
        clashes = {n for n in mine if n in defined and not _same_import(n, tree, defined[n])}
        text = _rename(text, {n: f"_{name}_{n}" for n in clashes})
        body = _module_body(name, text, first=i == 0)
        parts.append(body if i == 0 else f"\n\n# ---- {PACKAGE}/{name}.py ----\n{body}")
        for n in mine - clashes:
            defined.setdefault(n, name)
    source = "".join(parts) + ENTRY_POINT
    ast.parse(source)
    return source


_IMPORT_NAMES: dict[str, set[str]] = {}


def _same_import(name: str, tree: ast.Module, other_module: str) -> bool:
    """Both modules bind `name` by importing it (e.g. `import torch` twice): not a clash."""
    def imported(t: ast.Module) -> set[str]:
        found = set()
        for node in t.body:
            if isinstance(node, ast.Import):
                found |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not _intra(node):
                found |= {a.asname or a.name for a in node.names}
        return found
    if other_module not in _IMPORT_NAMES:
        here = Path(__file__).resolve().parent
        _IMPORT_NAMES[other_module] = imported(ast.parse((here / f"{other_module}.py").read_text(encoding="utf-8")))
    return name in imported(tree) and name in _IMPORT_NAMES[other_module]


def compress_stub(source: str) -> str:
    """A self-extracting script: `exec` of the lzma-compressed, base85-encoded source."""
    blob = base64.b85encode(lzma.compress(source.encode("utf-8"), preset=9 | lzma.PRESET_EXTREME)).decode("ascii")
    return f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{blob}")))\n'


# ------------------------------------------------------------------------------------------ reading runs
def _find_logs(run_dirs: list[Path]) -> list[Path]:
    logs: list[Path] = []
    for d in run_dirs:
        if d.is_file() and d.suffix in (".log", ".txt"):
            logs.append(d)
            continue
        if not d.is_dir():
            raise PackError(f"no such run directory: {d}")
        found = sorted(d.glob("train_seed*.log")) or sorted(d.glob("*.log"))
        if not found:
            raise PackError(f"{d}: no train_seed<S>.log")
        logs.extend(found)
    names = [p.name for p in logs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PackError(f"two runs wrote the same log name: {', '.join(dupes)} (use different seeds)")
    return logs


def curves(text: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(train loss by step, validation BPB by step) from a log, read with the verifier's grammar."""
    from auditor.verify import log_grammar as g
    from auditor.verify.log_parse import blank_source

    lines = [g.TIMESTAMP_PREFIX.sub("", ln, count=1) for ln in text.splitlines()]
    train, val = [], []
    for line in blank_source(lines):
        found = g.match_line(line)
        if found is None:
            continue
        pattern, m = found
        if pattern.name == "step":
            train.append((int(m.group("step")), float(m.group("loss"))))
        elif pattern.name == "val_step":
            val.append((int(m.group("step")), float(m.group("bpb"))))
    return train, val


def _run_env(hparams: dict[str, str], seed: int | None) -> tuple[str, dict[str, str]]:
    """(preset, environment assignments reproducing the logged Hyperparameters block)."""
    from reference_trainer.config import PRESETS, TrainConfig

    best_preset, best_diff = "record", None
    for preset, cfg in PRESETS.items():
        diff = {}
        for f in fields(TrainConfig):
            if f.name in ("data_dir", "tokenizer_path", "run_id", "seed") or f.name not in hparams:
                continue
            if f.name == "vocab_size" and getattr(cfg, f.name) == 0:
                continue
            if str(getattr(cfg, f.name)) != hparams[f.name]:
                diff[f.name.upper()] = hparams[f.name]
        if best_diff is None or len(diff) < len(best_diff):
            best_preset, best_diff = preset, diff
    env = {"PRESET": best_preset, **(best_diff or {})}
    if hparams.get("data_dir"):
        env["DATA_DIR"] = hparams["data_dir"]
    if seed is not None:
        env["SEED"] = str(seed)
    return best_preset, env


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[\w./:,+-]+", value) else "'" + value.replace("'", "'\\''") + "'"


def run_command(env: dict[str, str], nproc: int) -> str:
    assigns = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
    return f"{assigns} torchrun --standalone --nproc_per_node={nproc} train_gpt.py"


# ------------------------------------------------------------------------------------------ writing
def _plot(logs: dict[int, str], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for seed, text in sorted(logs.items()):
        train, val = curves(text)
        if train:
            ax1.plot([s for s, _ in train], [v for _, v in train], label=f"seed {seed}")
        if val:
            ax2.plot([s for s, _ in val], [v for _, v in val], marker="o", label=f"seed {seed}")
    ax1.set(title="train loss", xlabel="step", ylabel="loss")
    ax2.set(title="validation BPB", xlabel="step", ylabel="val_bpb")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _techniques(hp: dict[str, str]) -> list[str]:
    out = [(f"{hp.get('num_layers')} layers x {hp.get('model_dim')} dim, {hp.get('num_heads')} heads "
            f"({hp.get('num_kv_heads')} KV heads), MLP x{hp.get('mlp_mult')} {hp.get('mlp_act')}")]
    for key, text in README_TECHNIQUES.items():
        value = hp.get(key)
        if value is None or value in ("0", "0.0", "False", "none", ""):
            continue
        out.append(text.format(value))
    out.append(f"int{hp.get('quant_bits')} weights (embeddings int{hp.get('embed_bits')}), zstd-{hp.get('zstd_level')}")
    return out


def _readme(name: str, blurb: str, track: str, rows: list[dict[str, Any]], mean_bpb: float, std_bpb: float,
            hp: dict[str, str], command: str, plot: bool, script_note: str) -> str:
    n = len(rows)
    lines = [f"# {name}", "", f"**val_bpb {mean_bpb:.5f}** (mean of {n} seeds, std {std_bpb:.5f}), track: {track}.",
             "", blurb, "", "## Results", "",
             "| seed | val_bpb | val_loss | artifact bytes | steps | train time (s) | eval time (s) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ev = f"{r['eval_time_s']:.1f}" if r["eval_time_s"] is not None else "-"
        lines.append(f"| {r['seed']} | {r['val_bpb']:.8f} | {r['val_loss']:.8f} | {r['artifact_bytes']} | "
                     f"{r['steps']} | {r['train_time_ms'] / 1000:.1f} | {ev} |")
    lines += ["", "## Techniques", ""] + [f"- {t}" for t in _techniques(hp)]
    lines += ["", "## Run", "", f"{script_note} One seed (settings as in the logs; change SEED for the others):",
              "", "```bash", command, "```", ""]
    if plot:
        lines += ["## Curves", "", "![train loss and validation BPB per seed](curves.png)", ""]
    lines += ["Produced with `pgolf-train pack` (pgolf-audit reference trainer).", ""]
    return "\n".join(lines)


def compliance_from(result: Any) -> dict[str, bool]:
    """The compliance block, each entry read from an audit result (findings and verify block)."""
    from rules import load_rules

    rules = load_rules()
    block = result.verify or {}
    seeds = block.get("seeds", [])
    findings = result.findings

    def clean(*checks: str) -> bool:
        return not any(f.check in checks and f.severity != "info" for f in findings)

    def no_technique(*techniques: str) -> bool:
        return not any(f.technique in techniques and f.severity != "info" for f in findings)

    train = [s["train_time_s"] for s in seeds if s.get("train_time_s") is not None]
    evals = [s["eval_time_s"] for s in seeds if s.get("eval_time_s") is not None]
    sizes = [s["artifact_bytes"] for s in seeds if s.get("artifact_bytes") is not None]
    ttt_flagged = any(f.technique in ("prequant_ttt", "multipass_ttt") for f in findings)
    return {
        "train_under_600s": bool(train) and len(train) == len(seeds)
        and max(train) <= float(rules.limit("train_seconds_max")) and clean("TIME-001", "TIME-002", "TIME-004"),
        "artifact_under_16mb": bool(sizes) and len(sizes) == len(seeds)
        and max(sizes) <= int(rules.limit("artifact_bytes_max")) and clean("SIZE-001", "SIZE-006"),
        "eval_under_600s": bool(evals) and len(evals) == len(seeds)
        and max(evals) <= float(rules.limit("eval_seconds_max")) and clean("TIME-006"),
        "no_slot": no_technique("slot"),
        "no_pre_quant_ttt": no_technique("prequant_ttt"),
        "no_ngram_cache": no_technique("ngram_cache", "ngram_tilt", "two_pass", "ppm_mixer"),
        "score_first_ttt": not ttt_flagged,
        "three_seeds": len(seeds) >= 3 and clean("STAT-004"),
    }


def pack(run_dirs: list[Path], *, name: str, author: str, github_id: str, track: str = "record",
         out: Path = Path("records"), baseline: str | None = None, compress: bool = False, blurb: str = "",
         date: dt.date | None = None, hardware: str | None = None) -> tuple[Path, Any]:
    """Write the records folder; returns (folder, the final audit result)."""
    from auditor.api import audit_path
    from rules import load_rules

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise PackError(f"--name {name!r}: use letters, digits, '_', '-', '.'")
    rules = load_rules()
    track_key = track.replace("-", "_")
    if track_key not in rules.tracks:
        raise PackError(f"--track {track!r}: choose record or non-record")
    logs = _find_logs([Path(d) for d in run_dirs])
    date = date or dt.date.today()
    final = Path(out) / rules.tracks[track_key] / f"{date.isoformat()}_{name}"
    if final.exists():
        raise PackError(f"{final} exists; remove it or choose another --name")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pack-", dir=Path(out)))   # the folder appears whole, or not at all
    try:
        folder = staging / final.parent.name / final.name
        folder.mkdir(parents=True)
        _write_folder(folder, logs, name=name, author=author, github_id=github_id, track=rules.tracks[track_key],
                      baseline=baseline, compress=compress, blurb=blurb, date=date, hardware=hardware)
        folder.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final, audit_path(final, baseline=baseline)


def _write_folder(folder: Path, logs: list[Path], *, name: str, author: str, github_id: str, track: str,
                  baseline: str | None, compress: bool, blurb: str, date: dt.date, hardware: str | None) -> None:
    from auditor.api import audit_path
    from auditor.verify import stats
    from auditor.verify.evidence import gather
    from auditor.verify.files import third_party_imports
    from auditor.verify.folder import discover
    from auditor.verify.size import artifact_bytes
    from auditor.verify.timing import eval_time
    from rules import load_rules

    source = bundle_source()
    if compress:
        (folder / "train_gpt_readable.py").write_text(source, encoding="utf-8")
        (folder / "train_gpt.py").write_text(compress_stub(source), encoding="utf-8")
        script_note = ("train_gpt.py is the lzma+base85 self-extracting form of train_gpt_readable.py "
                       "(the same code).")
    else:
        (folder / "train_gpt.py").write_text(source, encoding="utf-8")
        script_note = "train_gpt.py is the whole trainer in one file (the pgolf-audit reference_trainer package)."
    for log in logs:
        shutil.copy2(log, folder / log.name)
    local = {"train_gpt", "train_gpt_readable"}
    reqs = sorted(third_party_imports(source, local))
    dist_names = {"sentencepiece": "sentencepiece", "numpy": "numpy", "torch": "torch", "zstandard": "zstandard",
                  "rich": "rich"}
    (folder / "requirements.txt").write_text("".join(f"{dist_names.get(m, m)}\n" for m in reqs), encoding="utf-8")

    ev = gather(discover(folder, load_rules()))
    runs = [r for r in ev.runs if r.metric is not None]
    if not runs:
        raise PackError("no log carries a final score (did the runs finish?)")
    rows = []
    for r in sorted(runs, key=lambda r: r.seed):
        rows.append({"seed": r.seed, "val_bpb": r.metric.val_bpb, "val_loss": r.metric.val_loss,
                     "artifact_bytes": artifact_bytes(r), "steps": r.train.steps,
                     "step_avg_ms": round(r.train.step_avg_ms, 3) if r.train.step_avg_ms is not None else None,
                     "train_time_ms": r.train.train_ms, "eval_time_s": eval_time(r.log).seconds})
    missing = [r["seed"] for r in rows if r["artifact_bytes"] is None or r["train_time_ms"] is None]
    if missing:
        raise PackError(f"seed(s) {missing}: no artifact size or training time in the log")
    bpb = [r["val_bpb"] for r in rows]
    loss = [r["val_loss"] for r in rows]
    hp = next((r.train.hparams for r in runs if r.train.hparams), {})
    first = runs[0].train
    world = first.world_size.value if first.world_size else 1
    _, env = _run_env(hp, rows[0]["seed"])
    command = run_command(env, world)
    texts = {r.seed: (folder / r.log.name).read_text(encoding="utf-8", errors="replace") for r in runs}
    plotted = _plot(texts, folder / "curves.png")
    blurb = blurb or (f"Reference trainer of pgolf-audit ({env['PRESET']} preset), {len(rows)} seeds, "
                      f"packed by `pgolf-train pack`.")
    code_hits = [r.train.code_bytes.value for r in runs if r.train.code_bytes is not None]
    gpus = sorted({g.value[1] for r in runs for g in r.train.gpus})
    if hardware is None:
        hardware = f"{world}x {gpus[0]}" if gpus else f"{world}x CPU"
    record_name = name.replace("_", " ")
    (folder / "README.md").write_text(
        _readme(record_name, blurb, track, rows, stats.mean(bpb), stats.std(bpb), hp, command,
                plotted, script_note), encoding="utf-8")
    sub: dict[str, Any] = {
        "author": author, "github_id": github_id, "name": record_name, "blurb": blurb, "date": date.isoformat(),
        "track": track,
        "val_bpb": round(stats.mean(bpb), 8), "val_bpb_std": round(stats.std(bpb), 8),
        "val_loss": round(stats.mean(loss), 8), "val_loss_std": round(stats.std(loss), 8),
        "bytes_total": max(r["artifact_bytes"] for r in rows),
        "bytes_code": max(code_hits) if code_hits else len((folder / "train_gpt.py").read_bytes()),
        "seeds": [r["seed"] for r in rows],
        "seed_results": {str(r["seed"]): {k: v for k, v in r.items() if k != "seed" and v is not None} for r in rows},
        "hardware": hardware,
        "pytorch_version": first.versions.get("torch", ""),
    }
    _write_json(folder / "submission.json", sub)
    result = audit_path(folder, baseline=baseline)
    not_ours = next((f for f in result.findings if f.check == "LOG-005"), None)
    if not_ours is not None:
        raise PackError(f"the logs did not run the train_gpt.py this pack writes ({not_ours.message}); a submission's "
                        f"seeds must run the bundled script: write it with `pgolf-train bundle --out train_gpt.py` "
                        f"and run it per seed as `SEED=S DATA_DIR=... OUT_DIR=... torchrun --standalone "
                        f"--nproc_per_node=N train_gpt.py`")
    sub["compliance"] = compliance_from(result)
    st = (result.verify or {}).get("stats", {})
    if baseline is not None and st.get("baseline"):
        sub.update({k: v for k, v in {
            "comparison_baseline": st["baseline"], "baseline_mean_bpb": st.get("baseline_mean_bpb"),
            "delta_bpb": st.get("delta_bpb"), "delta_nats": st.get("delta_nats"),
            "p_value": st.get("p_one_sided"), "t_statistic": st.get("t"), "welch_df": st.get("df"),
        }.items() if v is not None})
    _write_json(folder / "submission.json", sub)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ CLI
def add_bundle(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bundle", help="write the trainer as one train_gpt.py (the script a submission's seeds run)")
    p.add_argument("--out", type=Path, default=Path("train_gpt.py"), help="file to write (default ./train_gpt.py)")
    p.add_argument("--compress", action="store_true", help="an lzma+base85 self-extracting stub")


def run_bundle(args: argparse.Namespace) -> int:
    from reference_trainer.cli import UsageError

    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a directory; name the script file")
    source = bundle_source()
    text = compress_stub(source) if args.compress else source
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    print(f"wrote {args.out} ({len(text.encode('utf-8')):,} bytes); run a seed with: "
          f"SEED=1 DATA_DIR=data OUT_DIR=runs/seed1 torchrun --standalone --nproc_per_node=1 {args.out}")
    return 0


def add_pack(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pack", help="bundle finished seed runs into a records/<track>/<date>_<name>/ folder")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (or their logs)")
    p.add_argument("--name", required=True)
    p.add_argument("--author", required=True)
    p.add_argument("--github-id", required=True)
    p.add_argument("--track", choices=("record", "non-record"), default="record")
    p.add_argument("--out", type=Path, default=Path("records"), help="records directory")
    p.add_argument("--baseline", metavar="DIR|VALUES|ROW", help="compare against a baseline (as `pgolf-audit verify`)")
    p.add_argument("--compress", action="store_true", help="train_gpt.py as an lzma+base85 self-extracting stub")
    p.add_argument("--blurb", default="")
    p.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD (default today)")


def run_pack(args: argparse.Namespace) -> int:
    from reference_trainer.cli import UsageError

    try:
        folder, result = pack(args.runs, name=args.name, author=args.author, github_id=args.github_id,
                              track=args.track, out=args.out, baseline=args.baseline, compress=args.compress,
                              blurb=args.blurb, date=args.date)
    except PackError as exc:
        raise UsageError(str(exc)) from exc
    print(f"packed {folder}: audit {result.verdict}")
    for f in result.findings:
        print(f"  {f.severity:9} {f.check:15} {f.message}", file=sys.stdout)
    return 0
