"""The layout of snnsim HDF5 files (``docs/hdf5-format.md``): format name and version, the
model classes a file may name, the bounds on what it may hold, and small naming and dataset
helpers shared by writing and reading."""

from __future__ import annotations

import h5py
import numpy as np

from .. import plan as _p
from ..connectivity import AllToAll, FixedInDegree, FixedProbability, FromArrays, OneToOne
from ..distributions import Constant, Normal, Uniform
from ..inputs import PoissonInput, SpikeSource
from ..monitors import RateMonitor, SpikeMonitor, StateMonitor
from ..neurons import LIF, AdaptiveLIF
from ..plasticity import DiehlCookSTDP, PairSTDP, TripletSTDP, WeightNormalization
from ..synapses import Conductance, Current

FORMAT = "snnsim"
FORMAT_VERSION = 1

# The only classes a file may name (no import or eval of names read from a file).
RECORD_CLASSES: dict[str, type] = {c.__name__: c for c in (
    LIF, AdaptiveLIF, PoissonInput, SpikeSource, Current, Conductance,
    AllToAll, OneToOne, FixedProbability, FixedInDegree, FromArrays,
    PairSTDP, TripletSTDP, DiehlCookSTDP, WeightNormalization, Constant, Uniform, Normal)}
_MONITORS = {"SpikeMonitor": SpikeMonitor, "StateMonitor": StateMonitor, "RateMonitor": RateMonitor}
# rows of the plan's float state, by their name in the file
_ROWS = (("v", _p.S_V), ("g_e", _p.S_GE), ("g_i", _p.S_GI), ("theta", _p.S_THETA),
         ("bias", _p.S_BIAS), ("p_spike", _p.S_P), ("log_q", _p.S_LOGQ))
_COMPRESS_FROM = 1024  # datasets with at least this many elements are gzip-compressed
_INITIAL = ("v", "g_e", "g_i", "theta")
_STATE_1D = tuple(name for name, _ in _ROWS) + ("ref", "next_spike")  # float64/int[N] of state/
# Bounds on what a file may hold (docs/hdf5-format.md, "Validation on read"):
_MAX_ABS = 1e30        # |state value|, |weight|, traces, gains: far beyond anything a network
#                        built with snnsim's bounds reaches, far below where a step overflows
_MAX_STEP = 2 ** 53    # step counters (step * dt stays exact)
_MAX_DELAY = 2 ** 30   # delays in steps: int32 per synapse in the plan (as Network.connect)
_MAX_INDEX = 2 ** 62   # counts and indices that only need to be non-negative
_MAX_NEURONS = 2 ** 31 - 1  # a population's size (int32 synapse indices)


# -- small helpers -----------------------------------------------------------------------------

def _key(name: str) -> str:
    """HDF5 member name of a population/projection name ('/' and '%' escaped)."""
    k = name.replace("%", "%25").replace("/", "%2F")
    return "%2E" if k == "." else k


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _strs(values) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=h5py.string_dtype())


def _ds(g: h5py.Group, name: str, data) -> h5py.Dataset:
    arr = np.ascontiguousarray(data)
    if arr.size >= _COMPRESS_FROM:
        return g.create_dataset(name, data=arr, compression="gzip", compression_opts=4, shuffle=True)
    return g.create_dataset(name, data=arr)
