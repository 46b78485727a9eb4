"""How feature flags are read: `getattr(args, "name", default)` reads like `args.name` (else the default),
so a branch behind it is as live as the environment makes it."""
from __future__ import annotations

from pathlib import Path

import pytest

from auditor.api import audit_path
from tests.auditor.fixtures import FIXTURES

SOURCE = (FIXTURES / "slot" / "env_flag_slot.py").read_text(encoding="utf-8")
GUARD = "    if args.slot_enabled:\n"


@pytest.mark.parametrize(("guard", "env", "active"), [
    ('    if getattr(args, "slot_enabled", False):\n', {}, False),
    ('    if getattr(args, "slot_enabled", False):\n', {"SLOT_ENABLED": "1"}, True),
    ('    if getattr(args, "slot_on", False):\n', {"SLOT_ENABLED": "1"}, False),   # no such attribute: the default
    ('    if getattr(args, "slot_on", True):\n', {}, True),
])
def test_getattr_guard_reads_the_attribute_or_its_default(guard: str, env: dict[str, str], active: bool,
                                                          tmp_path: Path) -> None:
    assert SOURCE.count(GUARD) == 1
    script = tmp_path / "train_gpt.py"
    script.write_text(SOURCE.replace(GUARD, guard), encoding="utf-8")
    slot = [t for t in audit_path(script, env=env).techniques if t.id == "slot"]
    assert [t.active for t in slot] == [active]
