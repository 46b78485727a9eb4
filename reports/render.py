"""The renderer registry and the small vocabulary every renderer shares.

One result model, many renderers: each format is one module exposing
`render(result: AuditResult, out: TextIO, **options) -> None`, registered by name in `RENDERERS`.
Renderers only read the `AuditResult`; rule metadata (titles, conditions, rulings) comes from the
rules registry. Options a renderer does not use are ignored, so a caller can pass one set to any
format:

    rules      a `rules.Rules` (default: `rules.load_rules()`); tests pin their own
    repo_url   e.g. "https://github.com/openai/parameter-golf": evidence becomes permalinks
    sha        the commit those permalinks point at
    width      terminal width (terminal only; default: the console's, or 100 when not a TTY)
    color      force (True) or suppress (False) terminal colour
    name       the submission's name for the markdown title (default: the verifier's, else the folder's)
    timestamp  a string printed in the markdown footer; nothing time-dependent is printed otherwise
    tool_version  the version printed in SARIF and markdown (default: the installed one; tests pin it)
"""
from __future__ import annotations

import datetime as dt
import posixpath
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, TextIO

from reports.model import AuditResult, Evidence, Finding

if TYPE_CHECKING:
    from rules import Rule, Rules

Renderer = Callable[..., None]  # render(result: AuditResult, out: TextIO, **options) -> None

FORMATS: tuple[str, ...] = ("terminal", "json", "markdown", "sarif", "annotations")

RENDERERS: dict[str, Renderer]  # built on first access (see __getattr__): the renderers import this module


