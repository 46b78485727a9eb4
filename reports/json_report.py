"""`--format json`: exactly `AuditResult.to_json()`, indent 2 — the versioned public contract.

The shape is published as a JSON Schema in `reports/result.schema.json` (schema id "pgolf-audit/1").
"""
from __future__ import annotations

import json
from typing import Any, TextIO

from reports.model import AuditResult


def render(result: AuditResult, out: TextIO, **_options: Any) -> None:
    json.dump(result.to_json(), out, indent=2, ensure_ascii=False)
    out.write("\n")
