"""Input populations: Poisson spike generators and explicit spike trains."""

from __future__ import annotations

import numpy as np

from ._params import Params, count, fail, param, params
from .errors import ParameterError

__all__ = ["InputModel", "PoissonInput", "SpikeSource", "check_rates"]


class InputModel(Params):
    """Base class of input populations (they emit spikes and receive no synapses)."""

    n: int


def check_rates(owner: str, rates, n: int) -> np.ndarray:
    """Validate firing rates (Hz): scalar or shape (n,), finite, >= 0. Returns float array (n,)."""
    arr = np.asarray(rates, dtype=float) if not isinstance(rates, np.ndarray) else rates.astype(float)
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
    return arr


def _rate(owner: str, name: str, value, unit: str):
    if np.ndim(value) == 0:
        return float(check_rates(owner, value, 1)[0])
    arr = check_rates(owner, value, len(np.asarray(value)))
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
        Number of generators.
    rate : float or array of shape (n,)
        Firing rate (Hz), >= 0 and at most ``1 / dt``.

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
    arr = np.array(value, dtype=float).ravel()
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        fail(owner, name, float(arr[bad][0]), "finite and >= 0 s (one value is not)", "s")
    arr.setflags(write=False)
    return arr


def _indices(owner: str, name: str, value, unit: str):
    raw = np.asarray(value).ravel()
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        if not np.all(np.equal(np.mod(raw, 1), 0)):
            fail(owner, name, raw, "integers", unit)
    arr = raw.astype(np.int64)
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
        Number of neurons.
    times : array of float, shape (k,)
        Spike times (s), >= 0.
    indices : array of int, shape (k,)
        Neuron of each spike, in ``[0, n)``.

    Examples
    --------
    >>> from snnsim.units import ms
    >>> SpikeSource(2, times=[1 * ms, 3 * ms], indices=[0, 1]).times
    array([0.001, 0.003])
    """

    n: int = param(check=count)
    times: np.ndarray = param((), unit="s", check=_times)
    indices: np.ndarray = param((), check=_indices)

    def _validate(self) -> None:
        if self.times.shape != self.indices.shape:
            raise ParameterError(f"SpikeSource.indices must have the same length as times "
                                 f"({self.times.size}), got {self.indices.size}")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.n):
            bad = self.indices[(self.indices < 0) | (self.indices >= self.n)][0]
            raise ParameterError(f"SpikeSource.indices must be in [0, {self.n}), got {int(bad)}")
