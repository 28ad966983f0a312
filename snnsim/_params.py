"""Frozen, validated parameter records.

Every model object (neurons, synapses, inputs, connectivity rules, distributions,
plasticity rules) is a frozen dataclass made with :func:`params`.  Construction checks
every field at once and raises :class:`~snnsim.errors.ParameterError` naming the class,
the field, the value received and what is allowed; an unknown keyword suggests the
closest valid name.

Bounds
------
A number is an ``int`` or ``float`` (or a NumPy integer or floating scalar, or a 0-d array
of one); ``bool``, ``str``, ``None``, complex numbers and integers too large for a float are
not.  Besides its sign, every float field has a magnitude bound far outside any physical
use, chosen so that nothing derived from it later (propagators, step counts, weight
updates, the membrane potential) can overflow or become NaN:

============================  =====================  ==========================================
quantity                      bound                  why
============================  =====================  ==========================================
time constants ``tau_*``      [1e-12, 1e6] s         ``dt / tau`` and ``tau / dt`` stay finite
durations (``t_ref``, times,  [0, 1e6] s (11.6      keeps ``t / dt`` far below 2**63 steps
normalisation period)         days)
voltages (``v_*``, ``e_*``,   ``|v| <= 1e3`` V       the membrane potential stays finite
``theta_plus``)
bias ``R_m * i_bias``         ``|R_m i| <= 1e3`` V   the steady state ``v_rest + R_m i`` too
``r_m``, ``c_m``              [1e-30, 1e30] ohm, F   ``tau_m / c_m`` and ``1 / r_m`` stay finite
``i_bias``                    ``|i| <= 1e3`` A
rates                         [0, 1e9] Hz            (and at most ``1 / dt``, checked by the
                                                     network)
weights ``w_min``, ``w_max``, ``|w| <= 1e6``         weight updates and ``(w_max - w)**mu``
amplitudes ``a_*``, ``nu_*``  [0, 1e6]               stay finite
soft-bound exponent ``mu``    [0, 100], and          ``(w_max - w_min)**mu`` stays finite
                              ``(w_max - w_min)**mu
                              <= 1e100``
normalisation ``target_sum``  (0, 1e15]
distribution parameters,      ``|x| <= 1e15``        samples and sums of them stay finite
values given to the builder
counts ``n``, ``k``, indices  [1, 2**31 - 1]         engines keep local indices in int32
============================  =====================  ==========================================
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from typing import Any, Callable

import numpy as np

from .errors import ParameterError

__all__ = ["params", "param", "Params"]

# --- bounds (see the module docstring) --------------------------------------------------------
TAU_MIN = 1e-12          # s: shortest time constant
TIME_MAX = 1e6           # s: longest time constant, duration or spike time
VOLTAGE_MAX = 1e3        # V: largest |voltage| (potentials, reversal potentials, R_m * i_bias)
CURRENT_MAX = 1e3        # A: largest |i_bias|
RC_MIN, RC_MAX = 1e-30, 1e30   # ohm and F: range of r_m and c_m
RATE_MAX = 1e9           # Hz: largest firing rate
WEIGHT_MAX = 1e6         # weight units: largest |w_min|, |w_max|, learning amplitude
MU_MAX = 100.0           # largest soft-bound exponent
POW_MAX = 1e100          # largest (w_max - w_min) ** mu
VALUE_MAX = 1e15         # largest |value| of a distribution parameter or a resolved value
COUNT_MAX = 2**31 - 1    # largest population size, in-degree or neuron index + 1


def num(x: float, precise: bool = True) -> str:
    """A number as messages print it: ``1e300``, ``-0.02``, ``1e-12``, ``2147483647``.

    Six significant digits, or all of them (``precise``) where six would round the value
    (a value just beyond a bound must not print as the bound).
    """
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return str(int(x))
    x = float(x)
    text = f"{x:.6g}"
    if precise and math.isfinite(x) and float(text) != x:
        text = repr(x)
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2),
                  text)


def _fmt(value: Any, unit: str) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (float, np.floating)) or (isinstance(value, (int, np.integer))
                                                    and not isinstance(value, (bool, np.bool_))
                                                    and abs(value) < 10**16):
        return f"{num(value)} {unit}".rstrip()
    text = repr(value)  # not a number: no unit after it
    return text if len(text) <= 60 else text[:57] + "..."


def fail(owner: str, name: str, value: Any, allowed: str, unit: str = "") -> None:
    """Raise the standard ParameterError: ``Owner.name must be <allowed>, got <value>``."""
    raise ParameterError(f"{owner}.{name} must be {allowed}, got {_fmt(value, unit)}")


def is_number(value: Any) -> bool:
    """True for an int or float (or NumPy integer/floating scalar or 0-d array); not bool,
    str, None or complex."""
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def _as_float(owner: str, name: str, value: Any, unit: str) -> float:
    if not is_number(value):
        fail(owner, name, value, f"a number{' in ' + unit if unit else ''}", unit)
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        fail(owner, name, value, f"a number{' in ' + unit if unit else ''} within the float range",
             unit)


def numeric_array(owner: str, name: str, value: Any, unit: str = "", *,
                  what: str = "an array of numbers") -> np.ndarray:
    """``value`` as a NumPy array of integer or floating dtype (not bool, str, object, complex)."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        fail(owner, name, value, what, unit)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError):  # ragged lists and the like
        fail(owner, name, value, what, unit)
    if arr.dtype.kind not in "iuf":
        fail(owner, name, arr, what, unit)
    return arr


