"""Old module paths of snnsim, kept importable after the layout moved them.

:data:`MOVED` is the one table of old dotted names and their new homes.  :class:`AliasFinder`
(put at the front of ``sys.meta_path`` by ``snnsim/__init__.py``) answers an import of an
old name by importing the new module and making ``sys.modules[old]`` that same object, so
``snnsim.datasets is snnsim.learning.datasets`` and a class keeps one identity whichever
path imported it.  A name below an old package (``snnsim.experiments.continual``) maps
through its longest listed prefix.  Nothing is imported until an old name is, and no
warning is given.

Examples
--------
>>> import snnsim.classifier, snnsim.learning.classifier
>>> snnsim.classifier is snnsim.learning.classifier
True
>>> resolve("snnsim.experiments.continual")
'snnsim.learning.continual'
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["MOVED", "AliasFinder", "resolve", "install"]

#: old dotted name -> new dotted name
MOVED: dict[str, str] = {
    "snnsim.datasets": "snnsim.learning.datasets",
    "snnsim.encoding": "snnsim.learning.encoding",
    "snnsim.readout": "snnsim.learning.readout",
    "snnsim.classifier": "snnsim.learning.classifier",
    "snnsim.baselines": "snnsim.learning.baselines",
    "snnsim.diehl_cook": "snnsim.learning.diehl_cook",
    "snnsim.experiments": "snnsim.learning",
    "snnsim.experiments.continual": "snnsim.learning.continual",
    "snnsim.models": "snnsim.reference_networks",
}


def resolve(name: str) -> str | None:
    """The new dotted name of an old one (``None`` if ``name`` did not move)."""
    parts = name.split(".")
    for k in range(len(parts), 1, -1):
        old = ".".join(parts[:k])
        if old in MOVED:
            return ".".join([MOVED[old], *parts[k:]])
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name as the module already imported under its new name."""

    def __init__(self, target: str):
        self.target = target
        self.spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # the import system has set __spec__ to the alias's spec: give the module its own back
        module.__spec__ = self.spec


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds the old names of :data:`MOVED` (and the names below them)."""

    def find_spec(self, fullname, path=None, target=None):
        new = resolve(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Put one :class:`AliasFinder` at the front of ``sys.meta_path`` (again: nothing)."""
    if not any(type(f).__name__ == "AliasFinder" and type(f).__module__ == __name__
               for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
