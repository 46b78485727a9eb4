"""AUDIT-002: calls, imports and code chosen at run time, which a static audit cannot follow.

What it does
    Reads the submission's syntax trees for dynamic dispatch the data flow does not resolve:
    `getattr(obj, name)(...)` with a computed name (or on a module namespace, or naming an update
    method such as `step`), `operator.methodcaller(...)`; `importlib.import_module(name)` and
    `__import__(name)` with a computed name, modules loaded from a file path (`spec_from_file_location`,
    `SourceFileLoader`, `imp.load_source`); calls through `globals()[...]`, `locals()[...]`,
    `vars()[...]` or `__dict__[...]`, and through a dict or list of the submission's own functions
    (`PHASES[name](...)`); `exec`/`eval` reached through an alias or `builtins`, code objects
    built at run time (`marshal.loads`, `types.FunctionType`), and `exec(open(path).read())` or
    `runpy.run_path(path)` of a file the audit did not load, and `exec(code, namespace)` with a namespace
    built at run time (the code's names are bound there). Undecodable `exec` payloads are AUDIT-001.

Why is this bad?
    Every other check follows calls by name. The data flow reads a call whose target folds to a
    constant under the effective environment as the plain call it spells (`getattr(opt, "st" + "ep")()`
    as `opt.step()`, `auditor/facts/dispatch.py`), but a name computed at run time steps an optimizer
    that no check sees, and a function called only through `globals()[name]` looks like dead code. Such
    code cannot be cleared statically; a reviewer must read it, so the construct is reported even when
    the flow resolved it.

Example
    update = getattr(opt, cfg.update_method)     # "step"
    update()
    globals()["adapt_" + mode](model, val_tokens)

Use instead
    Call methods and functions by name (`opt.step()`, `adapt_full(model, val_tokens)`), and import
    modules with `import` statements.

References
    pgolf-audit policy: a static audit states what it could not analyze instead of passing it.
"""
from __future__ import annotations

import ast

from reports.model import Evidence

from ..syntax import walk
from ..unwrap import dotted_name, file_read_path, import_aliases
from . import Check, Detection

# Methods the data flow recognizes by name: reaching one through getattr hides an update.
UPDATE_METHODS = frozenset({"step", "backward", "zero_grad", "add_", "sub_", "copy_", "mul_", "addcmul_", "addcdiv_",
                            "lerp_", "index_add_", "scatter_add_", "load_state_dict", "requires_grad_"})
_NAMESPACES = ("globals", "locals", "vars")
_FILE_LOADERS = ("importlib.util.spec_from_file_location", "importlib.machinery.SourceFileLoader",
                 "importlib.machinery.SourcelessFileLoader", "imp.load_source", "imp.load_compiled",
                 "importlib.util.spec_from_loader", "zipimport.zipimporter")
_CODE_BUILDERS = ("marshal.loads", "types.FunctionType", "types.CodeType", "types.LambdaType")
_MAX_PER_UNIT = 20


