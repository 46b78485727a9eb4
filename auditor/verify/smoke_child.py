"""Runs inside the sandbox (standalone: imports nothing from pgolf-audit).

usage: python -s -B smoke_child.py SCRIPT

Imports SCRIPT under a module name other than "__main__" (so `main()` does not run), with
stand-ins for CUDA-only modules that are not installed and torch.compile as the identity, then reads
the Hyperparameters and counts the model's parameters on the meta device. Prints one line
`PGOLF_SMOKE_RESULT <json>`.
"""
from __future__ import annotations

import builtins
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import json
import sys
import time
import traceback
import types

#: Modules only available with CUDA toolchains; served as permissive stand-ins when not installed.
STUBBED = ("flash_attn_interface", "flash_attn", "flash_attn_3", "triton", "kernels", "liger_kernel",
           "cutlass", "apex", "transformer_engine", "mamba_ssm", "causal_conv1d", "fla", "flashinfer",
           "xformers", "bitsandbytes", "deepspeed", "torchao")
USED: list[str] = []
HPARAM_NAMES = {
    "dim": ("model_dim", "dim", "d_model", "n_embd", "embed_dim", "hidden_size"),
    "layers": ("num_layers", "n_layer", "n_layers", "layers", "depth"),
    "heads": ("num_heads", "n_head", "n_heads"),
    "kv_heads": ("num_kv_heads", "n_kv_head", "n_kv_heads"),
    "vocab": ("vocab_size", "vocab", "n_vocab"),
    "mlp_mult": ("mlp_mult",),
}


class StandMeta(type):
    """Stand-ins are classes of this metaclass: any attribute, call or index gives another stand-in,
    they can be subclassed and used in isinstance(), and a decorator call returns the function."""

    def __getattr__(cls, item: str) -> type:
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        return stand(f"{cls.__qualname__}.{item}")

    def __getitem__(cls, item: object) -> type:
        return stand(f"{cls.__qualname__}[]")

    def __call__(cls, *args: object, **kwargs: object) -> object:
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], StandMeta):
            return args[0]
        return stand(f"{cls.__qualname__}()")

    def __repr__(cls) -> str:
        return f"<pgolf-audit stand-in {cls.__qualname__}>"


def stand(name: str) -> type:
    return StandMeta(name.rsplit(".", 1)[-1], (), {"__qualname__": name})


class StandModule(types.ModuleType):
    def __getattr__(self, item: str) -> type:
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        return stand(f"{self.__name__}.{item}")


class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: serves a stand-in only when the real module could not be found."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname.split(".")[0] not in STUBBED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        module = StandModule(spec.name)
        module.__path__ = []  # a package, so submodules resolve through this finder too
        return module

    def exec_module(self, module):  # type: ignore[no-untyped-def]
        USED.append(module.__name__)


CONFIG_PARAMS = ("h", "args", "hp", "hparams", "hyperparameters", "config", "cfg")


def _hparams(module: types.ModuleType) -> tuple[object, dict[str, object], dict[str, object]]:
    source = getattr(module, "Hyperparameters", None)
    if isinstance(source, type):
        with contextlib.suppress(Exception):  # a class whose instances fail still has its class attributes
            source = source()
    values: dict[str, object] = {}
    for name in dir(source) if source is not None else ():
        if not name.startswith("_"):
            try:
                value = getattr(source, name)
            except Exception:  # noqa: BLE001
                continue
            if isinstance(value, (int, float, str, bool)):
                values[name] = value
    picked = {}
    for key, names in HPARAM_NAMES.items():
        for n in names:
            if n in values and isinstance(values[n], (int, float)) and not isinstance(values[n], bool):
                picked[key] = values[n]
                break
    return source, values, picked


def _count_params(module: types.ModuleType, config: object, values: dict[str, object]) -> tuple[int | None, str]:
    try:
        import torch
        from torch import nn
    except Exception as exc:  # noqa: BLE001
        return None, f"torch unavailable in the sandbox ({type(exc).__name__})"
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, nn.Module) and c.__module__ == module.__name__]
    ranked = sorted(classes, key=lambda c: (c.__name__ != "GPT", not c.__name__.upper().endswith("GPT"),
                                            -len(inspect.signature(c.__init__).parameters)))
    if not ranked:
        return None, "no nn.Module class found"
    cls = ranked[0]
    kwargs = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in values:
            kwargs[p.name] = values[p.name]
        elif p.name in CONFIG_PARAMS and config is not None:
            kwargs[p.name] = config
        elif p.default is p.empty:
            return None, f"{cls.__name__}({p.name}=...) has no matching hyperparameter"
    try:
        with torch.device("meta"):
            model = cls(**kwargs)
        return sum(p.numel() for p in model.parameters()), f"{cls.__name__} on the meta device"
    except Exception as exc:  # noqa: BLE001
        return None, f"{cls.__name__} could not be built on the meta device: {type(exc).__name__}: {exc}"[:300]


def _frames(exc: BaseException, script: str) -> list[dict[str, object]]:
    frames: list[dict[str, object]] = [
        {"file": f.filename, "line": f.lineno, "function": f.name, "in_submission": f.filename == script}
        for f in traceback.extract_tb(exc.__traceback__)]
    return frames[-6:]


class NoCompile(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: when torch is imported, make torch.compile the identity, so compiling
    at import time does not pull in inductor and triton (the smoke test runs nothing compiled)."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname != "torch":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        real_exec = spec.loader.exec_module

        def exec_module(module):  # type: ignore[no-untyped-def]
            real_exec(module)

            def identity(model=None, **kwargs):  # type: ignore[no-untyped-def]
                return model if model is not None else (lambda fn: fn)

            module.compile = identity

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def main() -> None:
    script = sys.argv[1]
    if len(sys.argv) > 2:   # the parent rewrote 3.12 f-strings into calls of this name (auditor.newsyntax)
        setattr(builtins, sys.argv[2], lambda *parts: "".join(str(p) for p in parts))
    sys.meta_path.insert(0, NoCompile())
    sys.meta_path.append(StubFinder())
    sys.argv = [script]
    result: dict[str, object] = {"stubs": USED}
    start = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location("pgolf_smoke_submission", script)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["pgolf_smoke_submission"] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except BaseException as exc:  # noqa: BLE001 - everything is reported, nothing escapes
        result.update({"ok": False, "import_s": time.perf_counter() - start, "error_type": type(exc).__name__,
                       "message": str(exc)[:500], "missing": getattr(exc, "name", None),
                       "frames": _frames(exc, script),
                       "stand_in_involved": "stand-in" in str(exc) or "StandMeta" in str(exc)
                       or any(n in str(exc) for n in USED)})
        if isinstance(exc, SyntaxError):
            result["frames"] = [{"file": exc.filename, "line": exc.lineno, "function": "<module>",
                                 "in_submission": exc.filename == script}]
        print("PGOLF_SMOKE_RESULT " + json.dumps(result, default=str), flush=True)
        return
    result["ok"] = True
    result["import_s"] = time.perf_counter() - start
    config, values, picked = _hparams(module)
    result["hparams"] = picked
    result["params"], result["params_note"] = _count_params(module, config, values)
    print("PGOLF_SMOKE_RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
