"""snnsim: spiking neural networks that learn by spike-timing-dependent plasticity.

Build a :class:`Network` of populations (:class:`LIF`, :class:`AdaptiveLIF`,
:class:`PoissonInput`, :class:`SpikeSource`), connect them with connectivity rules,
weights, delays and plasticity rules, record what you need and ``run``.  All quantities
are SI floats; :mod:`snnsim.units` has the scale constants.

Importing snnsim never imports Brian2 or numba-cuda; submodules ``plot``, ``io``, the
learning layer (``learning``: data sets, classifier, continual learning) and
``reference_networks`` are imported on first use.  Modules that moved keep their old paths
(``snnsim.datasets``, ``snnsim.models``, ...: :mod:`snnsim._compat`).
"""

from __future__ import annotations

import importlib

from . import _compat, units
from .connectivity import AllToAll, ConnectivityRule, FixedInDegree, FixedProbability, FromArrays, OneToOne
from .distributions import Constant, Distribution, Normal, Uniform
from .engines import available_engines, get_engine
from .errors import (DataError, EngineError, EngineUnavailableError, FileFormatError, NetworkError,
                     NonFiniteStateError, ParameterError, RecordingError, ResourceError,
                     SnnsimError, SnnsimWarning, UnsupportedModelError)
from .inputs import PoissonInput, SpikeSource
from .monitors import RateMonitor, SpikeMonitor, StateMonitor
from .network import Network, Population, Projection
from .neurons import LIF, AdaptiveLIF
from .plasticity import DiehlCookSTDP, PairSTDP, PlasticityRule, TripletSTDP, WeightNormalization
from .results import PopulationRate, Result, SpikeTrains, StateTrace
from .synapses import Conductance, Current

_compat.install()       # the old module paths (snnsim.datasets, snnsim.models, ...)

__version__ = "0.1.0"

__all__ = [
    "Network", "Population", "Projection",
    "LIF", "AdaptiveLIF", "Current", "Conductance", "PoissonInput", "SpikeSource",
    "ConnectivityRule", "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree", "FromArrays",
    "Distribution", "Constant", "Uniform", "Normal",
    "PlasticityRule", "PairSTDP", "TripletSTDP", "DiehlCookSTDP", "WeightNormalization",
    "Result", "SpikeTrains", "StateTrace", "PopulationRate",
    "SpikeMonitor", "StateMonitor", "RateMonitor",
    "SnnsimError", "ParameterError", "NetworkError", "RecordingError", "EngineError",
    "EngineUnavailableError", "UnsupportedModelError", "DataError", "FileFormatError",
    "NonFiniteStateError", "ResourceError", "SnnsimWarning",
    "units", "get_engine", "available_engines", "__version__",
]

# submodules imported on first attribute access: the new paths, then the old ones of
# _compat.MOVED (snnsim.datasets -> snnsim.learning.datasets, snnsim.models, ...)
_LAZY = ("plot", "io", "checkpoint", "learning", "reference_networks",
         *(old.split(".")[1] for old in _compat.MOVED if old.count(".") == 1))


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'snnsim' has no attribute {name!r}")
