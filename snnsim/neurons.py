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

from ._params import (CURRENT_MAX, RC_MAX, RC_MIN, VOLTAGE_MAX, Params, boolean, count, duration,
                      fail, finite_in, nonnegative_in, num, optional, param, params, positive_in,
                      scalar_or_array, time_constant, voltage)
from .errors import ParameterError
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
        Number of neurons, in [1, 2**31 - 1].
    tau_m : float
        Membrane time constant (s), in [1e-12, 1e6].
    v_rest : float
        Resting (leak reversal) potential (V), in [-1e3, 1e3].
    v_reset : float
        Potential after a spike (V), in [-1e3, 1e3]; must be < ``v_th``.
    v_th : float
        Firing threshold (V), in [-1e3, 1e3].
    t_ref : float
        Absolute refractory period (s), in [0, 1e6]; rounded to whole time steps.
    r_m : float, optional
        Membrane resistance (ohm), in [1e-30, 1e30]. Needed only for ``i_bias``; give
        ``r_m`` or ``c_m``.
    c_m : float, optional
        Membrane capacitance (F), in [1e-30, 1e30]; ``r_m = tau_m / c_m``.
    i_bias : float or array of shape (n,)
        Constant bias current (A), per population or per neuron, ``|i_bias| <= 1e3``; the
        bias as a voltage, ``R_m * i_bias``, must be within [-1e3, 1e3] V.
    synapses : Current or Conductance
        The two synaptic input channels (see :mod:`snnsim.synapses` for the weight units).

    Notes
    -----
    The bounds lie far outside any physical use; they keep everything derived from the
    parameters finite (see :mod:`snnsim._params`).  A value outside them, a NaN, an
    infinity, a bool, a string or a complex number raises
    :class:`~snnsim.errors.ParameterError` naming the class, the field and the value.

    Examples
    --------
    >>> from snnsim.units import ms, mV
    >>> lif = LIF(10, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV)
    >>> lif.n, lif.tau_m
    (10, 0.02)
    """

    n: int = param(check=count)
    tau_m: float = param(20 * ms, unit="s", check=time_constant)
    v_rest: float = param(-65 * mV, unit="V", check=voltage)
    v_reset: float = param(-65 * mV, unit="V", check=voltage)
    v_th: float = param(-50 * mV, unit="V", check=voltage)
    t_ref: float = param(2 * ms, unit="s", check=duration)
    r_m: float | None = param(None, unit="ohm", check=optional(positive_in(RC_MAX, lo=RC_MIN)))
    c_m: float | None = param(None, unit="F", check=optional(positive_in(RC_MAX, lo=RC_MIN)))
    i_bias: float | np.ndarray = param(0.0, unit="A", check=scalar_or_array(finite_in(CURRENT_MAX)))
    synapses: SynapseModel = param(Current(), check=_synapse_model)

    def _validate(self) -> None:
        name = type(self).__name__
        if self.v_reset >= self.v_th:
            raise ParameterError(f"{name}.v_reset must be < v_th = {num(self.v_th)} V, "
                                 f"got {num(self.v_reset)} V")
        if self.r_m is not None and self.c_m is not None:
            if not math.isclose(self.r_m * self.c_m, self.tau_m, rel_tol=1e-9):
                fail(name, "c_m", self.c_m,
                     f"tau_m / r_m = {self.tau_m / self.r_m:.6g} F when both r_m and c_m are given", "F")
        if isinstance(self.i_bias, np.ndarray) and self.i_bias.shape != (self.n,):
            fail(name, "i_bias", self.i_bias, f"a scalar or an array of shape ({self.n},)", "A")
        if np.any(np.asarray(self.i_bias) != 0) and self.resistance is None:
            fail(name, "r_m", None, "given (or c_m) when i_bias is not zero", "ohm")
        if self.resistance is not None:
            bias = float(np.max(np.abs(self.i_bias))) * self.resistance
            if not bias <= VOLTAGE_MAX:
                raise ParameterError(
                    f"{name}.i_bias must give |R_m * i_bias| <= {num(VOLTAGE_MAX)} V, got "
                    f"R_m * i_bias = {num(bias, False)} V "
                    f"(R_m = {num(self.resistance, False)} ohm)")

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
        Threshold increment per spike (V), in [0, 1e3].
    tau_theta : float
        Decay time constant of theta (s), in [1e-12, 1e6].
    theta_frozen : bool
        Start with theta frozen.

    Examples
    --------
    >>> from snnsim.units import ms, mV
    >>> AdaptiveLIF(4, tau_m=100 * ms, theta_plus=0.05 * mV).theta_plus
    5e-05
    """

    theta_plus: float = param(0.05 * mV, unit="V", check=nonnegative_in(VOLTAGE_MAX))
    tau_theta: float = param(1e7 * ms, unit="s", check=time_constant)
    theta_frozen: bool = param(False, check=boolean)

    @property
    def adaptive(self) -> bool:
        return True