# --- field checks: (owner, name, value, unit) -> normalised value -------------------------
# Each check has a vectorised twin ``check.ok(arr) -> bool array`` where an array version is
# useful (see scalar_or_array), and the bounded ones carry ``lo``, ``hi`` and ``lo_open``.

def finite(owner: str, name: str, value: Any, unit: str) -> float:
    x = _as_float(owner, name, value, unit)
    if not math.isfinite(x):
        fail(owner, name, x, "finite", unit)
    return x


def positive(owner: str, name: str, value: Any, unit: str) -> float:
    x = _as_float(owner, name, value, unit)
    if not (math.isfinite(x) and x > 0):
        fail(owner, name, x, f"> 0 {unit}".rstrip() + " and finite", unit)
    return x


def nonnegative(owner: str, name: str, value: Any, unit: str) -> float:
    x = _as_float(owner, name, value, unit)
    if not (math.isfinite(x) and x >= 0):
        fail(owner, name, x, f">= 0 {unit}".rstrip() + " and finite", unit)
    return x


finite.ok = lambda a: np.isfinite(a)
positive.ok = lambda a: np.isfinite(a) & (a > 0)
nonnegative.ok = lambda a: np.isfinite(a) & (a >= 0)


def _bounded(base: Callable, lo: float, hi: float, lo_open: bool = False) -> Callable:
    """``base`` (sign and finiteness, with its own message) and then ``lo <= x <= hi``."""
    interval = f"{'(' if lo_open else '['}{num(lo)}, {num(hi)}]"

    def check(owner: str, name: str, value: Any, unit: str) -> float:
        x = base(owner, name, value, unit)
        if not ((x > lo if lo_open else x >= lo) and x <= hi):
            fail(owner, name, x, f"in {interval} {unit}".rstrip(), unit)
        return x

    check.ok = lambda a: base.ok(a) & ((a > lo) if lo_open else (a >= lo)) & (a <= hi)
    check.lo, check.hi, check.lo_open = lo, hi, lo_open
    return check


def finite_in(limit: float) -> Callable:
    """A finite number with ``|x| <= limit``."""
    return _bounded(finite, -limit, limit)


def positive_in(hi: float, lo: float | None = None) -> Callable:
    """A number in ``(0, hi]``, or in ``[lo, hi]`` when ``lo`` (> 0) is given."""
    return _bounded(positive, 0.0, hi, lo_open=True) if lo is None else _bounded(positive, lo, hi)


def nonnegative_in(hi: float) -> Callable:
    """A number in ``[0, hi]``."""
    return _bounded(nonnegative, 0.0, hi)


time_constant = positive_in(TIME_MAX, lo=TAU_MIN)   # [1e-12, 1e6] s
duration = nonnegative_in(TIME_MAX)                  # [0, 1e6] s
voltage = finite_in(VOLTAGE_MAX)                     # [-1e3, 1e3] V
weight = finite_in(WEIGHT_MAX)                       # [-1e6, 1e6]
amplitude = nonnegative_in(WEIGHT_MAX)               # [0, 1e6]


def probability(owner: str, name: str, value: Any, unit: str) -> float:
    x = _as_float(owner, name, value, unit)
    if not (0.0 <= x <= 1.0):
        fail(owner, name, x, "a probability in [0, 1]", unit)
    return x


def _integer(value: Any) -> bool:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def count(owner: str, name: str, value: Any, unit: str) -> int:
    if not _integer(value) or value < 1:
        fail(owner, name, value, "an integer >= 1", unit)
    if value > COUNT_MAX:
        fail(owner, name, value, f"an integer in [1, {COUNT_MAX}]", unit)
    return int(value)


def nonneg_int(owner: str, name: str, value: Any, unit: str) -> int:
    if not _integer(value) or value < 0:
        fail(owner, name, value, "an integer >= 0", unit)
    return int(value)


