"""Experiments built on the learning pipeline.

* :mod:`snnsim.experiments.continual` -- class-incremental (continual) learning: STDP with
  and without a consolidation mechanism against backprop trained sequentially and jointly
  (the ``snnsim continual`` command).

Submodules are imported on first use (``from snnsim.experiments import continual``).
"""

from __future__ import annotations

import importlib

__all__ = ["continual"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'snnsim.experiments' has no attribute {name!r}")
