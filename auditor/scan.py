"""`pgolf-audit scan`: sweep many submissions, in parallel, with a content-hash cache.

    pgolf-audit scan PATH... [--jobs N] [--csv FILE] [--json FILE] [--cache DIR] [--no-cache] [--no-verify]

Each PATH is a submission (a records folder or a .py script) or a folder of them: a folder that holds
a `submission.json` or is named `<track_*>/YYYY-MM-DD_<name>` is one records submission; elsewhere
every .py script is one submission. Audits run in worker processes (`auditor.api.audit_path`), with
a progress bar on a terminal. A result is cached under `--cache` (default `~/.cache/pgolf-audit`),
keyed by sha256 over the submission's files, the tool version, the rules files and the options; a hit
is re-checked against the hashes of every file the audit read (helpers beside a script included).
One failing submission never stops the sweep: its error becomes a row.

Output: a summary (verdict counts, the checks that fired most, the submissions with findings) and,
on request, one CSV row or JSON object per submission. Exit 2 if any submission could not be
audited, else 1 if any is a VIOLATION (or REVIEW with --strict), else 0.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, TextIO

from auditor.source import label_file
from reports.model import SEVERITY_ORDER, exit_code
from reports.render import tool_version

CACHE_FORMAT = "pgolf-audit-scan/1"
SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", ".git", ".venv", "venv"}
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}_")
CSV_COLUMNS = ("target", "verdict", "violations", "reviews", "infos", "checks", "techniques_active",
               "mean_bpb", "seeds", "error", "cached")


# --- what to audit ---------------------------------------------------------------------------


def is_records_folder(path: Path) -> bool:
    return (path / "submission.json").is_file() or (DATED.match(path.name) is not None
                                                    and path.parent.name.startswith("track_"))


def expand(paths: Iterable[Path]) -> list[Path]:
    """Every submission under `paths`: records folders whole, other .py scripts one by one."""
    found: dict[str, Path] = {}

    def walk(folder: Path) -> None:
        if is_records_folder(folder):
            found[str(folder)] = folder
            return
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.is_dir() and not entry.is_symlink():
                if entry.name in SKIP_DIRS or entry.name.startswith(".") or (entry / "pyvenv.cfg").exists():
                    continue
                walk(entry)
            elif entry.suffix == ".py" and entry.is_file():
                found[str(entry)] = entry

    for path in paths:
        if path.is_dir():
            walk(path)
        else:  # a file, or a path that does not exist: the audit reports what is wrong with it
            found[str(path)] = path
    return sorted(found.values(), key=str)


# --- the cache -------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(target: Path) -> str:
    """sha256 over a script, or over every file of a folder (relative path and content)."""
    if target.is_file():
        return sha256_file(target)
    digest = hashlib.sha256()
    for path in sorted(p for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(target).as_posix().encode("utf-8", "surrogateescape") + b"\0")
        digest.update(sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def rules_fingerprint() -> str:
    from rules import RULES_DIR

    digest = hashlib.sha256()
    for path in sorted(RULES_DIR.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def base_dir(target: Path) -> Path:
    return target if target.is_dir() else target.parent


def file_hashes(target: Path, files: list[str]) -> dict[str, str] | None:
    """Hashes of the files an audit read (relative to the target's folder); None if one is gone."""
    out = {}
    for name in files:
        path = Path(name) if Path(name).is_absolute() else base_dir(target) / name
        if not path.is_file():
            return None
        out[name] = sha256_file(path)
    return out


@dataclass(frozen=True)
class Cache:
    root: Path | None  # None: caching off
    salt: str  # tool version, rules files and options: a change to any of them is a miss

    @classmethod
    def open(cls, root: Path | None, verify: bool, baseline: str | None) -> Cache:
        salt = json.dumps([CACHE_FORMAT, tool_version(), rules_fingerprint(), verify, baseline])
        return cls(root, salt)

    def key(self, target: Path) -> str | None:
        if self.root is None or not target.exists():
            return None
        return hashlib.sha256((self.salt + "\0" + content_hash(target)).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str | None, target: Path) -> dict[str, Any] | None:
        if key is None:
            return None
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if file_hashes(target, list(entry.get("files_read", {}))) != entry.get("files_read"):
            return None  # a helper the audit read has changed
        return entry

    def put(self, key: str | None, target: Path, outcome: dict[str, Any]) -> None:
        if key is None or "error" in outcome:
            return
        hashes = file_hashes(target, outcome.get("files", []))
        if hashes is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**outcome, "files_read": hashes}), encoding="utf-8")
        os.replace(tmp, path)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pgolf-audit"