def boolean(owner: str, name: str, value: Any, unit: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        fail(owner, name, value, "True or False", unit)
    return bool(value)


def choice(*options: str) -> Callable[[str, str, Any, str], str]:
    """A check accepting exactly one of ``options`` (strings)."""

    def check(owner: str, name: str, value: Any, unit: str) -> str:
        if not isinstance(value, str) or value not in options:
            hint = (difflib.get_close_matches(value, options, n=1)
                    if isinstance(value, str) else [])
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ParameterError(f"{owner}.{name} must be one of {', '.join(map(repr, options))}, "
                                 f"got {_fmt(value, '')}{extra}")
        return str(value)

    return check


def optional(check: Callable) -> Callable:
    """Allow ``None`` in addition to what ``check`` accepts."""

    def wrapped(owner: str, name: str, value: Any, unit: str):
        return None if value is None else check(owner, name, value, unit)

    return wrapped


def index_array(owner: str, name: str, value: Any, unit: str = "") -> np.ndarray:
    """A scalar or 1-D array of neuron indices: integers (or integral floats) in
    ``[0, 2**31 - 1)``; returned as a read-only int64 array of shape (k,)."""
    raw = numeric_array(owner, name, value, unit, what="a 1-D array of integer indices")
    if raw.ndim > 1:
        fail(owner, name, raw, "a 1-D array of integer indices", unit)
    raw = raw.reshape(-1)
    if raw.dtype.kind == "f":
        fin = np.isfinite(raw)
        bad = ~fin | (np.mod(np.where(fin, raw, 0.0), 1) != 0)
        if bad.any():
            fail(owner, name, float(raw[bad][0]), "integers (one value is not)", unit)
    bad = (raw < 0) | (raw >= COUNT_MAX)
    if bad.any():
        fail(owner, name, raw[bad][0].item(), f"in [0, {COUNT_MAX})", unit)
    arr = raw.astype(np.int64)
    arr.setflags(write=False)
    return arr


def scalar_or_array(check: Callable) -> Callable:
    """Accept a scalar (checked by ``check``) or a 1-D array whose every element passes."""

    def wrapped(owner: str, name: str, value: Any, unit: str):
        if isinstance(value, (str, bytes)) or value is None or np.isscalar(value):
            return check(owner, name, value, unit)
        arr = numeric_array(owner, name, value, unit, what="a number or a 1-D array of numbers")
        if arr.ndim == 0:
            return check(owner, name, arr[()].item(), unit)
        if arr.ndim != 1:
            fail(owner, name, arr, "a scalar or a 1-D array", unit)
        arr = arr.astype(float)
        bad = ~check.ok(arr) if hasattr(check, "ok") else np.zeros(arr.shape, bool)
        for x in (arr[bad][:1] if hasattr(check, "ok") else arr):
            check(owner, name, float(x), unit)
        arr.setflags(write=False)
        return arr

    return wrapped


# --- the record machinery ------------------------------------------------------------------

def param(default: Any = dataclasses.MISSING, *, unit: str = "", check: Callable | None = None,
          doc: str = "") -> Any:
    """Declare a parameter field with its SI unit and its check."""
    return dataclasses.field(default=default, metadata={"unit": unit, "check": check, "doc": doc})


class Params:
    """Base class of parameter records (use the :func:`params` decorator on subclasses)."""

    def _validate(self) -> None:  # cross-field checks, overridden where needed
        pass

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is not None:
                object.__setattr__(self, f.name, check(owner, f.name, getattr(self, f.name),
                                                       f.metadata.get("unit", "")))
        self._validate()

    def replace(self, **changes: Any) -> "Params":
        """A copy with some fields changed (validated like a new object)."""
        _check_names(type(self), changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Field values as a plain dict (nested records become dicts with a ``type`` key)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = ({"type": type(v).__name__, **v.to_dict()} if isinstance(v, Params) else v)
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not np.array_equal(np.asarray(a), np.asarray(b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = object.__hash__


def _check_names(cls: type, kwargs: dict[str, Any]) -> None:
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in kwargs:
        if key not in names:
            hint = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; valid names: {', '.join(names)}"
            raise ParameterError(f"unknown parameter {key!r} for {cls.__name__}{extra}")


def params(cls: type) -> type:
    """Make ``cls`` a frozen dataclass whose constructor validates and rejects unknown names."""
    cls = dataclasses.dataclass(frozen=True, eq=False, repr=True)(cls)
    init = cls.__init__
    names = [f.name for f in dataclasses.fields(cls) if f.init]

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _check_names(cls, kwargs)
        try:
            init(self, *args, **kwargs)
        except TypeError as exc:
            msg = str(exc)
            if "missing" in msg and "argument" in msg:
                missing = msg.split(": ", 1)[-1]
                raise ParameterError(f"{cls.__name__} is missing required parameter(s) {missing}"
                                     ) from None
            if "positional argument" in msg:
                raise ParameterError(f"{cls.__name__} takes at most {len(names)} parameters "
                                     f"({', '.join(names)}); {msg.split(') ', 1)[-1]}") from None
            raise

    cls.__init__ = __init__
    return cls
