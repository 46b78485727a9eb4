"""Read code written for a newer Python grammar than the one running the audit.

Record scripts ran on Python 3.12+, whose f-strings may reuse their own quote character
(`f"{d["key"]}"`, PEP 701); Python 3.11's `ast` rejects them. LibCST parses the newer grammar, and
this module rewrites only the f-strings into an equivalent-for-analysis call that 3.11 accepts:
`f"loss {a:.3f} at {b}"` becomes `__fstring__("loss  at ", a, b)` — the literal text is kept (log
lines are matched against it) and so is every interpolated expression (data flow goes through them).
Line numbers are preserved by keeping the f-string's newlines inside the literal.
"""
from __future__ import annotations

import libcst as cst

NEWEST_GRAMMAR = "3.12"
FSTRING_STANDIN = "__fstring__"


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


def downgrade(text: str) -> str | None:
    """The source with newer-grammar f-strings rewritten, or None when LibCST cannot parse it either."""
    try:
        module = cst.parse_module(text, config=cst.PartialParserConfig(python_version=NEWEST_GRAMMAR))
        return module.visit(_FStringToCall()).code
    except (cst.ParserSyntaxError, RecursionError, ValueError, TypeError):
        return None
