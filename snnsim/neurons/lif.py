"""Neuron models: leaky integrate-and-fire, with an optional adaptive threshold.

Dynamics (all quantities SI)::

    tau_m dv/dt = -(v - v_rest) + I_syn + R_m i_bias
    spike when v >= v_th + theta;  then v <- v_reset, theta <- theta + theta_plus,
    and v is held at v_reset for t_ref (conductances keep decaying meanwhile)

``I_syn`` is given by the population's synaptic model (:mod:`snnsim.synapses`).
A spike is stamped with the start of the time step in which ``v`` crossed threshold
(the convention of Brian2).

The maths lives here once: :meth:`LIF.lower` (propagators for a step ``dt``) and the step
functions below, which the compiling engines turn into their loops (see
:mod:`snnsim.neurons.base`).  Current synapses are integrated exactly; conductance synapses
by exponential Euler with each conductance replaced by its exact mean over the step.
"""

from __future__ import annotations

import math

import numpy as np

from .._params import (CURRENT_MAX, RC_MAX, RC_MIN, VOLTAGE_MAX, boolean, count, duration, fail,
                       finite_in, nonnegative_in, num, optional, param, params, positive_in,
                       scalar_or_array, time_constant, voltage)
from .mathfn import vexp
from ..errors import ParameterError
from ..synapses import Conductance, Current, SynapseModel
from ..units import mV, ms
from .base import NeuronKernel, NeuronModel

__all__ = ["LIF", "AdaptiveLIF"]


def _synapse_model(owner: str, name: str, value, unit: str):
    if not isinstance(value, SynapseModel):
        fail(owner, name, value, "a synapse model (snnsim.Current(...) or snnsim.Conductance(...))")
    return value


# --- lowering ---------------------------------------------------------------------------------

def _current_propagator(dt: float, tau_m: float, tau_s: float, pm: float) -> float:
    """Exact propagator of an exponential current into v over one step,
    K = tau_s / (tau_s - tau_m) * (exp(-dt/tau_s) - exp(-dt/tau_m)).

    Written as pm * (dt/tau_m) * expm1(a)/a with a = dt (tau_s - tau_m) / (tau_s tau_m),
    it is accurate to a few ulp for every tau_s (tau_s - tau_m is exact for tau_s within
    a factor 2 of tau_m, and expm1(a)/a is well conditioned).  The direct expression
    subtracts two nearly equal exponentials: its relative error is about
    2 eps / (d * min(1, dt/tau_m)) with d = |tau_s - tau_m| / tau_m (2e-3 at d = 1e-12
    and dt = tau_m / 20; snnsim 0.1 took the limit d = 0 for d < 1e-12, off by d dt / 2 tau_m).
    At d >= 0.1 that is <= 2.2e-15 / min(1, dt/tau_m), within a factor 7.5 of its error at
    the usual d ~ 0.75 (tau_e = 5 ms, tau_m = 20 ms): there the direct expression is kept,
    so that such networks keep bitwise the propagators, and spikes, they always had.
    """
    if tau_s == tau_m:
        return (dt / tau_m) * pm
    if abs(tau_s - tau_m) >= 0.1 * tau_m:  # d >= 0.1: the direct expression
        return tau_s / (tau_s - tau_m) * (math.exp(-dt / tau_s) - pm)
    a = dt * (tau_s - tau_m) / (tau_s * tau_m)
    if abs(a) >= 1.0:  # dt >> tau_m: no cancellation (and expm1(a) could overflow)
        return tau_s / (tau_s - tau_m) * (math.exp(-dt / tau_s) - pm)
    return pm * (dt / tau_m) * (math.expm1(a) / a if a != 0.0 else 1.0)


def lower_lif(model, dt: float) -> dict:
    """Lowered parameters of a LIF-family population for a step ``dt`` (s).

    ``v_rest``, ``v_reset``, ``v_th`` (V); ``bias = R_m i_bias`` (V, a float or an array of
    shape (n,)); ``pm = exp(-dt/tau_m)``; ``pe``, ``pi`` the channels' decay factors
    ``exp(-dt/tau)``; current synapses: ``ke``, ``ki`` the channels' exact propagators into
    v; conductance synapses: ``e_e``, ``e_i`` (V), ``ce``, ``ci`` the step means of a decaying
    conductance ``tau/dt (1 - exp(-dt/tau))``, ``dttau = dt/tau_m``; adaptive threshold:
    ``theta_plus`` (V), ``p_theta = exp(-dt/tau_theta)`` (1 when not adaptive), ``frozen``
    (1.0 while theta is frozen; engines keep it current); ``ref_steps`` (refractory steps).
    """
    syn = model.synapses
    pm = math.exp(-dt / model.tau_m)
    out = {"v_rest": model.v_rest, "v_reset": model.v_reset, "v_th": model.v_th, "pm": pm,
           "pe": math.exp(-dt / syn.tau_e), "pi": math.exp(-dt / syn.tau_i),
           "ke": _current_propagator(dt, model.tau_m, syn.tau_e, pm),
           "ki": _current_propagator(dt, model.tau_m, syn.tau_i, pm),
           "e_e": 0.0, "e_i": 0.0, "ce": 0.0, "ci": 0.0, "dttau": dt / model.tau_m,
           "theta_plus": 0.0, "p_theta": 1.0, "frozen": 0.0,
           "ref_steps": float(int(round(model.t_ref / dt)))}
    if isinstance(syn, Conductance):
        out.update(e_e=syn.e_e, e_i=syn.e_i,
                   # step average of an exponentially decaying conductance: the mean of g over
                   # the step is g * tau/dt * (1 - exp(-dt/tau))
                   ce=syn.tau_e / dt * -math.expm1(-dt / syn.tau_e),
                   ci=syn.tau_i / dt * -math.expm1(-dt / syn.tau_i))
    if model.adaptive:
        out.update(theta_plus=model.theta_plus, p_theta=math.exp(-dt / model.tau_theta),
                   frozen=float(model.theta_frozen))
    bias = np.asarray(model.i_bias) * (model.resistance or 0.0)
    out["bias"] = bias.astype(np.float64) if bias.ndim else float(bias)
    return out


