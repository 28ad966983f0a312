"""Frozen, validated parameter records.

Every model object (neurons, synapses, inputs, connectivity rules, distributions,
plasticity rules) is a frozen dataclass made with :func:`params`.  Construction checks
every field at once and raises :class:`~snnsim.errors.ParameterError` naming the class,
the field, the value received and what is allowed; an unknown keyword suggests the
closest valid name.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from typing import Any, Callable

import numpy as np

from .errors import ParameterError

__all__ = ["params", "param", "Params"]


def _fmt(value: Any, unit: str) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    text = repr(value) if not isinstance(value, float) else f"{value:.6g}"
    return f"{text} {unit}".rstrip()


def fail(owner: str, name: str, value: Any, allowed: str, unit: str = "") -> None:
    """Raise the standard ParameterError: ``Owner.name must be <allowed>, got <value>``."""
    raise ParameterError(f"{owner}.{name} must be {allowed}, got {_fmt(value, unit)}")


def _as_float(owner: str, name: str, value: Any, unit: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(owner, name, value, f"a number{' in ' + unit if unit else ''}", unit)
    return float(value)


# --- field checks: (owner, name, value, unit) -> normalised value -------------------------

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


def probability(owner: str, name: str, value: Any, unit: str) -> float:
    x = _as_float(owner, name, value, unit)
    if not (0.0 <= x <= 1.0):
        fail(owner, name, x, "a probability in [0, 1]", unit)
    return x


def count(owner: str, name: str, value: Any, unit: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        fail(owner, name, value, "an integer >= 1", unit)
    return int(value)


def nonneg_int(owner: str, name: str, value: Any, unit: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        fail(owner, name, value, "an integer >= 0", unit)
    return int(value)


def boolean(owner: str, name: str, value: Any, unit: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        fail(owner, name, value, "True or False", unit)
    return bool(value)


def choice(*options: str) -> Callable[[str, str, Any, str], str]:
    """A check accepting exactly one of ``options`` (strings)."""

    def check(owner: str, name: str, value: Any, unit: str) -> str:
        if value not in options:
            hint = difflib.get_close_matches(str(value), options, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ParameterError(
                f"{owner}.{name} must be one of {', '.join(map(repr, options))}, got {value!r}{extra}")
        return value

    return check


def optional(check: Callable) -> Callable:
    """Allow ``None`` in addition to what ``check`` accepts."""

    def wrapped(owner: str, name: str, value: Any, unit: str):
        return None if value is None else check(owner, name, value, unit)

    return wrapped


def scalar_or_array(check: Callable) -> Callable:
    """Accept a scalar (checked by ``check``) or a 1-D array whose every element passes."""

    def wrapped(owner: str, name: str, value: Any, unit: str):
        if np.ndim(value) == 0:
            return check(owner, name, value.item() if isinstance(value, np.generic) else value, unit)
        arr = np.array(value, dtype=float)
        if arr.ndim != 1:
            fail(owner, name, arr, "a scalar or a 1-D array", unit)
        for x in arr:
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
