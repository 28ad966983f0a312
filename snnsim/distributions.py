"""Distributions for weights, delays and initial state, drawn from the network's generator."""

from __future__ import annotations

import numpy as np

from ._params import VALUE_MAX, Params, finite_in, nonnegative_in, num, optional, param, params
from .errors import ParameterError

__all__ = ["Distribution", "Constant", "Uniform", "Normal", "resolve_values"]


_value = finite_in(VALUE_MAX)


class Distribution(Params):
    """Base class: ``sample(rng, size)`` returns a float array of shape ``(size,)``.

    Every parameter of the distributions here is a finite number with ``|x| <= 1e15``
    (in the unit of whatever the values are for), so that samples, their differences and
    sums stay finite.
    """

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError


@params
class Constant(Distribution):
    """Every value equal to ``value``.

    Parameters
    ----------
    value : float
        The value, ``|value| <= 1e15``.

    Examples
    --------
    >>> import numpy as np
    >>> Constant(2.0).sample(np.random.default_rng(0), 3)
    array([2., 2., 2.])
    """

    value: float = param(check=_value)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)


@params
class Uniform(Distribution):
    """Uniform on ``[low, high)``.

    Parameters
    ----------
    low, high : float
        The bounds, ``|x| <= 1e15``, ``low <= high``.

    Examples
    --------
    >>> import numpy as np
    >>> x = Uniform(0.0, 0.3).sample(np.random.default_rng(0), 1000)
    >>> bool(x.min() >= 0 and x.max() < 0.3)
    True
    """

    low: float = param(check=_value)
    high: float = param(check=_value)

    def _validate(self) -> None:
        if self.high < self.low:
            raise ParameterError(f"Uniform.high must be >= low = {num(self.low)}, got {num(self.high)}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


@params
class Normal(Distribution):
    """Normal ``N(mean, std**2)``, clipped (not redrawn) to ``[low, high]`` when given.

    Parameters
    ----------
    mean : float
        Mean, ``|mean| <= 1e15``.
    std : float
        Standard deviation, in [0, 1e15].
    low, high : float, optional
        Clipping bounds, ``|x| <= 1e15``, ``low <= high``.

    Examples
    --------
    >>> import numpy as np
    >>> x = Normal(20.0, 12.0, low=0.0).sample(np.random.default_rng(0), 1000)
    >>> bool(x.min() >= 0.0)
    True
    """

    mean: float = param(check=_value)
    std: float = param(check=nonnegative_in(VALUE_MAX))
    low: float | None = param(None, check=optional(_value))
    high: float | None = param(None, check=optional(_value))

    def _validate(self) -> None:
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ParameterError(f"Normal.high must be >= low = {num(self.low)}, got {num(self.high)}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        x = rng.normal(self.mean, self.std, size)
        if self.low is not None or self.high is not None:
            x = np.clip(x, self.low, self.high)
        return x


def resolve_values(what: str, value, size: int, rng: np.random.Generator, *,
                   limit: float = VALUE_MAX) -> np.ndarray:
    """Turn a number, an array of length ``size`` or a Distribution into a float array (size,).

    Parameters
    ----------
    what : str
        What the values are, for messages (``"projection 'a->b' weight"``).
    value : float, array_like of shape (size,) or Distribution
        ``bool``, ``str``, ``None``, complex numbers and arrays of those are not numbers.
    size : int
        Number of values.
    rng : numpy.random.Generator
        Drawn from when ``value`` is a distribution.
    limit : float
        Largest allowed ``|value|`` (default 1e15, in the unit of the values); callers
        pass a tighter bound where the quantity has one.

    Returns
    -------
    numpy.ndarray of float, shape (size,)
        A new array, every value finite with ``|x| <= limit``.

    Raises
    ------
    ParameterError
        On a value that is not a number, has the wrong shape, is not finite or exceeds
        ``limit`` (the message names ``what``, the value and what is allowed).
    """
    allowed = "a number, an array or a distribution"
    if isinstance(value, Distribution):
        out = np.asarray(value.sample(rng, size), dtype=float)
    else:
        if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
            raise ParameterError(f"{what} must be {allowed}, got {value!r}")
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError):
            arr = None
        if arr is None or arr.dtype.kind not in "iuf":
            got = repr(value) if arr is None or arr.ndim == 0 else f"an array of dtype {arr.dtype}"
            if len(got) > 60:
                got = got[:57] + "..."
            raise ParameterError(f"{what} must be {allowed} (of numbers), got {got}")
        if arr.ndim == 0:
            out = np.full(size, float(arr))
        elif arr.shape == (size,):
            out = arr.astype(float, copy=True)
        else:
            raise ParameterError(f"{what} must be a scalar or have length {size}, "
                                 f"got shape {arr.shape}")
    if not np.all(np.isfinite(out)):
        raise ParameterError(f"{what} must be finite, got {out[~np.isfinite(out)][0]!r}")
    if np.any(np.abs(out) > limit):
        i = int(np.argmax(np.abs(out)))
        raise ParameterError(f"{what} must be in [-{num(limit)}, {num(limit)}], got "
                             f"{num(out[i])}")
    return out