# --- auditing --------------------------------------------------------------------------------


def audit_one(target: str, verify: bool, baseline: str | None) -> dict[str, Any]:
    """Runs in a worker process: the result as JSON plus the files read, or the error."""
    try:
        from auditor import api

        result = api.audit_path(Path(target), verify=verify, baseline=baseline)
        return {"result": result.to_json(), "files": sorted({label_file(str(f)) for f in result.files})}
    except Exception as exc:  # one bad submission never stops the sweep
        return {"error": f"{type(exc).__name__}: {exc}"}


def row_of(target: Path, outcome: dict[str, Any], cached: bool) -> dict[str, Any]:
    result = outcome.get("result")
    if result is None:
        return {"target": str(target), "verdict": "ERROR", "violations": 0, "reviews": 0, "infos": 0,
                "checks": [], "techniques_active": [], "mean_bpb": None, "seeds": None,
                "error": outcome.get("error", "no result"), "cached": cached, "result": None}
    severities = Counter(f["severity"] for f in result["findings"])
    stats = (result.get("verify") or {}).get("stats") or {}
    return {
        "target": str(target), "verdict": result["verdict"], "violations": severities["violation"],
        "reviews": severities["review"], "infos": severities["info"],
        "checks": sorted({f["check"] for f in result["findings"]}),
        "techniques_active": sorted(t["id"] for t in result["techniques"] if t["active"]),
        "mean_bpb": stats.get("mean_bpb"), "seeds": stats.get("n"), "error": "", "cached": cached,
        "result": result,
    }


def sweep(targets: list[Path], *, jobs: int, cache: Cache, verify: bool = True, baseline: str | None = None,
          progress: Any = None) -> list[dict[str, Any]]:
    """Audit every target (cache first, then a process pool); rows in target order."""
    rows: dict[int, dict[str, Any]] = {}
    keys: dict[int, str | None] = {}
    todo: list[int] = []
    for i, target in enumerate(targets):
        keys[i] = cache.key(target)
        hit = cache.get(keys[i], target)
        if hit is not None:
            rows[i] = row_of(target, hit, cached=True)
        else:
            todo.append(i)
    if progress is not None:
        progress.advance(len(rows))

    def finish(i: int, outcome: dict[str, Any]) -> None:
        cache.put(keys[i], targets[i], outcome)
        rows[i] = row_of(targets[i], outcome, cached=False)
        if progress is not None:
            progress.advance(1)

    if jobs <= 1 or len(todo) <= 1:
        if progress is not None:
            progress.start()
        for i in todo:
            finish(i, audit_one(str(targets[i]), verify, baseline))
    else:
        crashed: list[int] = []
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            futures: dict[Future[dict[str, Any]], int] = {
                pool.submit(audit_one, str(targets[i]), verify, baseline): i for i in todo}
            if progress is not None:
                progress.start()  # after the workers are forked: no display thread exists in them
            for future in as_completed(futures):
                i = futures[future]
                try:
                    finish(i, future.result())
                except BrokenProcessPool:
                    crashed.append(i)
        for i in sorted(crashed):  # a worker died (killed, out of memory, crash): retry each alone
            finish(i, _audit_isolated(str(targets[i]), verify, baseline))
    return [rows[i] for i in range(len(targets))]


def _audit_isolated(target: str, verify: bool, baseline: str | None) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(audit_one, target, verify, baseline).result()
        except BrokenProcessPool:
            return {"error": "the audit process died (killed, out of memory or crashed)"}


# --- output ----------------------------------------------------------------------------------


def write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "checks": " ".join(row["checks"]),
                         "techniques_active": " ".join(row["techniques_active"]),
                         "mean_bpb": "" if row["mean_bpb"] is None else row["mean_bpb"],
                         "seeds": "" if row["seeds"] is None else row["seeds"]})


def write_json(rows: list[dict[str, Any]], out: TextIO) -> None:
    json.dump({"schema": CACHE_FORMAT, "tool_version": tool_version(), "submissions": rows}, out, indent=2,
              ensure_ascii=False)
    out.write("\n")


