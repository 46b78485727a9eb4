"""action.yml, the example workflow and .pre-commit-hooks.yaml: they validate against GitHub's published schemas
(check-jsonschema), parse, have the structure GitHub and
pre-commit require, and every command they run exists with the flags they pass (checked offline)."""
from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor import gate, scan
from reports.markdown import MARKER

ROOT = Path(__file__).parents[2]
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[\w.-]+$")  # owner/repo[/path]@ref


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(prog="pgolf-audit")
    sub = parser.add_subparsers(dest="command")
    return {"gate": gate.add_parser(sub), "scan": scan.add_parser(sub)}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def check_pgolf_command(words: list[str]) -> None:
    """`pgolf-audit <sub> --flag ...`: the subcommand exists and takes every flag given."""
    assert words[0] == "pgolf-audit", words
    parser = subcommands()[words[1]]
    unknown = {w.split("=")[0] for w in words[2:] if w.startswith("-")} - options(parser)
    assert not unknown, f"pgolf-audit {words[1]} has no {sorted(unknown)}"


def check_bash(script: str) -> None:
    if shutil.which("bash"):
        proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def check_steps(steps: list[dict[str, Any]], composite: bool) -> None:
    ids = [s["id"] for s in steps if "id" in s]
    assert len(ids) == len(set(ids))
    for step in steps:
        assert isinstance(step, dict) and ("uses" in step) != ("run" in step), step
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"unpinned action {step['uses']}"
        else:
            assert not composite or step.get("shell") == "bash", "composite run steps need a shell"
            assert "inputs." not in step["run"] and "github.event" not in step["run"], \
                "expressions pasted into a script allow injection: pass them through env"
            check_bash(step["run"])
        for key in step:
            assert key in {"name", "id", "if", "uses", "run", "shell", "with", "env", "working-directory",
                           "continue-on-error", "timeout-minutes"}, f"unknown step key {key}"


def test_action_yml():
    action = load("action.yml")
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    check_steps(steps, composite=True)

    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = {m.split(".", 1)[1] for m in EXPR.findall(text) if m.startswith("inputs.")}
    assert used == set(action["inputs"]), "every input is used and every used input is declared"
    for name, spec in action["inputs"].items():
        assert spec.get("description") and isinstance(spec.get("default", ""), str), name
    step_ids = {s.get("id") for s in steps}
    for name, spec in action["outputs"].items():
        ref = EXPR.fullmatch(spec["value"])
        assert ref and ref.group(1).split(".")[1] in step_ids, name
        assert ref.group(1).split(".")[-1] in {"verdict", "folder", "markdown"}  # what `gate` writes

    gate_step = next(s for s in steps if s.get("id") == "gate")
    call = gate_step["run"].strip().splitlines()[-1]
    check_pgolf_command(shlex.split(call.replace('"${args[@]}"', "")))
    for flag in re.findall(r"(--[a-z-]+)", gate_step["run"]):
        assert flag in options(subcommands()["gate"]), flag


def test_example_workflow():
    workflow = load("examples/workflows/pgolf-audit.yml")
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert workflow["permissions"]["contents"] == "read"
    for job in workflow["jobs"].values():
        assert job["runs-on"] and job["steps"]
        check_steps(job["steps"], composite=False)
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["fetch-depth"] == 0, "the gate needs the merge base"
        script = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@"))
        assert f"'{MARKER.split(' target=')[0]}'" in script["with"]["script"], "comment updates find the marker"
        audit = next(s for s in job["steps"] if s.get("id") == "audit")
        assert script["env"]["COMMENT_FILE"] == audit["with"]["markdown-out"]
        assert set(audit["with"]) <= set(load("action.yml")["inputs"])


def test_pre_commit_hooks():
    hooks = load(".pre-commit-hooks.yaml")
    assert isinstance(hooks, list) and hooks
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python"
        words = shlex.split(hook["entry"])
        assert f'{words[0]} = "' in pyproject, "the entry is a console script of this package"
        check_pgolf_command(words)
        for stage in hook.get("stages", []):
            assert stage in {"pre-commit", "pre-merge-commit", "pre-push", "prepare-commit-msg", "commit-msg",
                             "post-checkout", "post-commit", "post-merge", "post-rewrite", "manual"}
        if "files" in hook:
            re.compile(hook["files"])
    assert len({h["id"] for h in hooks}) == len(hooks)


@pytest.mark.parametrize("path", ["action.yml", "examples/workflows/pgolf-audit.yml", ".pre-commit-hooks.yaml"])
def test_no_tabs_and_ends_with_newline(path: str):
    text = (ROOT / path).read_text(encoding="utf-8")
    assert "\t" not in text and text.endswith("\n")


def schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the schema GitHub's files are published against (vendored in the package,
    so this runs offline)."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True)


@pytest.mark.parametrize(("schema", "path"), [("vendor.github-actions", "action.yml"),
                                              ("vendor.github-workflows", "examples/workflows/pgolf-audit.yml")])
def test_ci_files_validate_against_github_schemas(schema: str, path: str, tmp_path: Path) -> None:
    proc = schema_check(schema, ROOT / path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / Path(path).name   # the linter does reject a file GitHub would refuse
    broken.write_text((ROOT / path).read_text(encoding="utf-8").replace("runs:", "runz:").replace("jobs:", "jobz:"),
                      encoding="utf-8")
    assert schema_check(schema, broken).returncode == 1