def render(result: AuditResult, fmt: str, out: TextIO, **options: Any) -> None:
    """Write `result` to `out` in format `fmt` (one of FORMATS)."""
    try:
        renderer = _registry()[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    renderer(result, out, **options)


@lru_cache(maxsize=1)
def _registry() -> dict[str, Renderer]:
    from reports import annotations, json_report, markdown, sarif, terminal

    return {
        "terminal": terminal.render,
        "json": json_report.render,
        "markdown": markdown.render,
        "sarif": sarif.render,
        "annotations": annotations.render,
    }


def __getattr__(name: str) -> Any:  # PEP 562: lets renderer modules import the helpers below first
    if name == "RENDERERS":
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tool_version() -> str:
    """The installed pgolf-audit version (SARIF driver version, scan cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pgolf-audit")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


# --- rule metadata ---------------------------------------------------------------------------


def rules_option(options: dict[str, Any]) -> Rules:
    """The `rules` option, or the installed registry."""
    given = options.get("rules")
    if given is not None:
        return given
    from rules import load_rules

    return load_rules()


def rule_of(rules: Rules, check: str) -> Rule | None:
    """The registry entry for a finding's check id, or None for an id the registry lacks."""
    return rules.checks.get(check)


def rule_title(rules: Rules, finding: Finding) -> str:
    rule = rule_of(rules, finding.check)
    return rule.title if rule else finding.message


def rule_sources(rules: Rules, check: str) -> tuple[str, ...]:
    rule = rule_of(rules, check)
    return rule.sources if rule else ()


# --- paths -----------------------------------------------------------------------------------


def target_base(target: str) -> str:
    """The folder evidence paths are relative to: the target itself, or a file target's folder."""
    return posixpath.dirname(target) if target.endswith(".py") else target


def repo_path(result: AuditResult, file: str) -> str:
    """Evidence `file` (relative to the audited target) as a path relative to where the target lives.

    For a target "records/track_10min_16mb/2026-03-22_X" and file "train_gpt.py" this is
    "records/track_10min_16mb/2026-03-22_X/train_gpt.py"; "../../../README.md" resolves to "README.md".
    Never touches the file system, so renderers stay deterministic.
    """
    if posixpath.isabs(file) or not file:
        return file or result.target
    base = target_base(result.target.replace("\\", "/"))
    path = posixpath.normpath(posixpath.join(base, file)) if base else posixpath.normpath(file)
    if posixpath.isabs(path):
        path = _from_records(path) or path  # a checkout elsewhere on disk: the repository path starts at records/
    return path


def _from_records(path: str) -> str | None:
    """`.../records/track_x/2026-01-01_y` -> `records/track_x/2026-01-01_y`; None outside a records tree."""
    if path.startswith("records/"):
        return path
    return path[path.index("/records/") + 1:] if "/records/" in path else None


def target_key(result: AuditResult) -> str:
    """The target as the same string wherever it was audited from: its repository path from `records/` on
    when it lies in a records tree, else the path as given when relative, else its last component."""
    path = posixpath.normpath(result.target.replace("\\", "/")) if result.target else "."
    return _from_records(path) or (posixpath.basename(path) if posixpath.isabs(path) else path)


def display_path(result: AuditResult, file: str) -> str:
    """How a report names a file: as the evidence gives it (relative to the target, which the report
    states), or its repository path when it lies outside the target."""
    return file if file and not file.startswith("..") and not posixpath.isabs(file) else repo_path(result, file)


def snippet_language(file: str) -> str:
    """The lexer for an evidence snippet: Python source or plain text (logs, JSON, README)."""
    return "python" if file.endswith(".py") else "text"


def location(result: AuditResult, ev: Evidence) -> str:
    """"path:line", or "path" for evidence about a whole file (line <= 0)."""
    path = repo_path(result, ev.file)
    return f"{path}:{ev.line}" if ev.line > 0 else path


def permalink(repo_url: str, sha: str, path: str, line: int = 0) -> str:
    """A GitHub blob permalink: {repo_url}/blob/{sha}/{path}#L{line}."""
    url = f"{repo_url.rstrip('/')}/blob/{sha}/{path}"
    return f"{url}#L{line}" if line > 0 else url


# --- findings --------------------------------------------------------------------------------


def severity_counts(findings: list[Finding]) -> Counter[str]:
    return Counter(f.severity for f in findings)


def counts_phrase(findings: list[Finding]) -> str:
    """"2 violations, 1 review, 1 info" or "no findings"."""
    counts = severity_counts(findings)
    parts = []
    for sev, one, many in (("violation", "violation", "violations"), ("review", "review", "reviews"),
                           ("info", "info", "info")):
        if counts[sev]:
            parts.append(f"{counts[sev]} {one if counts[sev] == 1 else many}")
    return ", ".join(parts) if parts else "no findings"


# --- the verifier's block --------------------------------------------------------------------


def verify_seeds(result: AuditResult) -> list[dict[str, Any]]:
    return list((result.verify or {}).get("seeds") or [])


def verify_stats(result: AuditResult) -> dict[str, Any]:
    return dict((result.verify or {}).get("stats") or {})


def headline_bpb(result: AuditResult) -> tuple[float, int] | None:
    """(BPB, number of seeds it is the mean of), from the verifier's statistics or its one seed."""
    stats = verify_stats(result)
    if stats.get("mean_bpb") is not None:
        return float(stats["mean_bpb"]), int(stats.get("n") or len(verify_seeds(result)))
    seeds = [s for s in verify_seeds(result) if s.get("val_bpb") is not None]
    if len(seeds) == 1:
        return float(seeds[0]["val_bpb"]), 1
    return None


def submission_name(result: AuditResult) -> str:
    """The submission's own name (submission.json "name" as the verifier reports it) or the folder name."""
    verify = result.verify or {}
    for holder in (verify, verify.get("submission") or {}):
        if isinstance(holder, dict) and isinstance(holder.get("name"), str) and holder["name"].strip():
            return holder["name"].strip()
    return posixpath.basename(result.target.rstrip("/\\").replace("\\", "/")) or result.target


def utc_now() -> str:
    """The time a report states when asked to (`--timestamp`); reports are otherwise timeless."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def fmt_num(value: Any, spec: str = "", missing: str = "—") -> str:
    """Format a number from the verifier's block; None (or a non-number) prints as `missing`."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return missing
    return format(value, spec)


SEED_HEADERS: tuple[str, ...] = ("seed", "val_loss", "val_bpb", "artifact bytes", "train s", "eval s", "steps")


def seed_cells(seed: dict[str, Any]) -> list[tuple[str, bool]]:
    """One per-seed row as (text, over_limit) cells in SEED_HEADERS order (the log is left to the caller).
    Over the limit is the verifier's judgment (`over_limit`: the size cap, and on the record track the time
    caps with their tolerance), never recomputed here."""
    over = set(seed.get("over_limit") or ())
    return [
        (fmt_num(seed.get("seed"), "d"), False),
        (fmt_num(seed.get("val_loss"), ".5f"), False),
        (fmt_num(seed.get("val_bpb"), ".5f"), False),
        (fmt_num(seed.get("artifact_bytes"), ",d"), "artifact_bytes" in over),
        (fmt_num(seed.get("train_time_s"), ".1f"), "train_time_s" in over),
        (fmt_num(seed.get("eval_time_s"), ".1f"), "eval_time_s" in over),
        (fmt_num(seed.get("steps"), ",d"), False),
    ]


def stats_line(result: AuditResult) -> str | None:
    """"3 seeds: mean 1.12330 BPB, std 0.00050; vs #414: Δ -0.00130 BPB (-0.00090 nats), one-sided p = 0.012"."""
    stats = verify_stats(result)
    if not stats:
        return None
    n = stats.get("n")
    if n == 1:   # one value has no spread
        line = f"1 seed: {fmt_num(stats.get('mean_bpb'), '.5f')} BPB"
    else:
        line = (f"{fmt_num(n, 'd', '?')} seeds: mean {fmt_num(stats.get('mean_bpb'), '.5f')} BPB, "
                f"std {fmt_num(stats.get('std_bpb'), '.5f')}")
    compared = []
    if stats.get("delta_bpb") is not None:
        delta = f"Δ {fmt_num(stats.get('delta_bpb'), '+.5f')} BPB"
        if stats.get("delta_nats") is not None:
            delta += f" ({fmt_num(stats.get('delta_nats'), '+.5f')} nats)"
        compared.append(delta)
    if stats.get("p_one_sided") is not None:
        compared.append(f"one-sided p = {fmt_num(stats.get('p_one_sided'), '.3g')}")
    if stats.get("baseline"):
        line += f"; vs {stats['baseline']}: " + (", ".join(compared) if compared else "no comparison computed")
    elif compared:
        line += "; " + ", ".join(compared)
    return line


def smoke_line(result: AuditResult) -> str | None:
    """The smoke test in one line (its summary: "import OK in 0.08 s · dim 512 · 11 layers · ..."); None
    when the verifier did not run, "not run" when it was not asked for."""
    if result.verify is None:
        return None
    smoke = result.verify.get("smoke")
    if not smoke:
        return "not run"
    return str(smoke.get("summary") or smoke.get("status") or "ran, with no summary")


RERUN_HEADERS: tuple[str, ...] = ("seed", "claimed BPB", "rerun BPB", "claimed bytes", "rerun bytes", "wall s",
                                  "ended", "result")


def rerun_rows(result: AuditResult) -> list[tuple[list[str], bool]]:
    """The `verify --rerun` seeds as (cells in RERUN_HEADERS order, reproduced?) rows; [] when no rerun ran."""
    rerun = (result.verify or {}).get("rerun") or {}
    rows = []
    for seed in rerun.get("seeds") or []:
        ok = bool(seed.get("ok"))
        rows.append(([fmt_num(seed.get("seed"), "d"), fmt_num(seed.get("claimed_bpb"), ".5f"),
                      fmt_num(seed.get("rerun_bpb"), ".5f"), fmt_num(seed.get("claimed_bytes"), ",d"),
                      fmt_num(seed.get("rerun_bytes"), ",d"), fmt_num(seed.get("wall_s"), ".1f"),
                      str(seed.get("exit") or "—"), "reproduced" if ok else str(seed.get("problem") or "failed")],
                     ok))
    return rows


def rerun_line(result: AuditResult) -> str | None:
    """How the rerun ran: "`torchrun ...`, 1 of 1 seeds reproduced (tolerance 0.002 BPB); sandbox: ..."."""
    rerun = (result.verify or {}).get("rerun")
    if not rerun:
        return None
    rows = rerun_rows(result)
    line = (f"{rerun.get('command') or 'no run command found'}: {sum(ok for _, ok in rows)} of {len(rows)} "
            f"seed{'' if len(rows) == 1 else 's'} reproduced (tolerance {fmt_num(rerun.get('bpb_tolerance'), 'g')} BPB)")
    if rerun.get("isolation"):
        line += f"; sandbox: {rerun['isolation']}"
    return line
