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
from dataclasses import dataclass
from typing import Any, Callable

MAX_DECODED_BYTES = 64 * 1024 * 1024  # per payload, after every decompression step
MAX_DEPTH = 6  # nested exec(decompress(...)) inside decoded code

_MISSING = object()


class PayloadError(Exception):
    """A payload that looks like encoded code but could not be decoded (the message says why)."""


def _limited(data: bytes, what: str) -> bytes:
    if len(data) > MAX_DECODED_BYTES:
        raise PayloadError(f"{what} output exceeds {MAX_DECODED_BYTES // (1024 * 1024)} MiB (decompression bomb?)")
    return data


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
    return data.decode(encoding) if isinstance(data, (bytes, bytearray)) else data


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


@dataclass(frozen=True)
class Payload:
    """One `exec`/`eval` call site and what it decoded to (`code`), or why it could not (`error`)."""

    line: int
    code: str | None
    error: str | None
    chain: tuple[str, ...]  # decoders applied, outermost last ("base64.b85decode", "lzma.decompress")


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of a parsed tree, walked once and kept on the tree (parsed trees are never mutated)."""
    cached = getattr(tree, "_pgolf_nodes", None)
    if cached is None:
        cached = list(ast.walk(tree))
        tree._pgolf_nodes = cached  # type: ignore[attr-defined]
    return cached


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> qualified name for every import in the module (`import lzma as L` -> L: lzma)."""
    cached = getattr(tree, "_pgolf_aliases", None)
    if cached is not None:
        return cached
    aliases: dict[str, str] = {}
    for node in all_nodes(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    tree._pgolf_aliases = aliases  # type: ignore[attr-defined]  # parsed trees are never mutated
    return aliases


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

    def __init__(self, tree: ast.Module, aliases: dict[str, str]):
        self.aliases = aliases
        self.constants: dict[str, ast.expr] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.constants[stmt.targets[0].id] = stmt.value
        self.chain: list[str] = []

    def eval(self, node: ast.expr, depth: int = 0) -> Any:
        if depth > 50:
            raise PayloadError("expression nested too deeply")
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.eval(self.constants[node.id], depth + 1)
            return _MISSING
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.eval(node.left, depth + 1), self.eval(node.right, depth + 1)
            if isinstance(left, (str, bytes)) and type(left) is type(right):
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
            try:
                return getattr(target, func.attr)(*args)
            except (AttributeError, UnicodeError, LookupError, TypeError) as exc:
                raise PayloadError(f".{func.attr}() failed: {exc}") from None
        name = dotted_name(func, self.aliases)
        if name is None and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            inner = dotted_name(func.value.func, self.aliases)  # zstandard.ZstdDecompressor().decompress(x)
            name = f"{inner}.{func.attr}" if inner else None
        if name in ("str", "bytes") and len(node.args) >= 1:
            value = self.eval(node.args[0], depth + 1)
            if isinstance(value, (bytes, bytearray)) and name == "str":
                return value.decode("utf-8", errors="strict")
            return value
        if name == "compile" and node.args:
            return self.eval(node.args[0], depth + 1)
        if name not in DECODERS:
            return _MISSING
        args = [self.eval(a, depth + 1) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, depth + 1) for k in node.keywords if k.arg}
        if any(a is _MISSING for a in args) or any(v is _MISSING for v in kwargs.values()):
            return _MISSING
        try:
            result = DECODERS[name](*args, **kwargs)
        except PayloadError:
            raise
        except Exception as exc:  # a decoder rejecting its input: corrupt or truncated payload
            raise PayloadError(f"{name} failed: {type(exc).__name__}: {exc}") from None
        self.chain.append(name)
        return result


def _is_module_attr(func: ast.Attribute, aliases: dict[str, str]) -> bool:
    return isinstance(func.value, ast.Name) and func.value.id in aliases


def find_payloads(tree: ast.Module) -> list[Payload]:
    """Every `exec(...)`/`eval(...)` in the module whose argument is not plain dynamic code.

    A payload built only from literals and whitelisted decoders is decoded; one that mixes in
    anything else is reported with an error so the caller can raise a REVIEW finding.
    """
    aliases = import_aliases(tree)
    payloads: list[Payload] = []
    for node in all_nodes(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval")):
            continue
        if not node.args or _is_file_read(node.args[0]):
            continue
        evaluator = _Evaluator(tree, aliases)
        try:
            value = evaluator.eval(node.args[0])
        except PayloadError as exc:
            payloads.append(Payload(node.lineno, None, str(exc), tuple(evaluator.chain)))
            continue
        if value is _MISSING:
            payloads.append(Payload(node.lineno, None, "the executed code is built at run time and cannot be decoded statically", ()))
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
        payloads.append(Payload(node.lineno, value, None, tuple(evaluator.chain)))
    return payloads


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
