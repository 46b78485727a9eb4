"""Accuracy and speed of the static auditor on real submissions with the maintainers' verdicts.

    python benchmarks/corpus.py [--manifest ../shared/corpus/dev.tsv] [--mirror /work/.mirror/openai+parameter-golf/repo]
                                [--only ID] [--show-misses] [--json OUT] [--repeat N]

Each manifest row names a PR head commit and a script path in openai/parameter-golf (every PR head is
in one clone). The script's folder is extracted from the mirror (never executed), audited with
`pgolf-audit`'s static checks (folder checks off: code findings only, with the folder's run command
applied), and compared with the label: an ILLEGAL entry must be VIOLATION; a LEGAL entry must not be.
Prints a confusion table per category, overall agreement and seconds per file: each file's time is the
best of `--repeat` audits (default 3; the machine's noise is one-sided), and the per-3,000-line figure
is each file's time scaled to 3,000 lines (files of 500 lines or more).
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.api import audit_path  # noqa: E402
from auditor.source import InputError  # noqa: E402

DEFAULT_MANIFEST = ROOT.parent / "shared" / "corpus" / "dev.tsv"
DEFAULT_MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")


MAX_FILE = 16 * 1024 * 1024  # artifacts and checkpoints are skipped: the audit reads code and text


def extract_folder(mirror: Path, commit: str, path: str, dest: Path) -> Path:
    """Extract the script's folder (its direct files) at `commit` into `dest`; returns the script there.

    Files whose objects the mirror lacks (large artifacts) or that are over MAX_FILE are skipped."""
    folder = str(Path(path).parent)
    prefix = "" if folder in ("", ".") else folder + "/"
    listing = subprocess.run(["git", "-C", str(mirror), "ls-tree", "-l", commit, prefix or "."],
                             capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        meta, _, name = line.partition("\t")
        kind, size = meta.split()[1], meta.split()[3]
        if kind != "blob" or (size.isdigit() and int(size) > MAX_FILE):
            continue
        blob = subprocess.run(["git", "-C", str(mirror), "show", f"{commit}:{name}"], capture_output=True)
        if blob.returncode == 0:
            (dest / Path(name).name).write_bytes(blob.stdout)
    script = dest / Path(path).name
    if not script.exists():
        raise subprocess.CalledProcessError(1, "git show", stderr=f"{path} missing at {commit}".encode())
    return script


def run(manifest: Path, mirror: Path, only: str | None, show_misses: bool, json_out: Path | None,
        repeat: int = 3) -> int:
    rows = list(csv.DictReader(manifest.open(encoding="utf-8"), delimiter="\t"))
    if only:
        rows = [r for r in rows if r["id"] == only]
    results = []
    for row in rows:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / (Path(row["path"]).parent.name or "submission")  # keep the records folder name (its date)
            folder.mkdir()
            try:
                script = extract_folder(mirror, row["commit"], row["path"], folder)
            except subprocess.CalledProcessError as exc:
                results.append({**row, "verdict": "ERROR", "error": f"extract: {exc.stderr.decode()[:120]}", "seconds": 0.0, "lines": 0})
                continue
            lines = len(script.read_bytes().splitlines()) if script.exists() else 0
            try:
                seconds = float("inf")
                for _ in range(max(1, repeat)):
                    start = time.perf_counter()
                    result = audit_path(script, verify=False)
                    seconds = min(seconds, time.perf_counter() - start)
                verdict = result.verdict
                techniques = [t.id for t in result.techniques if t.active]
                findings = [f"{f.severity}:{f.check}" for f in result.findings if f.severity != "info"]
                error = ""
            except InputError as exc:
                verdict, techniques, findings, error, seconds = "ERROR", [], [], str(exc), 0.0
        results.append({**row, "verdict": verdict, "techniques": techniques, "findings": findings, "error": error,
                        "seconds": seconds, "lines": lines})
    report(results, show_misses, repeat)
    if json_out:
        json_out.write_text(json.dumps(results, indent=2, default=str))
    return 0


def agrees(r: dict) -> bool:
    return r["verdict"] == "VIOLATION" if r["label"] == "ILLEGAL" else r["verdict"] in ("CLEAN", "REVIEW")


def report(results: list[dict], show_misses: bool, repeat: int = 1) -> None:
    by_cat: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_cat[f"{r['label']:7} {r['categories']}"][r["verdict"]] += 1
    print(f"{'label / category':40} {'n':>3} {'VIOL':>5} {'REVW':>5} {'CLEAN':>5} {'ERR':>4}  agree")
    for cat in sorted(by_cat):
        c = by_cat[cat]
        n = sum(c.values())
        ok = sum(1 for r in results if f"{r['label']:7} {r['categories']}" == cat and agrees(r))
        print(f"{cat:40} {n:3} {c['VIOLATION']:5} {c['REVIEW']:5} {c['CLEAN']:5} {c['ERROR']:4}  {ok}/{n}")
    total = len(results)
    ok = sum(agrees(r) for r in results)
    legal = [r for r in results if r["label"] == "LEGAL"]
    illegal = [r for r in results if r["label"] == "ILLEGAL"]
    print(f"\nagreement {ok}/{total} ({100 * ok / max(total, 1):.1f} %); ILLEGAL caught {sum(agrees(r) for r in illegal)}/{len(illegal)}; "
          f"LEGAL not violated {sum(agrees(r) for r in legal)}/{len(legal)}; REVIEW on LEGAL {sum(r['verdict'] == 'REVIEW' for r in legal)}")
    secs = [r["seconds"] for r in results if r["seconds"]]
    per_3k = [r["seconds"] / r["lines"] * 3000 for r in results if r["lines"] >= 500 and r["seconds"]]
    if secs:
        big = [r for r in results if r["lines"] >= 2500 and r["seconds"]]
        big_lines = statistics.median(r["lines"] for r in big) if big else 0
        print(f"seconds per file (best of {repeat}): median {statistics.median(secs):.3f}, max {max(secs):.3f}; "
              f"per 3,000 lines median {statistics.median(per_3k) if per_3k else 0:.3f}; files >= 2,500 lines "
              f"(n={len(big)}, median {big_lines:,.0f} lines): median {statistics.median(r['seconds'] for r in big) if big else 0:.3f} s")
    if show_misses:
        for r in results:
            if not agrees(r) or (r["label"] == "LEGAL" and r["verdict"] == "REVIEW"):
                print(f"  MISS {r['id']:50} {r['label']:7} {r['categories']:22} -> {r['verdict']:9} {r.get('techniques')} {r.get('findings')} {r.get('error', '')[:100]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    p.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    p.add_argument("--only")
    p.add_argument("--show-misses", action="store_true")
    p.add_argument("--json", type=Path)
    p.add_argument("--repeat", type=int, default=3, help="audits per file; its time is the best of them")
    a = p.parse_args()
    if not (a.mirror / "HEAD").exists() and not (a.mirror / ".git").exists():
        print(f"corpus.py: {a.mirror}: no clone of openai/parameter-golf (fetch it first)", file=sys.stderr)
        return 2
    return run(a.manifest, a.mirror, a.only, a.show_misses, a.json, a.repeat)


if __name__ == "__main__":
    raise SystemExit(main())
