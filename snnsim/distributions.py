"""Distributions for weights, delays and initial state, drawn from the network's generator."""

from __future__ import annotations

import numpy as np

from ._params import Params, finite, nonnegative, optional, param, params
from .errors import ParameterError

__all__ = ["Distribution", "Constant", "Uniform", "Normal", "resolve_values"]


class Distribution(Params):
    """Base class: ``sample(rng, size)`` returns a float array of shape ``(size,)``."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError


@params
class Constant(Distribution):
    """Every value equal to ``value``.

    Examples
    --------
    >>> import numpy as np
    >>> Constant(2.0).sample(np.random.default_rng(0), 3)
    array([2., 2., 2.])
    """

    value: float = param(check=finite)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)


@params
class Uniform(Distribution):
    """Uniform on ``[low, high)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = Uniform(0.0, 0.3).sample(np.random.default_rng(0), 1000)
    >>> bool(x.min() >= 0 and x.max() < 0.3)
    True
    """

    low: float = param(check=finite)
    high: float = param(check=finite)

    def _validate(self) -> None:
        if self.high < self.low:
            raise ParameterError(f"Uniform.high must be >= low = {self.low:.6g}, got {self.high:.6g}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


@params
class Normal(Distribution):
    """Normal ``N(mean, std**2)``, clipped (not redrawn) to ``[low, high]`` when given.

    Examples
    --------
    >>> import numpy as np
    >>> x = Normal(20.0, 12.0, low=0.0).sample(np.random.default_rng(0), 1000)
    >>> bool(x.min() >= 0.0)
    True
    """

    mean: float = param(check=finite)
    std: float = param(check=nonnegative)
    low: float | None = param(None, check=optional(finite))
    high: float | None = param(None, check=optional(finite))

    def _validate(self) -> None:
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ParameterError(f"Normal.high must be >= low = {self.low:.6g}, got {self.high:.6g}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        x = rng.normal(self.mean, self.std, size)
        if self.low is not None or self.high is not None:
            x = np.clip(x, self.low, self.high)
        return x


def resolve_values(what: str, value, size: int, rng: np.random.Generator) -> np.ndarray:
    """Turn a scalar, an array of length ``size`` or a Distribution into a float array (size,)."""
    if isinstance(value, Distribution):
        return value.sample(rng, size).astype(float)
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise ParameterError(f"{what} must be a number, an array or a distribution, got {value!r}")
    arr = np.asarray(value, dtype=float) if not isinstance(value, str) else None
    if arr is None:
        raise ParameterError(f"{what} must be a number, an array or a distribution, got {value!r}")
    if arr.ndim == 0:
        out = np.full(size, float(arr))
    elif arr.shape == (size,):
        out = arr.astype(float, copy=True)
    else:
        raise ParameterError(f"{what} must be a scalar or have length {size}, got shape {arr.shape}")
    if not np.all(np.isfinite(out)):
        raise ParameterError(f"{what} must be finite, got {out[~np.isfinite(out)][0]!r}")
    return out
