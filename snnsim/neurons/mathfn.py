"""Elementary functions that model step functions may call, with one meaning on every engine.

Each is plain Python here (what the reference semantics and NumPy-side code use); an engine
that compiles step functions substitutes its own implementation of the same function:
the ``numba`` engine a vectorisable one (:func:`snnsim.engines._fastmath.vexp`, within
1 ulp of ``exp``), the ``cuda`` engine the device's ``exp``.  Calling ``math.exp`` in a
step function works too, but a loop calling it is not vectorised by the CPU engine.
"""

from __future__ import annotations

import math

__all__ = ["vexp"]


def vexp(x: float) -> float:
    """exp(x); compiled engines use a SIMD-friendly version accurate to 1 ulp."""
    return math.exp(min(max(x, -708.0), 709.0))