# --- step functions (compiled by the engines; see snnsim.neurons.base) -------------------------
# The expression order is part of the results: engines that compile these functions give
# bitwise the spikes of snnsim 0.1's hand-written loops because it is kept.

def lif_current_update(v, i_e, i_i, p):
    """Exact step of v and the two current channels (volts)."""
    vinf = p.v_rest + p.bias
    return vinf + (v - vinf) * p.pm + i_e * p.ke + i_i * p.ki, i_e * p.pe, i_i * p.pi


def lif_conductance_update(v, g_e, g_i, p):
    """Exponential-Euler step of v with the conductances' step means; exact decay of g."""
    gea = g_e * p.ce
    gia = g_i * p.ci
    gs = 1.0 + gea + gia
    vinf = (p.v_rest + p.bias + gea * p.e_e + gia * p.e_i) / gs
    return vinf + (v - vinf) * vexp(-p.dttau * gs), g_e * p.pe, g_i * p.pi


def lif_threshold(v, x_e, x_i, p):
    return v >= p.v_th


def lif_reset(v, x_e, x_i, p):
    return p.v_reset, x_e, x_i


def _theta_factor(p):
    """theta's decay factor per step: 1 while frozen."""
    return p.frozen + (1.0 - p.frozen) * p.p_theta


def adaptive_current_update(v, i_e, i_i, theta, p):
    vn, ie, ii = lif_current_update(v, i_e, i_i, p)
    return vn, ie, ii, theta * _theta_factor(p)


def adaptive_conductance_update(v, g_e, g_i, theta, p):
    vn, ge, gi = lif_conductance_update(v, g_e, g_i, p)
    return vn, ge, gi, theta * _theta_factor(p)


def adaptive_threshold(v, x_e, x_i, theta, p):
    return v >= p.v_th + theta


def adaptive_reset(v, x_e, x_i, theta, p):
    return p.v_reset, x_e, x_i, theta + p.theta_plus * (1.0 - p.frozen)


_CUR = ("v", "i_e", "i_i")
_COND = ("v", "g_e", "g_i")
_P_CUR = ("v_rest", "bias", "pm", "ke", "ki", "pe", "pi", "v_th", "v_reset")
_P_COND = ("v_rest", "bias", "ce", "ci", "e_e", "e_i", "dttau", "pe", "pi", "v_th", "v_reset")
_P_THETA = ("frozen", "p_theta", "theta_plus")
_KERNELS = {
    (False, False): NeuronKernel("LIF/Current", _CUR, _P_CUR, lif_current_update, lif_threshold,
                                 lif_reset),
    (False, True): NeuronKernel("LIF/Conductance", _COND, _P_COND, lif_conductance_update,
                                lif_threshold, lif_reset),
    (True, False): NeuronKernel("AdaptiveLIF/Current", _CUR + ("theta",), _P_CUR + _P_THETA,
                                adaptive_current_update, adaptive_threshold, adaptive_reset,
                                count=("v", "theta")),
    (True, True): NeuronKernel("AdaptiveLIF/Conductance", _COND + ("theta",), _P_COND + _P_THETA,
                               adaptive_conductance_update, adaptive_threshold, adaptive_reset,
                               count=("v", "theta")),
}

BUILTIN_KERNELS = tuple(_KERNELS.values())


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

    def lower(self, dt: float) -> dict:
        """Lowered parameters for a step of ``dt`` seconds (see :func:`lower_lif`)."""
        return lower_lif(self, dt)

    def kernel(self) -> NeuronKernel:
        """State variables and step functions (current or conductance synapses)."""
        return _KERNELS[(self.adaptive, isinstance(self.synapses, Conductance))]

    def initial_state(self) -> dict:
        """v at v_rest; channels and theta at 0."""
        out = {name: 0.0 for name in self.kernel().state}
        out["v"] = self.v_rest
        return out


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
