"""Generated kernel modules: model step functions copied into source files, cached on disk.

Numba's ``cache=True`` cannot cache functions made from strings or passed in as arguments,
and it does not notice a change in a function defined in another file.  The compiling
engines therefore write each kernel module they generate to a file named by the SHA-256 of
its text, ``k_<hash>.py``, in the kernel cache folder, and import it from there with Numba's
own disk cache on.  A model's step functions are copied into that text from their source
(:func:`copy_functions`), and the text records a hash of the engine's own kernel files, so
a change in any of them gives a new file name and a fresh compile, and an unchanged model
loads its compiled kernel in every later process.

The cache folder is ``$SNNSIM_CACHE_DIR/kernels``, else ``$XDG_CACHE_HOME/snnsim/kernels``
(``~/.cache/snnsim/kernels``); if it cannot be written, a folder under the system's
temporary directory is used.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import textwrap
import types
from pathlib import Path

from ..errors import UnsupportedModelError

__all__ = ["copy_functions", "load_module", "cache_dir", "file_digest"]

_BUILTINS = set(dir(builtins))


def cache_dir() -> Path:
    """The folder of generated kernel modules (created if needed)."""
    base = os.environ.get("SNNSIM_CACHE_DIR")
    if base:
        root = Path(base)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "snnsim"
    d = root / "kernels"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".probe{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return d
    except OSError:
        d = Path(tempfile.gettempdir()) / f"snnsim-kernels-{os.getuid() if hasattr(os, 'getuid') else 0}"
        d.mkdir(parents=True, exist_ok=True)
        return d


def file_digest(*paths) -> str:
    """SHA-256 over the contents of ``paths`` (the engine files a generated module uses)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            return ast.copy_location(ast.Name(id=self.names[node.id], ctx=node.ctx), node)
        return node


def _free_names(fdef: ast.FunctionDef) -> list[str]:
    """Names a function reads that are neither its arguments, its locals nor builtins."""
    args = {a.arg for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs}
    stored, loaded = set(), []
    for node in ast.walk(fdef):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            elif node.id not in loaded:
                loaded.append(node.id)
    return [n for n in loaded if n not in args and n not in stored and n not in _BUILTINS]


def _function_def(func, owner: str) -> ast.FunctionDef:
    if not isinstance(func, types.FunctionType):
        raise UnsupportedModelError(f"{owner}: step function {func!r} must be a plain Python "
                                    f"function (def ...), got {type(func).__name__}")
    try:
        src = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise UnsupportedModelError(f"{owner}: the source of step function {func.__name__!r} "
                                    f"cannot be read ({exc}); define it with def in a file or "
                                    f"a notebook cell") from None
    tree = ast.parse(src)
    fdef = tree.body[0] if tree.body else None
    if not isinstance(fdef, ast.FunctionDef) or fdef.name != func.__name__:
        raise UnsupportedModelError(f"{owner}: step function {func.__name__!r} must be defined "
                                    f"with def (a lambda cannot be compiled from its source)")
    fdef.decorator_list = []
    return fdef


def copy_functions(roots: dict[str, object], owner: str, substitute: dict | None = None,
                   prefix: str = "") -> tuple[list[str], list[str]]:
    """Source of the functions ``roots`` (new name -> function) and of what they call.

    Returns ``(header_lines, function_sources)``: imports and constants the functions need,
    and each function's source (decorators stripped, renamed, every copied function decorated
    ``@_inline``, which the generated module must define).  Names a function reads from its
    module are resolved now: modules are imported, numbers become constants, plain functions
    are copied (renamed, recursively), compiled functions (Numba dispatchers) are imported from
    their module, and any object in ``substitute`` (object -> import line binding the name
    ``{name}``) is replaced by that import (e.g. :func:`snnsim.neurons.mathfn.vexp` by the
    engine's compiled version).  Copied helpers are named ``_<prefix>u<k>_<name>``: give each
    call on one module its own ``prefix``, so that helpers of the same name from different
    models cannot replace each other.  Anything else raises
    :class:`~snnsim.errors.UnsupportedModelError` naming ``owner``, the function and the name.
    """
    substitute = substitute or {}
    header: list[str] = []
    sources: list[str] = []
    copied: dict[int, str] = {}  # id(function) -> new name
    counter = [0]

    def new_name(func) -> str:
        counter[0] += 1
        return f"_{prefix}u{counter[0]}_{func.__name__}"

    def copy(func, name: str) -> str:
        copied[id(func)] = name
        fdef = _function_def(func, owner)
        closure = inspect.getclosurevars(func)
        scope = {**closure.globals, **closure.nonlocals}
        renames: dict[str, str] = {}
        for free in _free_names(fdef):
            if free not in scope and free not in func.__globals__:
                raise UnsupportedModelError(
                    f"{owner}: step function {func.__name__!r} uses {free!r}, which is not "
                    f"defined where the function is")
            value = scope.get(free, func.__globals__.get(free))
            alias = f"_g_{name}_{free}"
            line = _binding(value, alias, substitute)
            if line is None and isinstance(value, types.FunctionType):
                renames[free] = copied.get(id(value)) or copy(value, new_name(value))
                continue
            if line is None:
                raise UnsupportedModelError(
                    f"{owner}: step function {func.__name__!r} uses {free!r} = {value!r} "
                    f"({type(value).__name__}); step functions may use numbers, modules, "
                    f"plain functions and Numba-compiled functions")
            header.append(line)
            renames[free] = alias
        fdef = _Rename(renames).visit(fdef)
        fdef.name = name
        sources.append("@_inline\n" + ast.unparse(fdef))
        return name

    for name, func in roots.items():
        copy(func, name)
    return list(dict.fromkeys(header)), sources


def _binding(value, alias: str, substitute: dict) -> str | None:
    """An import or assignment binding ``alias`` to ``value`` in generated code, or None."""
    try:
        sub = substitute.get(value)
    except TypeError:  # unhashable
        sub = None
    if sub is not None:
        return sub.format(name=alias)
    if isinstance(value, types.ModuleType):
        return f"import {value.__name__} as {alias}"
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return f"{alias} = {value!r}"
    py = getattr(value, "py_func", None)
    if py is not None and hasattr(value, "targetoptions"):  # a numba dispatcher
        mod = py.__module__
        if mod and mod != "__main__" and importlib.util.find_spec(mod.split(".")[0]) is not None:
            return f"from {mod} import {py.__name__} as {alias}"
    return None


def load_module(text: str, prefix: str = "k"):
    """Import generated source ``text`` from the kernel cache (written once, atomically)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    modname = f"snnsim_kernels_{prefix}_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    d = cache_dir()
    path = d / f"{prefix}_{digest}.py"
    if not path.exists() or path.read_text() != text:
        tmp = d / f".{prefix}_{digest}.{os.getpid()}.tmp"
        tmp.write_text(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    # registered before it runs: Numba's cache rebuilds a cached function's environment by
    # importing its module by name, in a later process too
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[modname]
        raise
    return mod
