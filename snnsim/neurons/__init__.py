"""Neuron models: each declares its parameters, state, lowering and step in one module.

:mod:`snnsim.neurons.base` says what a model declares (:class:`NeuronModel`,
:class:`NeuronKernel`); :mod:`snnsim.neurons.lif` holds the leaky integrate-and-fire family.
"""

from .._params import count, param, params
from .base import NeuronKernel, NeuronModel
from .lif import LIF, AdaptiveLIF

# param, params and count are here for models written outside snnsim (docs/user-models.md)
__all__ = ["NeuronModel", "NeuronKernel", "LIF", "AdaptiveLIF", "param", "params", "count"]
