"""Synaptic input models of a neuron population: current-based or conductance-based.

A population has two input channels, excitatory (``"exc"``) and inhibitory (``"inh"``),
each an exponentially decaying variable that every arriving spike increments by the
synaptic weight.  A projection chooses the channel with ``receptor=``.  The kinetics
belong to the receiving population (as in NEST's ``iaf_psc_exp`` / ``iaf_cond_exp``
and Brian2's neuron equations), which keeps the number of state variables fixed and lets
the engines integrate exactly.

Units of weights
----------------
* :class:`Current`: the channel variable ``x`` is the synaptic current times the
  membrane resistance, in **volts**::

      tau_m dv/dt = -(v - v_rest) + x_e + x_i + R_m i_bias,   dx/dt = -x / tau

  A weight of ``1.62 * mV`` is the Brette et al. (2007) CUBA excitatory weight.
  Inhibitory weights are negative numbers.
* :class:`Conductance`: the channel variable ``g`` is a conductance in units of the
  leak conductance (dimensionless, ``g / g_L``)::

      tau_m dv/dt = -(v - v_rest) + g_e (e_e - v) + g_i (e_i - v) + R_m i_bias

  A weight of ``0.6`` is a 6 nS jump for a neuron with a 10 nS leak.  Weights must be
  >= 0.
"""

from __future__ import annotations

from ._params import Params, param, params, time_constant, voltage
from .units import mV, ms

__all__ = ["SynapseModel", "Current", "Conductance"]


class SynapseModel(Params):
    """Base class of synaptic input models."""

    kind: str = ""


@params
class Current(SynapseModel):
    """Current-based exponential synapses; weights in volts (``R_m * I``).

    Parameters
    ----------
    tau_e : float
        Decay time constant of the excitatory channel (s), in [1e-12, 1e6].
    tau_i : float
        Decay time constant of the inhibitory channel (s), in [1e-12, 1e6].

    Examples
    --------
    >>> from snnsim.units import ms
    >>> Current(tau_e=5 * ms, tau_i=10 * ms).tau_i
    0.01
    """

    tau_e: float = param(5 * ms, unit="s", check=time_constant)
    tau_i: float = param(10 * ms, unit="s", check=time_constant)

    kind = "current"


@params
class Conductance(SynapseModel):
    """Conductance-based exponential synapses; weights in units of the leak conductance.

    Parameters
    ----------
    tau_e, tau_i : float
        Decay time constants of the excitatory and inhibitory conductances (s), in
        [1e-12, 1e6].
    e_e, e_i : float
        Reversal potentials of the two channels (V), in [-1e3, 1e3].

    Examples
    --------
    >>> from snnsim.units import ms, mV
    >>> Conductance(tau_e=1 * ms, tau_i=2 * ms, e_e=0 * mV, e_i=-100 * mV).e_i
    -0.1
    """

    tau_e: float = param(5 * ms, unit="s", check=time_constant)
    tau_i: float = param(10 * ms, unit="s", check=time_constant)
    e_e: float = param(0 * mV, unit="V", check=voltage)
    e_i: float = param(-80 * mV, unit="V", check=voltage)

    kind = "conductance"
