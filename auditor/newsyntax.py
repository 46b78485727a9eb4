"""Read code written for a newer Python grammar than the one running the audit.

Record scripts ran on Python 3.12+, whose f-strings may reuse their own quote character
(`f"{d["key"]}"`, PEP 701); Python 3.11's `ast` rejects them. LibCST parses the newer grammar, and
this module rewrites only the f-strings into an equivalent-for-analysis call that 3.11 accepts:
`f"loss {a:.3f} at {b}"` becomes `__fstring__("loss  at ", a, b)` — the literal text is kept (log
lines are matched against it) and so is every interpolated expression (data flow goes through them).
Line numbers are preserved by keeping the f-string's newlines inside the literal.
"""
from __future__ import annotations

import re
import threading

import libcst as cst

NEWEST_GRAMMAR = "3.12"
FSTRING_STANDIN = "__fstring__"

# LibCST's native parser recurses once per nesting level and overflows its C stack (SIGSEGV: the
# whole process dies, nothing can catch it) near 2,000 nested brackets or 10,000 chained operators.
# Python rejects more than 200 nested brackets in every grammar version, and no real script chains
# thousands of operators in one statement, so such text is never handed to LibCST; what is, runs
# on a thread with a stack sized for it.
MAX_CHARS = 4 * 1024 * 1024
MAX_BRACKETS = 200
MAX_CHAIN = 2_000  # operators, brackets and nesting keywords in one logical line; `elif`s in the file
_STACK_BYTES = 64 * 1024 * 1024
_STRINGS = re.compile(r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|\#[^\n]*''')
_NESTING = re.compile(r"\\\n|\n|[(\[{]|[)\]}]|\b(?:elif|not|lambda|if|await|and|or|is|in)\b|\*\*|[-+*/%@&|^~<>.]")
_STACK_LOCK = threading.Lock()


class _FStringToCall(cst.CSTTransformer):
    def leave_FormattedString(self, original: cst.FormattedString, updated: cst.FormattedString) -> cst.BaseExpression:
        literal: list[str] = []
        values: list[cst.BaseExpression] = []
        self._collect(updated, literal, values)
        text = "".join(literal)
        newlines = cst.Module([]).code_for_node(original).count("\n")
        # keep the node's line span: a triple-quoted literal carries the same number of newlines
        body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + "\n" * newlines
        quoted = f'"""{body}"""' if newlines else f'"{body}"'
        args = [cst.Arg(cst.SimpleString(quoted))] + [cst.Arg(v) for v in values]
        return cst.Call(func=cst.Name(FSTRING_STANDIN), args=args)

    def _collect(self, node: cst.FormattedString, literal: list[str], values: list[cst.BaseExpression]) -> None:
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                literal.append(part.value)
            elif isinstance(part, cst.FormattedStringExpression):
                values.append(part.expression)
                if part.format_spec:
                    for spec in part.format_spec:
                        if isinstance(spec, cst.FormattedStringExpression):
                            values.append(spec.expression)


def too_deep(text: str) -> bool:
    """Whether `text` nests deeper than LibCST can parse without overflowing its stack (a cheap,
    conservative bound: string literals and comments are skipped, everything else counts)."""
    if len(text) > MAX_CHARS:
        return True
    depth = chain = elifs = 0
    for m in _NESTING.finditer(_STRINGS.sub('""', text)):
        token = m.group()
        if token == "\n":
            if depth == 0:
                chain = 0
            continue
        if token in "([{":
            depth += 1
            if depth > MAX_BRACKETS:
                return True
        elif token in ")]}":
            depth = max(depth - 1, 0)
        elif token == "elif":
            elifs += 1
        chain += 1
        if chain > MAX_CHAIN or elifs > MAX_CHAIN:
            return True
    return False


def downgrade(text: str) -> str | None:
    """The source with newer-grammar f-strings rewritten, or None when LibCST cannot parse it either
    (or when the text nests too deeply to hand to LibCST safely, see `too_deep`)."""
    if too_deep(text):
        return None
    out: list[str | None] = [None]

    def work() -> None:
        try:
            module = cst.parse_module(text, config=cst.PartialParserConfig(python_version=NEWEST_GRAMMAR))
            out[0] = module.visit(_FStringToCall()).code
        except (cst.ParserSyntaxError, RecursionError, ValueError, TypeError, MemoryError):
            out[0] = None

    with _STACK_LOCK:  # the stack size applies to threads started while it is set
        previous = threading.stack_size(_STACK_BYTES)
        try:
            worker = threading.Thread(target=work, name="pgolf-libcst", daemon=True)
            worker.start()
        finally:
            threading.stack_size(previous)
    worker.join()
    return out[0]
