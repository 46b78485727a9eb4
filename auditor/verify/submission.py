"""Load submission.json, validate it against `submission.schema.json` (RULES.md SUB-006) and
normalise the per-seed claims that records spell in several ways (`seed_results`, `seeds` as a map,
`seed_scores` beside a `seeds` list, a single `seed`)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).with_name("submission.schema.json")
MAX_SUBMISSION_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Submission:
    """What submission.json claims. `error` is set when the file could not be read as a JSON object."""

    path: Path | None
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    schema_errors: tuple[str, ...] = ()
    seed_claims: dict[int, dict[str, float]] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None
    text: str = ""

    def line_of(self, key: str) -> tuple[int, str]:
        """1-based line and text where `"key"` first appears (1 and "" when it does not)."""
        for i, line in enumerate(self.text.splitlines(), 1):
            if f'"{key}"' in line:
                return i, line.strip()
        return 1, ""

    def number(self, key: str) -> float | None:
        """A finite number under `key`, or None (strings and booleans are not numbers here)."""
        return as_number(self.data.get(key))

    @property
    def val_bpb(self) -> float | None:
        return self.number("val_bpb")

    @property
    def val_loss(self) -> float | None:
        return self.number("val_loss")


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_errors(data: Any) -> tuple[str, ...]:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors[:10]:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        top_any_of = err.validator == "anyOf" and not err.absolute_path
        message = "'author' or 'name' is required" if top_any_of else err.message
        out.append(f"{where}: {message[:200]}")
    out += [f"{where}: {value} is not a JSON number (Python's json reads NaN and Infinity; JSON has neither)"
            for where, value in _non_finite(data)][:10]
    return tuple(out)


def _non_finite(data: Any, path: str = "") -> list[tuple[str, float]]:
    """(key path, value) of every NaN or infinity (the schema's `number` type lets them through)."""
    if isinstance(data, float) and not math.isfinite(data):
        return [(path or "(top level)", data)]
    if isinstance(data, dict):
        return [hit for k, v in data.items() for hit in _non_finite(v, f"{path}/{k}" if path else str(k))]
    if isinstance(data, list):
        return [hit for i, v in enumerate(data) for hit in _non_finite(v, f"{path}/{i}" if path else str(i))]
    return []


def _seed_key(key: Any) -> int | None:
    text = str(key).strip()
    return int(text) if text.isdigit() else None


def _claims(data: dict[str, Any]) -> tuple[dict[int, dict[str, float]], tuple[int, ...] | None]:
    claims: dict[int, dict[str, float]] = {}
    maps = [data.get("seed_results"), data.get("seeds") if isinstance(data.get("seeds"), dict) else None]
    for table in maps:
        if not isinstance(table, dict):
            continue
        for key, row in table.items():
            seed = _seed_key(key)
            if seed is None or not isinstance(row, dict):
                continue
            nums = {k: v for k, v in ((k, as_number(v)) for k, v in row.items()) if v is not None}
            claims.setdefault(seed, {}).update(nums)
    listed = data.get("seeds")
    seeds: tuple[int, ...] | None = None
    if isinstance(listed, list):
        seeds = tuple(s for s in (_seed_key(x) for x in listed if not isinstance(x, bool)) if s is not None)
        scores = data.get("seed_scores")
        if isinstance(scores, list) and len(scores) == len(seeds):
            for seed, score in zip(seeds, scores, strict=True):
                if as_number(score) is not None:
                    claims.setdefault(seed, {}).setdefault("val_bpb", float(score))
    elif isinstance(listed, dict) or claims:
        seeds = tuple(claims)
    single = _seed_key(data.get("seed")) if not isinstance(data.get("seed"), bool) else None
    if single is not None and not claims:
        seeds = (single,)
        if as_number(data.get("val_bpb")) is not None:
            claims[single] = {"val_bpb": float(data["val_bpb"])}
    return claims, seeds


def load_submission(path: Path | None) -> Submission:
    """Read and validate; never raises for bad content (the problem is in `error`/`schema_errors`)."""
    if path is None:
        return Submission(None, error="no submission.json")
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            return Submission(path, error=f"larger than {MAX_SUBMISSION_BYTES:,} bytes; not read")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Submission(path, error=f"unreadable ({type(exc).__name__})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Submission(path, error=f"not valid JSON (line {exc.lineno}: {exc.msg})")
    except RecursionError:
        return Submission(path, error="not valid JSON (nested too deeply)")
    if not isinstance(data, dict):
        return Submission(path, error=f"a JSON {type(data).__name__}, not an object")
    claims, seeds = _claims(data)
    return Submission(path, data=data, schema_errors=_schema_errors(data), seed_claims=claims, seeds=seeds,
                      text=text)
