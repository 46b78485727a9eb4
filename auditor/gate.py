"""`pgolf-audit gate`: the pull-request check for a Parameter Golf records submission.

    pgolf-audit gate [--base REV] [--head REV] [--strict] [--markdown-out FILE] [--repo-url URL]

1. Diff the change the way GitHub shows a pull request: `git diff --name-status base...head`
   (against the merge base; renames count as a deletion plus an addition).
2. SUB-001: a change that touches `records/` (or adds a `submission.json`) must add exactly one new
   folder matching `folder_pattern` in rules/challenge.yaml (`records/<track>/YYYY-MM-DD_<name>/`)
   and nothing else. Every other path becomes evidence of one SUB-001 finding.
3. Audit and verify that folder as committed at `head` (exported with `git archive`, so the working
   tree never matters) through `auditor.api.audit_path`.
4. Write the markdown review comment to `--markdown-out` and to `$GITHUB_STEP_SUMMARY`, print GitHub
   annotations, set `verdict`/`folder`/`markdown` in `$GITHUB_OUTPUT`, and exit 1 on VIOLATION (and on
   REVIEW with `--strict`), 2 when git or the auditor fails, 0 otherwise.

Defaults fit a GitHub `pull_request` run with `actions/checkout` `fetch-depth: 0`: base
`origin/$GITHUB_BASE_REF`, head `HEAD`, permalinks to `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY` at the
pull request's head commit. A change with nothing under `records/` is not a submission: it passes
with a notice.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import posixpath
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from reports import annotations, markdown
from reports.model import AuditResult, Evidence, Finding, exit_code
from reports.render import utc_now
from rules import Rules, load_rules

SUB_001 = "SUB-001"
MAX_EVIDENCE = 25  # stray paths listed one by one; the rest are counted in the message

Audit = Callable[..., AuditResult]  # auditor.api.audit_path's signature


class GateError(Exception):
    """git or the input is not usable: exit 2."""


@dataclass(frozen=True)
class Change:
    status: str  # git's letter: A(dded), M(odified), D(eleted), T(ype change), ...
    path: str


@dataclass(frozen=True)
class Plan:
    """What the change is: the one records folder to audit (if any) and the SUB-001 evidence."""

    is_submission: bool
    folder: str | None
    stray: tuple[Change, ...]
    problem: str  # why SUB-001 fires, "" when it does not


# --- git -------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise GateError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", errors="surrogateescape")


def resolves(repo: Path, rev: str) -> bool:
    try:
        git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        return True
    except GateError:
        return False


def default_base(repo: Path, env: dict[str, str]) -> str:
    """origin/$GITHUB_BASE_REF in a pull_request run; otherwise the first of origin/main, main, ... that exists."""
    if env.get("GITHUB_BASE_REF"):
        return f"origin/{env['GITHUB_BASE_REF']}"
    for rev in ("origin/main", "main", "origin/master", "master"):
        if resolves(repo, rev):
            return rev
    raise GateError("no --base given, $GITHUB_BASE_REF is unset and neither main nor master exists")


def changed(repo: Path, base: str, head: str) -> list[Change]:
    """`git diff --name-status base...head`: what the pull request changes against the merge base."""
    out = git(repo, "diff", "--name-status", "--no-renames", "-z", f"{base}...{head}", "--")
    fields = out.split("\0")
    return [Change(status[:1], path) for status, path in zip(fields[0::2], fields[1::2]) if status]


def exists_at(repo: Path, rev: str, path: str) -> bool:
    return bool(git(repo, "ls-tree", rev, "--", path).strip())


def export_folder(repo: Path, rev: str, folder: str, dest: Path) -> Path:
    """The folder as committed at `rev`, extracted under `dest` with its repository path."""
    archive = dest / "folder.tar"
    git(repo, "archive", "--format=tar", "-o", str(archive), rev, "--", folder)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # refuse links and paths that leave dest
            tar.extractall(dest / "tree", filter="data")
        else:  # pragma: no cover - Python without PEP 706
            tar.extractall(dest / "tree")
    archive.unlink()
    return dest / "tree" / folder


# --- SUB-001 ---------------------------------------------------------------------------------


def plan(changes: list[Change], rules: Rules, new: Callable[[str], bool]) -> Plan:
    """SUB-001: a record PR adds exactly one new records/<track>/YYYY-MM-DD_<name>/ folder and changes
    nothing outside it (a PR that touches no records/ path is not a record PR).

    Source: README (2026-03-18); 0hq on #53, #363; cocohearts on #545, #1031, #1120, #1143 (trim extra
    trees). `new(folder)` says whether a folder is absent at the base revision."""
    if not any(c.path.startswith("records/") or posixpath.basename(c.path) == "submission.json" for c in changes):
        return Plan(False, None, (), "")
    pattern = re.compile(rules.folder_pattern)
    folders = sorted({m.group(0).rstrip("/") for c in changes if (m := pattern.match(c.path))})
    added = [f for f in folders if new(f)]
    if len(added) == 1:
        folder = added[0]
        stray = tuple(c for c in changes if not c.path.startswith(folder + "/"))
        problem = (f"the change also touches {len(stray)} path{'s' if len(stray) != 1 else ''} outside {folder}/"
                   if stray else "")
        return Plan(True, folder, stray, problem)
    if added:
        return Plan(True, None, tuple(changes),
                    f"the change adds {len(added)} records folders ({', '.join(added)}); a submission adds one")
    edited = f" (it edits existing record folders: {', '.join(folders)})" if folders else ""
    return Plan(True, None, tuple(changes),
                "the change adds no new folder named records/<track>/YYYY-MM-DD_<name>/" + edited)


def sub001_finding(p: Plan, rules: Rules) -> Finding | None:
    if not p.problem:
        return None
    try:
        rule = rules.rule(SUB_001)
        condition, severity = rule.condition, rule.severity
    except KeyError:  # the verifier's rules/checks_record.yaml defines it; keep the gate usable without it
        condition, severity = "FILES", "violation"
    shown = p.stray[:MAX_EVIDENCE]
    more = f"; {len(p.stray) - len(shown)} more not listed" if len(p.stray) > len(shown) else ""
    evidence = tuple(Evidence(posixpath.relpath(c.path, p.folder) if p.folder else c.path, 0, f"{c.status} {c.path}")
                     for c in shown)
    return Finding(SUB_001, "", condition, severity, 1.0, p.problem + more, evidence)  # type: ignore[arg-type]


# --- the gate --------------------------------------------------------------------------------


@dataclass
class Outcome:
    result: AuditResult | None  # None: not a submission
    markdown: str
    exit: int


def gate(repo: Path, base: str, head: str, *, strict: bool = False, repo_url: str | None = None,
         sha: str | None = None, baseline: str | None = None, smoke: bool = False, rules: Rules | None = None,
         audit: Audit | None = None, audit_env: dict[str, str] | None = None,
         timestamp: str | None = None) -> Outcome:
    """Plan, audit and render; no printing, no files written (see `run`). `audit_env` is the submission's
    environment (flags) for the auditor, not this process's."""
    rules = rules or load_rules()
    for rev in (base, head):
        if not resolves(repo, rev):
            raise GateError(f"revision {rev!r} not found (in GitHub Actions check out with fetch-depth: 0)")
    changes = changed(repo, base, head)
    merge_base = git(repo, "merge-base", base, head).strip()
    p = plan(changes, rules, lambda folder: not exists_at(repo, merge_base, folder))
    if not p.is_submission:
        text = ("<!-- pgolf-audit:v1 target=. -->\n## pgolf-audit\n\nThis change touches nothing under "
                "`records/`: it is not a records submission, so nothing was audited.\n")
        return Outcome(None, text, 0)

    if p.folder:
        if audit is None:
            from auditor import api

            audit = api.audit_path
        with tempfile.TemporaryDirectory(prefix="pgolf-gate-") as tmp:
            path = export_folder(repo, head, p.folder, Path(tmp))
            try:
                result = audit(path, env=audit_env, verify=True, baseline=baseline, **({"smoke": True} if smoke else {}))
            except Exception as exc:  # the auditor itself failed: not the submission's fault
                raise GateError(f"auditing {p.folder} failed: {type(exc).__name__}: {exc}") from exc
            result.files = [os.path.relpath(f, path) if os.path.isabs(f) else f for f in result.files]
        result.target = p.folder  # report repository paths, not the temporary export
    else:
        result = AuditResult(target=".")
    finding = sub001_finding(p, rules)
    if finding:
        result.findings.append(finding)

    out = io.StringIO()
    name = None if p.folder else "this pull request (no single records folder)"
    extra = {k: v for k, v in (("name", name), ("timestamp", timestamp)) if v}
    markdown.render(result, out, rules=rules, repo_url=repo_url, sha=sha, **extra)
    return Outcome(result, out.getvalue(), exit_code(result.verdict, strict))


