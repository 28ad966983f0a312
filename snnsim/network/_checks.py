"""Limits, argument checks and memory estimates of the network builder (the limits are
documented in the docstring of :mod:`snnsim.network`)."""

from __future__ import annotations

import math

import numpy as np

from .._params import fail
from ..connectivity import AllToAll, FixedInDegree, FixedProbability, FromArrays, OneToOne
from ..distributions import Distribution, resolve_values
from .._memory import MEMORY_FRACTION, _check_memory, _gib, available_memory  # noqa: F401
from ..errors import ParameterError


# -- limits (documented in the package docstring) --------------------------------------------
DT_MIN, DT_MAX = 1e-7, 1.0          # s
MAX_STEPS = 2 ** 53                 # int64 step counters; step * dt stays exact
MAX_REF_STEPS = 2 ** 30             # int32 refractory counter, with margin
MAX_DELAY_STEPS = 2 ** 30           # int32 delay per synapse, with margin
MAX_NEURONS = 2 ** 31 - 1           # int32 local indices of synapses
MAX_VALUE = 1e6                     # |weight|, |state value|, |R_m i_bias|
DELAY_ROUNDING_WARN = 0.1           # warn when rounding changes a scalar delay by more
_NEURON_BYTES = 128                 # per neuron: initial values, plan state, ring of 3
_SYNAPSE_BYTES = 100                # per synapse while connect() builds it


def _check_time(owner: str, name: str, value, allow_zero: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                   np.floating)):
        fail(owner, name, value, "a number of seconds", "s")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        fail(owner, name, x, ">= 0 s and finite" if allow_zero else "> 0 s and finite", "s")
    return x


def _num(x: float) -> str:
    """A number for messages: six significant digits, exponents without '+' or leading 0."""
    text = f"{x:.6g}"
    return text.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _steps(what: str, seconds: float, dt: float, limit: int) -> int:
    """``round(seconds / dt)`` after checking that it is at most ``limit`` steps (``what``:
    the quantity, for the message)."""
    x = seconds / dt
    if not x <= limit:  # also inf and nan
        raise ParameterError(f"{what} must be at most {limit} steps = {_num(limit * dt)} s at "
                             f"dt = {_num(dt)} s, got {_num(seconds)} s ({_num(x)} steps)")
    return int(round(x))


def _check_name(kind: str, name) -> str:
    """A population or projection name: a non-empty str, no NUL, encodable as UTF-8."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ParameterError(f"{kind} name must be a non-empty string without NUL characters, "
                             f"got {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ParameterError(f"{kind} name must be encodable as UTF-8 (it is stored in HDF5 "
                             f"files), got {name!r}") from None
    return name


def _numeric(what: str, value):
    """``value`` (scalar, sequence or array) as an array of int or float, else ParameterError."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ParameterError(f"{what} must be a number, an array of numbers or a distribution, "
                             f"got {value!r}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what} must be a number, an array of numbers or a distribution, "
                             f"got {type(value).__name__} ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise ParameterError(f"{what} must be real numbers (int or float), got an array of dtype "
                             f"{arr.dtype}")
    return arr


def _values(what: str, value, size: int, rng) -> np.ndarray:
    """Like :func:`resolve_values`, refusing strings, booleans, objects and complex numbers."""
    if not isinstance(value, Distribution):
        value = _numeric(what, value)
    return resolve_values(what, value, size, rng)


def _bounded(what: str, arr: np.ndarray, unit: str, nonneg: bool = False) -> None:
    """Refuse values of magnitude above MAX_VALUE (and negative ones where ``nonneg``)."""
    if arr.size == 0:
        return
    u = f" {unit}" if unit else ""
    if nonneg and arr.min() < 0:
        raise ParameterError(f"{what} must be >= 0, got {_num(arr.min())}{u}")
    big = np.abs(arr) > MAX_VALUE
    if big.any():
        i = int(np.argmax(big))
        raise ParameterError(f"{what} must be at most {_num(MAX_VALUE)}{u} in magnitude, got "
                             f"{_num(arr[i])}{u} (element {i})")


def _expected_synapses(rule, n_pre: int, n_post: int) -> float | None:
    """Synapses a built-in rule will make (its mean for random rules), or None if unknown."""
    if isinstance(rule, AllToAll):
        return float(n_pre) * n_post
    if isinstance(rule, FixedProbability):
        return float(n_pre) * n_post * rule.p
    if isinstance(rule, OneToOne):
        return float(n_pre)
    if isinstance(rule, FixedInDegree):
        return float(rule.k) * n_post
    if isinstance(rule, FromArrays):
        return float(rule.pre.size)
    return None
