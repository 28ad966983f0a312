"""Input populations: Poisson spike generators and explicit spike trains."""

from __future__ import annotations

import numpy as np

from ._params import (RATE_MAX, TIME_MAX, Params, count, fail, index_array, num, numeric_array,
                      param, params)
from .errors import ParameterError

__all__ = ["InputModel", "PoissonInput", "SpikeSource", "check_rates"]


class InputModel(Params):
    """Base class of input populations (they emit spikes and receive no synapses)."""

    n: int


def check_rates(owner: str, rates, n: int) -> np.ndarray:
    """Validate firing rates (Hz): a number or an array of shape (n,), finite, in [0, 1e9].

    Parameters
    ----------
    owner : str
        What the rates belong to, for messages (``"PoissonInput 'input'"``).
    rates : float or array_like of shape (n,)
        Rates (Hz); ``bool``, ``str``, ``None`` and complex values are not numbers.
    n : int
        Number of neurons.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        A new array.
    """
    what = f"a number or an array of shape ({n},) of numbers (Hz)"
    arr = numeric_array(owner, "rate", rates, "Hz", what=what).astype(float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ParameterError(f"{owner}.rate must be a scalar or an array of shape ({n},), "
                             f"got an array of shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"{owner}.rate must be finite and >= 0 Hz, got {arr[i]!r} Hz "
                             f"(neuron {i})")
    if np.any(arr > RATE_MAX):
        i = int(np.argmax(arr))
        raise ParameterError(f"{owner}.rate must be in [0, {num(RATE_MAX)}] Hz, got "
                             f"{num(arr[i])} Hz (neuron {i})")
    return arr


def _rate(owner: str, name: str, value, unit: str):
    arr = numeric_array(owner, name, value, unit, what="a number or a 1-D array of numbers (Hz)")
    if arr.ndim == 0:
        return float(check_rates(owner, arr, 1)[0])
    if arr.ndim != 1:
        fail(owner, name, arr, "a number or a 1-D array (Hz)", unit)
    arr = check_rates(owner, arr, arr.shape[0])
    arr.setflags(write=False)
    return arr


@params
class PoissonInput(InputModel):
    """``n`` independent Poisson spike trains.

    In each time step a neuron spikes with probability ``rate * dt`` (as Brian2's
    ``PoissonGroup``); the engines draw the geometric waiting time to the next spike
    instead of one random number per neuron per step.  Rates can be changed between
    runs with ``population.set_rates(...)``.

    Parameters
    ----------
    n : int
        Number of generators, in [1, 2**31 - 1].
    rate : float or array of shape (n,)
        Firing rate (Hz), in [0, 1e9] and at most ``1 / dt`` (checked when added to a
        network).  ``bool`` and ``str`` are not numbers.

    Examples
    --------
    >>> from snnsim.units import Hz
    >>> PoissonInput(784, rate=10 * Hz).n
    784
    """

    n: int = param(check=count)
    rate: float | np.ndarray = param(0.0, unit="Hz", check=_rate)

    def _validate(self) -> None:
        if isinstance(self.rate, np.ndarray) and self.rate.shape != (self.n,):
            fail("PoissonInput", "rate", self.rate, f"a scalar or an array of shape ({self.n},)", "Hz")


def _times(owner: str, name: str, value, unit: str):
    raw = numeric_array(owner, name, value, unit, what="a 1-D array of spike times (s)")
    if raw.ndim > 1:
        fail(owner, name, raw, "a 1-D array of spike times (s)", unit)
    arr = raw.astype(float).reshape(-1)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > TIME_MAX)
    if bad.any():
        fail(owner, name, float(arr[bad][0]), f"finite and in [0, {num(TIME_MAX)}] s "
             "(one value is not)", "s")
    arr.setflags(write=False)
    return arr


@params
class SpikeSource(InputModel):
    """Explicit spike trains: neuron ``indices[k]`` spikes at ``times[k]``.

    Times are rounded to the nearest time step when the network is compiled; two spikes
    of one neuron in the same step are an error.  Times are measured from the network's
    time 0 (``reset_state()`` replays them).

    Parameters
    ----------
    n : int
        Number of neurons, in [1, 2**31 - 1].
    times : array of float, shape (k,)
        Spike times (s), in [0, 1e6].
    indices : array of int, shape (k,)
        Neuron of each spike, in ``[0, n)`` (integers, or floats with integral values).

    Examples
    --------
    >>> from snnsim.units import ms
    >>> SpikeSource(2, times=[1 * ms, 3 * ms], indices=[0, 1]).times
    array([0.001, 0.003])
    """

    n: int = param(check=count)
    times: np.ndarray = param((), unit="s", check=_times)
    indices: np.ndarray = param((), check=index_array)

    def _validate(self) -> None:
        if self.times.shape != self.indices.shape:
            raise ParameterError(f"SpikeSource.indices must have the same length as times "
                                 f"({self.times.size}), got {self.indices.size}")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.n):
            bad = self.indices[(self.indices < 0) | (self.indices >= self.n)][0]
            raise ParameterError(f"SpikeSource.indices must be in [0, {self.n}), got {int(bad)}")