class DynamicCode(Check):
    TECHNIQUE = ""
    RULES = ("AUDIT-002",)
    SOURCE_ONLY = True

    def detect(self, facts) -> list[Detection]:
        sub = facts.submission
        loaded_sites = {u.run_at for u in sub.units if u.run_at is not None}
        loaded_files = {u.file for u in sub.units}
        functions = {n.name for u in sub.units for n in walk(u.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        out: list[Detection] = []
        for index, unit in enumerate(sub.units):
            found = _Finder(unit.tree, index, loaded_sites, loaded_files, functions).run()
            for line, message in found[:_MAX_PER_UNIT]:
                ev = unit.evidence(line)
                out.append(Detection(self.RULES[0], True, None, f"{ev.file}:{ev.line}: {message}", (ev,), 0.8))
            if len(found) > _MAX_PER_UNIT:
                rest = len(found) - _MAX_PER_UNIT
                out.append(Detection(self.RULES[0], True, None, f"{unit.label}: {rest} more dynamic call sites not listed",
                                     (Evidence(unit.file, unit.decoded_at or 1, ""),), 0.8))
        return out


class _Finder:
    """The dynamic constructs of one unit, as (line, message), in source order."""

    def __init__(self, tree: ast.Module, index: int, loaded_sites: set[tuple[int, int]], loaded_files: set[str],
                 functions: set[str]):
        self.tree = tree
        self.index = index
        self.loaded_sites = loaded_sites
        self.loaded_files = loaded_files
        self.functions = functions  # names of functions the submission defines
        self.tables = {t.id for n in walk(tree) if isinstance(n, ast.Assign) and self.holds_functions(n.value)
                       for t in n.targets if isinstance(t, ast.Name)}
        self.aliases = import_aliases(tree)
        self.constants: dict[str, ast.expr] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.constants[stmt.targets[0].id] = stmt.value
        self.called: set[str] = {n.func.id for n in walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        self.found: dict[tuple[int, str], None] = {}

    def run(self) -> list[tuple[int, str]]:
        for node in walk(self.tree):
            if isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Assign):
                self.assign(node)
        return sorted(self.found)

    def add(self, node: ast.AST, message: str) -> None:
        self.found.setdefault((getattr(node, "lineno", 1), message), None)

    def qual(self, node: ast.AST) -> str:
        return dotted_name(node, self.aliases) or ""

    # -- calls ----------------------------------------------------------------------------------
    def call(self, node: ast.Call) -> None:
        func = node.func
        qual = self.qual(func)
        if isinstance(func, ast.Call):  # getattr(o, n)(...), methodcaller(n)(o), globals().get(n)(...)
            self.called_getattr(func)
        elif isinstance(func, ast.Subscript):  # globals()[n](...), vars(m)[n](...), m.__dict__[n](...)
            space = self.namespace(func.value) or self.table(func.value)
            if space:
                self.add(node, f"calls a function looked up in {space} by {self.describe(func.slice)}; the audit cannot tell which")
        if qual in ("importlib.import_module", "__import__", "builtins.__import__", "importlib.__import__") and node.args:
            name = node.args[0]
            if not _is_str(name):
                folded = self.fold(name, 0)
                if isinstance(folded, str):  # read as that module; the obfuscation itself is worth a look
                    self.add(node, f"imports a module by a name built from pieces, {self.describe(name)}")
                else:
                    self.add(node, f"imports a module whose name is computed, {self.describe(name)}; the audit cannot follow it")
        elif qual in _FILE_LOADERS:
            self.add(node, f"`{qual}` loads code from a file path at run time; the audit does not follow it")
        elif qual in _CODE_BUILDERS:
            self.add(node, f"`{qual}` builds a code object at run time; the audit cannot read it")
        elif qual in ("builtins.exec", "builtins.eval", "__builtins__.exec", "__builtins__.eval"):
            self.add(node, f"`{qual}` runs code through the builtins module; the audit does not decode it")
        elif qual == "operator.methodcaller" and node.args:
            self.add(node, f"`operator.methodcaller` calls a method chosen by name at run time, {self.describe(node.args[0])}")
        if isinstance(func, ast.Name) and func.id in ("exec", "eval") and node.args:
            path = file_read_path(node.args[0])
            if path is not None and not self.loaded(node, path):
                self.add(node, "runs code read from a file the audit did not load (outside the folder, or a computed path)")
            scope = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg in ("globals", "locals")), None)
            if scope is not None and not self.module_scope(scope) and (self.index, node.lineno) in self.loaded_sites:
                # decoded and audited, but its names are bound in the namespace (undecoded code is AUDIT-001)
                self.add(node, f"`{func.id}` runs code in a namespace built at run time ({_text(scope)}); the names that code "
                               "uses are bound there, out of the audit's sight")
        if qual in ("runpy.run_path", "runpy.run_module") and node.args and not self.loaded(node, node.args[0]):
            self.add(node, f"`{qual}` runs a file the audit did not load (outside the folder, or a computed path)")

    def called_getattr(self, inner: ast.Call) -> None:
        qual = self.qual(inner.func)
        if qual in ("getattr", "builtins.getattr") and len(inner.args) >= 2:
            self.getattr_site(inner, inner, called=True)
        elif isinstance(inner.func, ast.Attribute) and inner.func.attr in ("get", "__getitem__", "pop"):
            space = self.namespace(inner.func.value) or self.table(inner.func.value)
            if space and inner.args:
                self.add(inner, f"calls a function looked up in {space} by {self.describe(inner.args[0])}; the audit cannot tell which")
        elif isinstance(inner.func, ast.Attribute) and inner.func.attr == "__getattribute__" and inner.args:
            self.add(inner, f"calls a method looked up with __getattribute__, by {self.describe(inner.args[0])}; the audit cannot follow it")

    def getattr_site(self, site: ast.AST, call: ast.Call, called: bool) -> None:
        obj, name = call.args[0], call.args[1]
        space = self.namespace(obj)
        if not _is_str(name):
            what = "calls" if called else "binds, then calls,"
            self.add(site, f"{what} an attribute whose name is computed at run time, {self.describe(name)}; "
                           "the audit cannot tell which method runs")
        elif space:
            self.add(site, f"calls `{name.value}` looked up with getattr on {space}; the audit cannot follow it")  # type: ignore[union-attr]
        elif name.value in UPDATE_METHODS:  # type: ignore[union-attr]
            self.add(site, f"calls `.{name.value}()` through getattr; the audit does not see it as an update")  # type: ignore[union-attr]

    # -- assignments: `f = getattr(o, n)` later called; `run = exec` ----------------------------------
    def assign(self, node: ast.Assign) -> None:
        value = node.value
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(value, ast.Call) and self.qual(value.func) in ("getattr", "builtins.getattr") and len(value.args) >= 2:
            if any(n in self.called for n in names):
                self.getattr_site(node, value, called=False)
        elif any(n in self.called for n in names) and (isinstance(value, ast.Subscript) or (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in ("get", "__getitem__", "pop"))):
            holder = value.value if isinstance(value, ast.Subscript) else value.func.value  # type: ignore[union-attr]
            space = self.namespace(holder) or self.table(holder)
            if space:
                self.add(node, f"binds, then calls, a function looked up in {space}; the audit cannot tell which")
        elif isinstance(value, ast.Name) and value.id in ("exec", "eval", "compile", "__import__", "getattr"):
            self.add(node, f"`{value.id}` is called through another name ({', '.join(names) or 'a container'}); "
                           "the audit does not follow it")
        elif isinstance(value, ast.Attribute) and self.qual(value) in ("builtins.exec", "builtins.eval", "__builtins__.exec"):
            self.add(node, f"`{self.qual(value)}` is called through another name; the audit does not follow it")

    # -- helpers --------------------------------------------------------------------------------
    def loaded(self, node: ast.Call, path: ast.AST) -> bool:
        """Whether the loader followed the file this exec/runpy call runs (here, or from another site)."""
        if (self.index, node.lineno) in self.loaded_sites:
            return True
        literal = path.args[-1] if isinstance(path, ast.Call) and path.args else path
        value = self.fold(literal, 0)
        return isinstance(value, str) and value.rsplit("/", 1)[-1] in self.loaded_files

    @staticmethod
    def module_scope(node: ast.AST) -> bool:
        """`globals()`, `locals()`, `vars()` or None: the code runs with the caller's own names."""
        if isinstance(node, ast.Constant) and node.value is None:
            return True
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NAMESPACES and not node.args

    def namespace(self, node: ast.AST) -> str:
        """"globals()" etc. when `node` is a module or scope namespace, else ""."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NAMESPACES:
            return f"{node.func.id}()"
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return "an object's __dict__"
        if isinstance(node, ast.Subscript) and self.qual(node.value) == "sys.modules":
            return "sys.modules[...]"
        if isinstance(node, ast.Name) and node.id in ("builtins", "__builtins__") or self.qual(node) == "builtins":
            return "the builtins module"
        return ""

    def holds_functions(self, node: ast.AST) -> bool:
        """A dict/list/tuple/set display (or `dict(...)`) with a function of the submission among its values."""
        if isinstance(node, ast.Dict):
            values: list[ast.AST] = list(node.values)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values = list(node.elts)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            values = [k.value for k in node.keywords]
        else:
            return False
        return any(isinstance(v, ast.Name) and v.id in self.functions for v in values)

    def table(self, node: ast.AST) -> str:
        """"`NAME`" when `node` is a container of the submission's functions, else ""."""
        if isinstance(node, ast.Name) and node.id in self.tables:
            return f"`{node.id}` (a container of this submission's functions)"
        if self.holds_functions(node):
            return "a container of this submission's functions"
        return ""

    def describe(self, node: ast.AST) -> str:
        """"`expr`", with the value a constant expression folds to (`"st" + "ep"` = 'step')."""
        if _is_str(node):
            return repr(node.value)  # type: ignore[attr-defined]
        folded = self.fold(node, 0)
        text = _text(node)
        return f"`{text}` = {folded!r}" if isinstance(folded, str) else f"`{text}`"

    def fold(self, node: ast.AST, depth: int) -> object:
        """String constant folding: literals, `+`, f-strings of constants, `"".join([...])`, module constants."""
        if depth > 20:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.fold(self.constants[node.id], depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.fold(node.left, depth + 1), self.fold(node.right, depth + 1)
            return left + right if isinstance(left, str) and isinstance(right, str) and len(left) + len(right) < 200 else None
        if isinstance(node, ast.JoinedStr):
            parts = [self.fold(v.value if isinstance(v, ast.FormattedValue) else v, depth + 1) for v in node.values]
            return "".join(parts) if all(isinstance(p, str) for p in parts) else None  # type: ignore[arg-type]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
                and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
            sep = self.fold(node.func.value, depth + 1)
            parts = [self.fold(e, depth + 1) for e in node.args[0].elts]
            if isinstance(sep, str) and all(isinstance(p, str) for p in parts):
                return sep.join(parts)  # type: ignore[arg-type]
        return None


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _text(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - unparse of odd trees; the message only needs a hint
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."
