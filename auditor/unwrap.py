"""Statically decode code hidden in `exec`/`eval` payloads, without running any of it.

Record scripts often ship as a one-line stub such as
`exec(lzma.decompress(base64.b85decode("...")).decode())` to cut counted code bytes (RULES.md SIZE-003).
This module evaluates only a whitelist of pure decoders (base64 family, lzma, zlib, bz2, gzip, brotli,
zstd, `.decode()`), with limits on nesting depth and decompressed size, so a decompression bomb or a
payload we cannot decode becomes a reported problem instead of a crash.
"""
from __future__ import annotations

import ast
import base64
import binascii
import bz2
import codecs
import io
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

from .syntax import children, walk

MAX_DECODED_BYTES = 64 * 1024 * 1024  # per payload, after every decompression step
MAX_TOTAL_DECODED_BYTES = 4 * MAX_DECODED_BYTES  # decoder output for a whole submission (`DecodeBudget`)
MAX_DEPTH = 6  # nested exec(decompress(...)) inside decoded code
# Text codecs `.decode()`/`.encode()`/`codecs.decode()` may use: linear-time ones (punycode is quadratic).
TEXT_CODECS = frozenset({"utf-8", "utf-8-sig", "ascii", "iso8859-1", "iso8859-15", "cp1252", "utf-16", "utf-16-le",
                         "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "unicode-escape", "raw-unicode-escape"})

_MISSING = object()


class PayloadError(Exception):
    """A payload that looks like encoded code but could not be decoded (the message says why)."""


def _limited(data: bytes, what: str) -> bytes:
    if len(data) > MAX_DECODED_BYTES:
        raise PayloadError(f"{what} output exceeds {MAX_DECODED_BYTES // (1024 * 1024)} MiB (decompression bomb?)")
    return data


def _text_codec(encoding: Any) -> None:
    """Refuse an encoding outside TEXT_CODECS (unknown, bytes-to-bytes, or with a slow decoder)."""
    try:
        name = codecs.lookup(encoding).name if isinstance(encoding, str) else None
    except LookupError:
        name = None
    if name not in TEXT_CODECS:
        raise PayloadError(f"encoding {encoding!r} is not one the static decoder applies")


class DecodeBudget:
    """Decoder output allowed for one submission, and the results of decoder calls already made.

    A file can name one bomb from many `exec` sites, or chain constants that double at each step; the
    budget bounds the total work and the memo makes a repeated decode free."""

    def __init__(self, limit: int = MAX_TOTAL_DECODED_BYTES):
        self.left = limit
        self.memo: dict[tuple[Any, ...], Any] = {}

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise PayloadError(f"decoding budget of {MAX_TOTAL_DECODED_BYTES // (1024 * 1024)} MiB for the submission is spent")


def _lzma(data: bytes, *args: Any, **kwargs: Any) -> bytes:
    fmt = kwargs.get("format", args[0] if args else lzma.FORMAT_AUTO)
    filters = kwargs.get("filters", args[2] if len(args) > 2 else None)
    dec = lzma.LZMADecompressor(format=fmt, filters=filters) if filters else lzma.LZMADecompressor(format=fmt)
    out = dec.decompress(data, max_length=MAX_DECODED_BYTES + 1)
    return _limited(out, "lzma")


def _zlib(data: bytes, wbits: int = zlib.MAX_WBITS, *_: Any) -> bytes:
    dec = zlib.decompressobj(wbits)
    return _limited(dec.decompress(data, MAX_DECODED_BYTES + 1), "zlib")


def _gzip(data: bytes, *_: Any) -> bytes:
    return _zlib(data, 31)


def _bz2(data: bytes, *_: Any) -> bytes:
    return _limited(bz2.BZ2Decompressor().decompress(data, max_length=MAX_DECODED_BYTES + 1), "bz2")


def _brotli(data: bytes, *_: Any) -> bytes:
    import brotli

    dec = brotli.Decompressor()
    out = dec.process(data, output_buffer_limit=MAX_DECODED_BYTES + 1)
    return _limited(out, "brotli")


def _zstd(data: bytes, *_: Any, **__: Any) -> bytes:
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
    return _limited(reader.read(MAX_DECODED_BYTES + 1), "zstd")


def _codecs_decode(data: Any, encoding: str = "utf-8", *_: Any) -> Any:
    name = encoding.lower().replace("-", "_")
    table: dict[str, Callable[[bytes], bytes]] = {
        "base64": base64.b64decode, "base64_codec": base64.b64decode, "zlib": _zlib, "zlib_codec": _zlib,
        "bz2": _bz2, "bz2_codec": _bz2, "hex": bytes.fromhex, "hex_codec": binascii.unhexlify,
    }
    if name in table:
        raw = data.encode() if isinstance(data, str) else data
        return table[name](raw)
    if name in ("rot13", "rot_13"):
        return codecs.decode(data, "rot13")
    if isinstance(data, (bytes, bytearray)):
        _text_codec(encoding)
        return data.decode(encoding)
    return data


# Qualified function name -> pure implementation. Nothing outside this table is ever called.
DECODERS: dict[str, Callable[..., Any]] = {
    "base64.b85decode": base64.b85decode,
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.a85decode": base64.a85decode,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.decodebytes": base64.decodebytes,
    "binascii.a2b_base64": binascii.a2b_base64,
    "binascii.unhexlify": binascii.unhexlify,
    "lzma.decompress": _lzma,
    "zlib.decompress": _zlib,
    "gzip.decompress": _gzip,
    "bz2.decompress": _bz2,
    "brotli.decompress": _brotli,
    "zstandard.decompress": _zstd,
    "zstd.decompress": _zstd,
    "zstandard.ZstdDecompressor.decompress": _zstd,
    "codecs.decode": _codecs_decode,
    "bytes.fromhex": bytes.fromhex,
}

SAFE_MODULE_CONSTANTS = ("lzma.", "zlib.")
_SAFE_METHODS = ("decode", "encode", "replace", "strip", "lstrip", "rstrip")  # pure methods of str/bytes


Namespace = tuple[tuple[str, ast.expr], ...]  # (name, expression at the exec call that gives its value)


@dataclass(frozen=True)
class Payload:
    """One `exec`/`eval` call site and what it decoded to (`code`), or why it could not (`error`)."""

    line: int
    code: str | None
    error: str | None
    chain: tuple[str, ...]  # decoders applied, outermost last ("base64.b85decode", "lzma.decompress")
    namespace: Namespace | None = None  # the names the code runs with, when the call gives them as dict displays


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> qualified name for every import in the module (`import lzma as L` -> L: lzma)."""
    cached = getattr(tree, "_pgolf_aliases", None)
    if cached is not None:
        return cached
    aliases: dict[str, str] = {}
    for node in walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in walk(tree):  # imports written as calls: `optim = __import__("torch.optim", fromlist=["SGD"])`
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Call):
            module = _imported_by_call(node.value, aliases)
            if module:
                aliases.setdefault(node.targets[0].id, module)
    tree._pgolf_aliases = aliases  # type: ignore[attr-defined]  # parsed trees are never mutated
    return aliases


def _imported_by_call(call: ast.Call, aliases: dict[str, str]) -> str | None:
    """The module `importlib.import_module("a.b")` (a.b) or `__import__("a.b")` (a; a.b with a fromlist)
    returns, for an absolute name written as a literal or a sum of literals; None otherwise (other
    computed names are AUDIT-002)."""
    name = _literal_sum(call.args[0]) if call.args else None
    if not name or not all(part.isidentifier() for part in name.split(".")):
        return None
    func = dotted_name(call.func, aliases)
    if func in ("importlib.import_module", "importlib.__import__"):
        return name if func.endswith("import_module") else name.split(".")[0]
    if func in ("__import__", "builtins.__import__"):
        fromlist = next((k.value for k in call.keywords if k.arg == "fromlist"), call.args[3] if len(call.args) > 3 else None)
        nonempty = isinstance(fromlist, (ast.List, ast.Tuple, ast.Set)) and bool(fromlist.elts)
        return name if nonempty else name.split(".")[0]
    return None


def _literal_sum(node: ast.AST, depth: int = 0) -> str | None:
    """`"torch." + "optim"` -> "torch.optim"; None for anything but string literals joined by `+`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and depth < 20:
        left, right = _literal_sum(node.left, depth + 1), _literal_sum(node.right, depth + 1)
        return left + right if left is not None and right is not None else None
    return None


def dotted_name(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """`L.decompress` -> "lzma.decompress" using the import aliases; None when not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


class _Evaluator:
    """Evaluates the literal-and-decoder subset of Python expressions; anything else is unresolved."""

    def __init__(self, tree: ast.Module, aliases: dict[str, str], budget: DecodeBudget | None = None):
        self.aliases = aliases
        self.constants: dict[str, ast.expr] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.constants[stmt.targets[0].id] = stmt.value
        self.chain: list[str] = []
        self.budget = budget or DecodeBudget()
        self.values: dict[str, tuple[Any, tuple[str, ...]]] = {}  # constant -> (value, decoders it applied)

    def eval(self, node: ast.expr, depth: int = 0) -> Any:
        if depth > 50:
            raise PayloadError("expression nested too deeply")
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.values:  # each module constant is evaluated once (`a2 = a1 + a1` chains)
                value, chain = self.values[node.id]
                self.chain.extend(chain)
                return value
            if node.id in self.constants:
                mark = len(self.chain)
                value = self.eval(self.constants[node.id], depth + 1)
                self.values[node.id] = (value, tuple(self.chain[mark:]))
                return value
            return _MISSING
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.eval(node.left, depth + 1), self.eval(node.right, depth + 1)
            if isinstance(left, (str, bytes)) and type(left) is type(right):
                if len(left) + len(right) > MAX_DECODED_BYTES:
                    raise PayloadError(f"concatenation exceeds {MAX_DECODED_BYTES // (1024 * 1024)} MiB")
                return left + right
            return _MISSING
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.eval(e, depth + 1) for e in node.elts]
            return _MISSING if any(i is _MISSING for i in items) else items
        if isinstance(node, ast.Dict):
            keys = [self.eval(k, depth + 1) if k is not None else _MISSING for k in node.keys]
            vals = [self.eval(v, depth + 1) for v in node.values]
            if any(x is _MISSING for x in keys + vals):
                return _MISSING
            return dict(zip(keys, vals))
        if isinstance(node, ast.Attribute):
            name = dotted_name(node, self.aliases)
            if name and name.startswith(SAFE_MODULE_CONSTANTS) and name.split(".")[-1].isupper():
                module = lzma if name.startswith("lzma.") else zlib
                return getattr(module, name.split(".")[-1], _MISSING)
            return _MISSING
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return _MISSING

    def _call(self, node: ast.Call, depth: int) -> Any:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _SAFE_METHODS and not _is_module_attr(func, self.aliases):
            target = self.eval(func.value, depth + 1)
            if target is _MISSING:
                return _MISSING
            args = [self.eval(a, depth + 1) for a in node.args]
            if any(a is _MISSING for a in args):
                return _MISSING
            if not isinstance(target, (str, bytes, bytearray)):
                return _MISSING
            if func.attr in ("decode", "encode") and args:
                _text_codec(args[0])
            if func.attr == "replace":
                _replace_fits(target, args)
            try:
                return _limited(getattr(target, func.attr)(*args), f".{func.attr}()")
            except (AttributeError, UnicodeError, LookupError, TypeError, ValueError) as exc:
                raise PayloadError(f".{func.attr}() failed: {exc}") from None
        name = dotted_name(func, self.aliases)
        if name is None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            inner = dotted_name(func.value.func, self.aliases)  # zstandard.ZstdDecompressor().decompress(x)
            name = f"{inner}.{func.attr}" if inner else None
        if name in ("str", "bytes") and len(node.args) >= 1:
            value = self.eval(node.args[0], depth + 1)
            if isinstance(value, (bytes, bytearray)) and name == "str":
                try:
                    return value.decode("utf-8", errors="strict")
                except UnicodeDecodeError as exc:
                    raise PayloadError(f"str() failed: {exc}") from None
            return value
        if name == "compile" and node.args:
            return self.eval(node.args[0], depth + 1)
        if name not in DECODERS:
            return _MISSING
        args = [self.eval(a, depth + 1) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, depth + 1) for k in node.keywords if k.arg}
        if any(a is _MISSING for a in args) or any(v is _MISSING for v in kwargs.values()):
            return _MISSING
        key = _memo_key(name, args, kwargs)
        if key is not None and key in self.budget.memo:
            result = self.budget.memo[key]
            if isinstance(result, PayloadError):
                raise result
            self.chain.append(name)
            return result
        if self.budget.left <= 0:
            raise PayloadError("decoding budget for the submission is spent; not decoded")
        try:
            result = DECODERS[name](*args, **kwargs)
        except PayloadError as exc:
            self._remember(key, exc, MAX_DECODED_BYTES)
            raise
        except Exception as exc:  # a decoder rejecting its input: corrupt or truncated payload
            error = PayloadError(f"{name} failed: {type(exc).__name__}: {exc}")
            self._remember(key, error, 0)  # many exec sites of one corrupt blob: rejected once
            raise error from None
        self._remember(key, result, len(result) if isinstance(result, (str, bytes, bytearray)) else 0)
        self.chain.append(name)
        return result

    def _remember(self, key: tuple[Any, ...] | None, result: Any, produced: int) -> None:
        if key is not None:
            self.budget.memo[key] = result
        self.budget.spend(produced)


def _memo_key(name: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """A dictionary key for a decoder call, or None when an argument is unhashable (a filter list)."""
    key = (name, tuple(args), tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _replace_fits(target: str | bytes | bytearray, args: list[Any]) -> None:
    """Refuse a `.replace()` whose result would exceed the decoded-size cap, before building it
    (`"a" * 50_000` with `.replace("", "b" * 50_000)` is 2.5 GB)."""
    if len(args) < 2 or not all(isinstance(a, (str, bytes, bytearray)) for a in args[:2]):
        return
    old, new = args[0], args[1]
    growth = max(0, len(new) - len(old))
    slots = len(target) + 1 if not old else len(target) // len(old)
    if len(target) + slots * growth > MAX_DECODED_BYTES:
        raise PayloadError(f".replace() output would exceed {MAX_DECODED_BYTES // (1024 * 1024)} MiB")


def _is_module_attr(func: ast.Attribute, aliases: dict[str, str]) -> bool:
    return isinstance(func.value, ast.Name) and func.value.id in aliases


def find_payloads(tree: ast.Module, budget: DecodeBudget | None = None) -> list[Payload]:
    """Every `exec(...)`/`eval(...)` in the module (called by that name or another, `runs_code`) whose
    argument is not plain dynamic code.

    A payload built only from literals and whitelisted decoders is decoded; one that mixes in
    anything else is reported with an error so the caller can raise a REVIEW finding. `budget` bounds
    the decoding work: pass one budget for every tree of a submission.
    """
    aliases = import_aliases(tree)
    payloads: list[Payload] = []
    evaluator = _Evaluator(tree, aliases, budget)
    for node in walk(tree):
        if not runs_code(node, tree):
            continue
        if not node.args or _is_file_read(node.args[0]):
            continue
        evaluator.chain = []
        try:
            value = evaluator.eval(node.args[0])
        except PayloadError as exc:
            payloads.append(Payload(node.lineno, None, str(exc), tuple(evaluator.chain)))
            continue
        if value is _MISSING:
            payloads.append(Payload(node.lineno, None, "the executed code is built at run time and cannot be decoded statically", ()))
            continue
        if isinstance(value, (str, bytes, bytearray)):
            try:  # every payload's code is kept as a unit: it counts, even when a decode was memoized
                evaluator.budget.spend(len(value))
            except PayloadError as exc:
                payloads.append(Payload(node.lineno, None, str(exc), tuple(evaluator.chain)))
                continue
        if isinstance(value, (bytes, bytearray)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                payloads.append(Payload(node.lineno, None, "decoded payload is not UTF-8 text", tuple(evaluator.chain)))
                continue
        if not isinstance(value, str):
            payloads.append(Payload(node.lineno, None, f"payload decodes to {type(value).__name__}, not code", tuple(evaluator.chain)))
            continue
        payloads.append(Payload(node.lineno, value, None, tuple(evaluator.chain), _literal_namespace(node)))
    return payloads


def _literal_namespace(call: ast.Call) -> Namespace | None:
    """The names `exec(code, {"model": model, ...})` runs `code` with, each with the expression its value
    comes from, when every namespace the call passes (globals, locals) is a dict display with string keys
    (a later one wins). None when the call passes none (the code sees the caller's names) or one built any
    other way (`ns`, `dict(...)`, `{**base}`: its names are not known statically)."""
    spaces = call.args[1:3] + [k.value for k in call.keywords if k.arg in ("globals", "locals")]
    names: dict[str, ast.expr] = {}
    for space in spaces:
        if not isinstance(space, ast.Dict):
            return None
        for key, value in zip(space.keys, space.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None
            names[key.value] = value
    return tuple(names.items()) if spaces else None


_RUNNERS = ("exec", "eval")
_RUNNER_QUALS = ("builtins.exec", "builtins.eval", "__builtins__.exec", "__builtins__.eval")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def runs_code(node: ast.AST, tree: ast.Module) -> bool:
    """Whether `node` (in `tree`) is a call of the builtin `exec` or `eval`: by that name, or by a name bound to it
    (`run = exec; run(src)`, see `_runner_alias_calls`)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return False
    return node.func.id in _RUNNERS or id(node) in _runner_alias_calls(tree)


def _runner_alias_calls(tree: ast.Module) -> frozenset[int]:
    """Ids of the calls `run(...)` in `tree` where `run` is another name for the builtin `exec` or `eval`.

    A name is such an alias in a scope (the module, a function, a class body) when every binding of it
    there is a plain assignment `run = exec` (or `= builtins.exec`): a parameter, an import, a loop target
    or an assignment of anything else under that name makes it no alias there. A function also sees the
    aliases of the functions and module around it, for the names it does not bind itself, as Python
    resolves names (a class body's names are not seen by its methods). One step only: `a = run` is not
    followed. Linear in the size of the tree; kept on it."""
    cached = getattr(tree, "_pgolf_runner_calls", None)
    if cached is not None:
        return cached
    aliases = import_aliases(tree)
    found: set[int] = set()
    if any(isinstance(n, ast.Assign) and _runner(n.value, aliases) for n in walk(tree)):
        pending: list[tuple[ast.AST, set[str]]] = [(tree, set())]
        while pending:
            scope, outer = pending.pop()
            own = _scope_nodes(scope)
            bound: dict[str, bool] = {}  # name bound in this scope -> whether every binding is `name = exec`
            for name, is_alias in _bindings(own, aliases):
                bound[name] = bound.get(name, True) and is_alias
            visible = {name for name in outer if name not in bound} | {name for name, is_alias in bound.items() if is_alias}
            for node in own:
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in visible:
                    found.add(id(node))
                elif isinstance(node, _SCOPES):
                    pending.append((node, outer if isinstance(scope, ast.ClassDef) else visible))
    result = frozenset(found)
    tree._pgolf_runner_calls = result  # type: ignore[attr-defined]  # parsed trees are never mutated
    return result


def _runner(value: ast.expr, aliases: dict[str, str]) -> bool:
    """`exec`, `eval`, `builtins.exec`: an expression that is the builtin that runs code."""
    if isinstance(value, ast.Name):
        return value.id in _RUNNERS
    return dotted_name(value, aliases) in _RUNNER_QUALS


def _scope_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of one scope: below `scope`, down to and including the functions, lambdas and classes
    it defines (whose insides are scopes of their own)."""
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        roots: list[ast.AST] = [scope.args, *scope.body]
    elif isinstance(scope, ast.Lambda):
        roots = [scope.args, scope.body]
    else:
        roots = list(scope.body)  # type: ignore[attr-defined]  # a module or a class body
    out: list[ast.AST] = []
    while roots:
        node = roots.pop()
        out.append(node)
        if not isinstance(node, _SCOPES):
            roots.extend(children(node))
    return out


def _bindings(nodes: list[ast.AST], aliases: dict[str, str]) -> Iterator[tuple[str, bool]]:
    """(name, whether this binding is `name = exec`) for every binding among `nodes`."""
    alias_targets = {id(n.targets[0]) for n in nodes if isinstance(n, ast.Assign) and len(n.targets) == 1
                     and isinstance(n.targets[0], ast.Name) and _runner(n.value, aliases)}
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            yield node.id, id(node) in alias_targets
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, False
        elif isinstance(node, ast.arg):
            yield node.arg, False
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                yield (a.asname or a.name.split(".")[0]), False
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                yield name, False
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            yield node.name, False
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest, False


def _is_file_read(node: ast.expr) -> bool:
    """`open(p).read()` / `Path(p).read_text()`: handled by the source loader as a followed file."""
    return file_read_path(node) is not None


def file_read_path(node: ast.expr) -> ast.expr | None:
    """The path expression of `open(P).read()`, `Path(P).read_text()` or `io.open(P).read()`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("read", "read_text"):
        inner = node.func.value
        if isinstance(inner, ast.Call) and inner.args:
            fname = inner.func.attr if isinstance(inner.func, ast.Attribute) else getattr(inner.func, "id", "")
            if fname in ("open", "Path", "PurePath"):
                return inner.args[0]
    return None