def event_head_sha(env: dict[str, str]) -> str | None:
    """The pull request's head commit from the event payload (HEAD is a merge commit in pull_request runs)."""
    path = env.get("GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
        return event["pull_request"]["head"]["sha"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "gate", help="check a pull request that adds a records folder (SUB-001, audit, verify)",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--base", help="base revision (default: origin/$GITHUB_BASE_REF, else origin/main or main)")
    p.add_argument("--head", default="HEAD", help="head revision (default: HEAD)")
    p.add_argument("--strict", action="store_true", help="exit 1 on REVIEW as well as on VIOLATION")
    p.add_argument("--markdown-out", type=Path, metavar="FILE", help="write the review comment here")
    p.add_argument("--repo-url", help="evidence links point here (default: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY)")
    p.add_argument("--baseline", help="what the significance test compares against (passed to the verifier)")
    p.add_argument("--smoke", action="store_true",
                   help="also run the verifier's sandboxed smoke test (needs the submission's dependencies)")
    p.add_argument("--sha", help="commit the comment's permalinks point at (default: the pull request's head "
                                 "from the event payload, else --head)")
    p.add_argument("--timestamp", action="store_true", help="state the time in the comment's footer")
    p.add_argument("-C", dest="repo", type=Path, default=Path("."), metavar="DIR",
                   help="the git repository (default: the current directory)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    rules = load_rules()
    try:
        base = args.base or default_base(args.repo, env)
        repo_url = args.repo_url or (f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}"
                                     if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") else None)
        sha = args.sha or (event_head_sha(env) if args.head == "HEAD" else None) or \
            git(args.repo, "rev-parse", f"{args.head}^{{commit}}").strip()
        outcome = gate(args.repo, base, args.head, strict=args.strict, repo_url=repo_url, sha=sha,
                       baseline=args.baseline, smoke=args.smoke, rules=rules,
                       timestamp=utc_now() if args.timestamp else None)
    except GateError as exc:
        print(annotations.command("error", str(exc), title="pgolf-audit gate"))
        print(f"pgolf-audit gate: {exc}", file=sys.stderr)
        return 2

    if args.markdown_out:
        args.markdown_out.write_text(outcome.markdown, encoding="utf-8")
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(outcome.markdown)
    if outcome.result is None:
        print(annotations.command("notice", "nothing under records/ changed: not a submission, nothing audited",
                                  title="pgolf-audit"))
    else:
        annotations.render(outcome.result, sys.stdout, rules=rules)
    if env.get("GITHUB_OUTPUT"):
        verdict = outcome.result.verdict if outcome.result else "NONE"
        folder = outcome.result.target if outcome.result and outcome.result.target != "." else ""
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            fh.write(f"verdict={verdict}\nfolder={folder}\nmarkdown={args.markdown_out or ''}\n")
    return outcome.exit
