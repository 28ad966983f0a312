"""Recorder handles.

``network.record_spikes(...)``, ``network.record_state(...)`` and
``network.population_rate(...)`` return one of these handles; after a run,
``result[handle]`` gives the recorded data.  Handles are plain immutable descriptions:
looking data up has no side effects.

Memory is predictable: a spike costs 16 bytes while it sits in the engine's buffer
(which starts at 4,096 entries and doubles when needed, so it holds up to twice as many
slots as spikes; about 48 bytes a spike at the peak, see :mod:`snnsim.results`); a state
recorder costs 8 bytes x variables x neurons x ceil(steps / every); a rate recorder 8 bytes
per step.  ``result[handle]`` returns views of state and rate buffers (no copy).
``Network.run`` estimates the state and rate buffers before it allocates them and refuses
(:class:`~snnsim.errors.ResourceError`) a run whose buffers would need more than 90 % of
the available memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Monitor", "SpikeMonitor", "StateMonitor", "RateMonitor"]


@dataclass(frozen=True, eq=False)
class Monitor:
    """Base class of recorder handles."""

    population: str
    id: int


@dataclass(frozen=True, eq=False)
class SpikeMonitor(Monitor):
    """Records spikes of ``indices`` (all neurons when None) of a population."""

    indices: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class StateMonitor(Monitor):
    """Records ``variables`` of neurons ``indices`` every ``every`` steps."""

    variables: tuple[str, ...] = ()
    indices: np.ndarray = None  # type: ignore[assignment]
    every: int = 1


@dataclass(frozen=True, eq=False)
class RateMonitor(Monitor):
    """Records the number of spikes of a whole population in every step."""
