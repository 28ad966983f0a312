"""Neuron models: leaky integrate-and-fire, with an optional adaptive threshold.

Dynamics (all quantities SI)::

    tau_m dv/dt = -(v - v_rest) + I_syn + R_m i_bias
    spike when v >= v_th + theta;  then v <- v_reset, theta <- theta + theta_plus,
    and v is held at v_reset for t_ref (conductances keep decaying meanwhile)

``I_syn`` is given by the population's synaptic model (:mod:`snnsim.synapses`).
A spike is stamped with the start of the time step in which ``v`` crossed threshold
(the convention of Brian2).
"""

from __future__ import annotations

import math

import numpy as np

from ._params import (Params, boolean, count, fail, finite, nonnegative, optional, param, params,
                      positive, scalar_or_array)
from .synapses import Conductance, Current, SynapseModel
from .units import mV, ms

__all__ = ["NeuronModel", "LIF", "AdaptiveLIF"]


def _synapse_model(owner: str, name: str, value, unit: str):
    if not isinstance(value, SynapseModel):
        fail(owner, name, value, "a synapse model (snnsim.Current(...) or snnsim.Conductance(...))")
    return value


class NeuronModel(Params):
    """Base class of neuron population models."""

    n: int


@params
class LIF(NeuronModel):
    """A population of ``n`` leaky integrate-and-fire neurons.

    Parameters
    ----------
    n : int
        Number of neurons.
    tau_m : float
        Membrane time constant (s), > 0.
    v_rest : float
        Resting (leak reversal) potential (V).
    v_reset : float
        Potential after a spike (V); must be < ``v_th``.
    v_th : float
        Firing threshold (V).
    t_ref : float
        Absolute refractory period (s), >= 0; rounded to whole time steps.
    r_m : float, optional
        Membrane resistance (ohm). Needed only for ``i_bias``; give ``r_m`` or ``c_m``.
    c_m : float, optional
        Membrane capacitance (F); ``r_m = tau_m / c_m``.
    i_bias : float or array of shape (n,)
        Constant bias current (A), per population or per neuron.
    synapses : Current or Conductance
        The two synaptic input channels (see :mod:`snnsim.synapses` for the weight units).

    Examples
    --------
    >>> from snnsim.units import ms, mV
    >>> lif = LIF(10, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV)
    >>> lif.n, lif.tau_m
    (10, 0.02)
    """

    n: int = param(check=count)
    tau_m: float = param(20 * ms, unit="s", check=positive)
    v_rest: float = param(-65 * mV, unit="V", check=finite)
    v_reset: float = param(-65 * mV, unit="V", check=finite)
    v_th: float = param(-50 * mV, unit="V", check=finite)
    t_ref: float = param(2 * ms, unit="s", check=nonnegative)
    r_m: float | None = param(None, unit="ohm", check=optional(positive))
    c_m: float | None = param(None, unit="F", check=optional(positive))
    i_bias: float | np.ndarray = param(0.0, unit="A", check=scalar_or_array(finite))
    synapses: SynapseModel = param(Current(), check=_synapse_model)

    def _validate(self) -> None:
        name = type(self).__name__
        if self.v_reset >= self.v_th:
            raise_msg = (f"{name}.v_reset must be < v_th = {self.v_th:.6g} V, "
                         f"got {self.v_reset:.6g} V")
            from .errors import ParameterError
            raise ParameterError(raise_msg)
        if self.r_m is not None and self.c_m is not None:
            if not math.isclose(self.r_m * self.c_m, self.tau_m, rel_tol=1e-9):
                fail(name, "c_m", self.c_m,
                     f"tau_m / r_m = {self.tau_m / self.r_m:.6g} F when both r_m and c_m are given", "F")
        if isinstance(self.i_bias, np.ndarray) and self.i_bias.shape != (self.n,):
            fail(name, "i_bias", self.i_bias, f"a scalar or an array of shape ({self.n},)", "A")
        if np.any(np.asarray(self.i_bias) != 0) and self.resistance is None:
            fail(name, "r_m", None, "given (or c_m) when i_bias is not zero", "ohm")

    @property
    def resistance(self) -> float | None:
        """Membrane resistance (ohm), from ``r_m`` or ``tau_m / c_m``; None if neither is given."""
        if self.r_m is not None:
            return self.r_m
        if self.c_m is not None:
            return self.tau_m / self.c_m
        return None

    @property
    def g_leak(self) -> float | None:
        """Leak conductance ``1 / R_m`` (S), or None; divide siemens by it to get weights."""
        r = self.resistance
        return None if r is None else 1.0 / r

    @property
    def adaptive(self) -> bool:
        return False


@params
class AdaptiveLIF(LIF):
    """LIF with an adaptive threshold ``theta`` (Diehl & Cook 2015).

    The threshold is ``v_th + theta``; every spike adds ``theta_plus`` to ``theta``,
    which decays back to 0 with time constant ``tau_theta``.  With ``theta_frozen=True``
    (or ``population.theta_frozen = True`` between runs) ``theta`` neither grows nor
    decays, as in the test phase of Diehl & Cook.

    Parameters
    ----------
    theta_plus : float
        Threshold increment per spike (V), >= 0.
    tau_theta : float
        Decay time constant of theta (s), > 0.
    theta_frozen : bool
        Start with theta frozen.

    Examples
    --------
    >>> from snnsim.units import ms, mV
    >>> AdaptiveLIF(4, tau_m=100 * ms, theta_plus=0.05 * mV).theta_plus
    5e-05
    """

    theta_plus: float = param(0.05 * mV, unit="V", check=nonnegative)
    tau_theta: float = param(1e7 * ms, unit="s", check=positive)
    theta_frozen: bool = param(False, check=boolean)

    @property
    def adaptive(self) -> bool:
        return True
