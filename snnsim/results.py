"""Results of a run: spike trains, state traces and population rates.

``network.run(...)`` returns a :class:`Result`; ``result[handle]`` looks up what a
recorder handle recorded during that run.  Every object here is read-only and looking
it up has no side effects.  Times are in seconds from the network's time 0.

Memory
------
State traces and population rates are read-only views into the run's buffers (no copy:
``result[handle]`` costs no memory beyond the 8 bytes a sample the run allocated).  Spike
trains are extracted per handle: 16 bytes a spike of the population (times and indices)
on first lookup, kept with the result, on top of the 16 bytes a spike of the run's raw
buffer.  While a run records spikes its buffer holds up to twice as many slots as spikes
(it doubles), and copying it out at the end of the run adds 16 bytes a spike for a moment:
the peak of spike recording is about 48 bytes a spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import RecordingError
from .monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor

__all__ = ["Result", "SpikeTrains", "StateTrace", "PopulationRate"]


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class SpikeTrains:
    """Spikes of one population in one run.

    Attributes
    ----------
    times : ndarray of float, shape (k,)
        Spike times (s), ascending.
    indices : ndarray of int, shape (k,)
        Neuron index (within the population) of each spike.
    n_neurons : int
        Size of the population.
    recorded : ndarray of int
        The neuron indices that were recorded.
    t_start, t_stop : float
        The recorded interval [t_start, t_stop) (s).
    """

    times: np.ndarray
    indices: np.ndarray
    n_neurons: int
    recorded: np.ndarray
    t_start: float
    t_stop: float

    def __len__(self) -> int:
        return int(self.times.size)

    @property
    def duration(self) -> float:
        return self.t_stop - self.t_start

    def counts(self) -> np.ndarray:
        """Spike count of every neuron of the population, shape (n_neurons,)."""
        return np.bincount(self.indices, minlength=self.n_neurons)

    def rates(self) -> np.ndarray:
        """Mean firing rate of every neuron (Hz), shape (n_neurons,)."""
        return self.counts() / self.duration if self.duration > 0 else np.zeros(self.n_neurons)

    def mean_rate(self) -> float:
        """Mean rate over the recorded neurons (Hz)."""
        if self.duration <= 0 or self.recorded.size == 0:
            return 0.0
        return len(self) / (self.recorded.size * self.duration)

    def trains(self) -> list[np.ndarray]:
        """Spike times of each neuron of the population (list of length n_neurons)."""
        order = np.argsort(self.indices, kind="stable")
        bounds = np.searchsorted(self.indices[order], np.arange(self.n_neurons + 1))
        t = self.times[order]
        return [t[bounds[i]:bounds[i + 1]] for i in range(self.n_neurons)]


@dataclass(frozen=True, eq=False)
class StateTrace:
    """Sampled state variables of chosen neurons.

    ``trace["v"]`` is an array of shape (n_samples, n_indices) in SI units; ``times`` has
    shape (n_samples,). A sample at time t is the value at the start of the step at t,
    after that step's synaptic arrivals.
    """

    times: np.ndarray
    indices: np.ndarray
    values: dict

    def __getitem__(self, variable: str) -> np.ndarray:
        try:
            return self.values[variable]
        except KeyError:
            raise RecordingError(f"variable {variable!r} was not recorded; recorded: "
                                 f"{', '.join(self.values)}") from None

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.values)


@dataclass(frozen=True, eq=False)
class PopulationRate:
    """Instantaneous population rate: spikes per step / (n_neurons * dt), in Hz."""

    times: np.ndarray
    counts: np.ndarray
    n_neurons: int
    dt: float

    @property
    def rate(self) -> np.ndarray:
        return self.counts / (self.n_neurons * self.dt)

    def smoothed(self, width: float) -> np.ndarray:
        """Rate averaged in a flat window of ``width`` seconds (same length as ``rate``)."""
        if self.rate.size == 0:
            return self.rate.copy()
        k = max(1, min(int(round(width / self.dt)), self.rate.size))
        return np.convolve(self.rate, np.ones(k) / k, mode="same")

    def mean(self) -> float:
        return float(self.rate.mean()) if self.rate.size else 0.0


class Result:
    """What one ``run`` recorded; index it with recorder handles."""

    def __init__(self, *, dt: float, step0: int, n_steps: int, raw: dict, layout: dict):
        self.dt = dt
        self.step0 = step0
        self.n_steps = n_steps
        self.t_start = step0 * dt
        self.t_stop = (step0 + n_steps) * dt
        self._raw = raw
        self._layout = layout
        self._cache: dict[int, object] = {}

    @property
    def duration(self) -> float:
        return self.n_steps * self.dt

    @property
    def handles(self) -> list[Monitor]:
        return [h for h, _ in self._layout.values()]

    def __contains__(self, handle: Monitor) -> bool:
        return handle.id in self._layout

    def __getitem__(self, handle: Monitor):
        if not isinstance(handle, Monitor):
            raise RecordingError(f"index a Result with a recorder handle, got {type(handle).__name__}")
        if handle.id not in self._layout:
            raise RecordingError(f"this result holds no data for {type(handle).__name__} of "
                                 f"population {handle.population!r} (was it created after the run?)")
        if handle.id not in self._cache:
            self._cache[handle.id] = self._extract(handle)
        return self._cache[handle.id]

    def _extract(self, h: Monitor):
        info = self._layout[h.id][1]
        if isinstance(h, SpikeMonitor):
            lo, n = info["lo"], info["n"]
            steps, gids = self._raw["spk_t"], self._raw["spk_i"]
            sel = (gids >= lo) & (gids < lo + n)
            idx = gids[sel] - lo
            t = steps[sel]
            recorded = np.arange(n) if h.indices is None else np.asarray(h.indices)
            if h.indices is not None:
                mask = np.zeros(n, dtype=bool)
                mask[recorded] = True
                keep = mask[idx]
                idx, t = idx[keep], t[keep]
            return SpikeTrains(times=_ro(t * self.dt), indices=_ro(idx.astype(np.int64)),
                               n_neurons=n, recorded=_ro(recorded.copy()),
                               t_start=self.t_start, t_stop=self.t_stop)
        if isinstance(h, StateMonitor):
            out = self._raw["srec_out"]
            values = {}
            for var, (off, count) in info["rows"].items():
                block = out[off:off + count * info["n_samples"]].reshape(count, info["n_samples"])
                values[var] = _ro(block.T)  # a view: shape (n_samples, count)
            times = (self.step0 + np.arange(info["n_samples"]) * h.every) * self.dt
            return StateTrace(times=_ro(times), indices=_ro(np.asarray(h.indices).copy()),
                              values=values)
        if isinstance(h, RateMonitor):
            counts = self._raw["rrec_out"][info["row"]]  # a view
            times = (self.step0 + np.arange(self.n_steps)) * self.dt
            return PopulationRate(times=_ro(times), counts=_ro(counts), n_neurons=info["n"],
                                  dt=self.dt)
        raise RecordingError(f"unknown handle type {type(h).__name__}")