def _severities_by_check(rows: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """check -> how many submissions reported it at each severity (its worst there): a rule's default
    severity is not what was reported when a precedent or a `since` date lowered it."""
    out: dict[str, Counter[str]] = {}
    for row in rows:
        worst: dict[str, str] = {}
        for f in (row.get("result") or {}).get("findings", []):
            worst[f["check"]] = max(worst.get(f["check"], f["severity"]), f["severity"], key=SEVERITY_ORDER.__getitem__)
        for check, sev in worst.items():
            out.setdefault(check, Counter())[sev] += 1
    return out


def print_summary(rows: list[dict[str, Any]], console: Any, rules: Any, limit: int = 30) -> None:
    from rich import box
    from rich.table import Table

    verdicts = Counter(row["verdict"] for row in rows)
    cached = sum(row["cached"] for row in rows)
    console.print(f"{len(rows)} submission{'s' if len(rows) != 1 else ''} ({cached} from cache): " + ", ".join(
        f"{verdicts[v]} {v}" for v in ("CLEAN", "REVIEW", "VIOLATION", "ERROR") if verdicts[v]))

    fired = Counter(check for row in rows for check in row["checks"])
    if fired:
        table = Table(title="Checks that fired", box=box.SIMPLE_HEAD, title_justify="left")
        for name, kw in (("check", {}), ("submissions", {"justify": "right"}), ("as", {}), ("title", {})):
            table.add_column(name, **kw)
        as_reported = _severities_by_check(rows)
        for check, n in sorted(fired.items(), key=lambda kv: (-kv[1], kv[0]))[:15]:
            rule = rules.checks.get(check)
            shown = ", ".join(f"{n} {sev}" for sev, n in sorted(as_reported[check].items(),
                                                                key=lambda kv: -SEVERITY_ORDER[kv[0]]))
            table.add_row(check, str(n), shown, rule.title if rule else "")
        console.print(table)

    flagged = [row for row in rows if row["verdict"] != "CLEAN"]
    if flagged:
        table = Table(title="Submissions with findings or errors", box=box.SIMPLE_HEAD, title_justify="left")
        for name, kw in (("target", {"overflow": "fold"}), ("verdict", {}), ("BPB", {"justify": "right"}),
                         ("checks / error", {"overflow": "fold"})):
            table.add_column(name, **kw)
        order = {"ERROR": 0, "VIOLATION": 1, "REVIEW": 2}
        for row in sorted(flagged, key=lambda r: (order[r["verdict"]], r["target"]))[:limit]:
            bpb = "" if row["mean_bpb"] is None else f"{row['mean_bpb']:.5f}"
            table.add_row(row["target"], row["verdict"], bpb, row["error"] or " ".join(row["checks"]))
        console.print(table)
        if len(flagged) > limit:
            console.print(f"... and {len(flagged) - limit} more (see --csv / --json)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("scan", help="audit many submissions in parallel, with a cache",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="submissions or folders of them")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="one row per submission")
    p.add_argument("--json", type=Path, metavar="FILE", help="every result, in pgolf-audit/1 JSON")
    p.add_argument("--cache", type=Path, metavar="DIR", default=None,
                   help="result cache (default: $XDG_CACHE_HOME/pgolf-audit or ~/.cache/pgolf-audit)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--no-verify", action="store_true", help="static audit only; do not verify records folders")
    p.add_argument("--baseline", help="what the verifier's significance test compares against")
    p.add_argument("--strict", action="store_true", help="exit 1 on REVIEW as well as on VIOLATION")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rules import load_rules

    verify = not args.no_verify
    cache = Cache.open(None if args.no_cache else (args.cache or default_cache_dir()), verify, args.baseline)
    targets = expand(args.paths)
    err = Console(stderr=True)
    started = time.monotonic()
    progress = Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, disable=not err.is_terminal, auto_refresh=True)
    task = progress.add_task("audit", total=len(targets))
    ticker = _Ticker(progress, task)
    try:
        rows = sweep(targets, jobs=args.jobs, cache=cache, verify=verify, baseline=args.baseline, progress=ticker)
    finally:
        progress.stop()

    out = Console(highlight=False)
    if not out.is_terminal:  # CI logs and files: wide enough that titles do not wrap
        out = Console(highlight=False, width=120)
    print_summary(rows, out, load_rules())
    err.print(f"[dim]{time.monotonic() - started:.1f} s[/dim]")
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as fh:
            write_csv(rows, fh)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            write_json(rows, fh)
    if any(row["verdict"] == "ERROR" for row in rows):
        return 2
    return max((exit_code(row["verdict"], args.strict) for row in rows), default=0)


class _Ticker:
    """What `sweep` needs from a progress display: start once, advance by n."""

    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task, self.started = progress, task, False

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.progress.start()

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)
