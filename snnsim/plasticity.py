"""Plasticity rules (LTP/LTD, STDP family) and weight normalisation.

All STDP rules here are trace-based and event-driven.  Each presynaptic neuron keeps
traces ``x1`` (time constant ``tau_plus``) and ``x2`` (``tau_x``); each postsynaptic
neuron keeps ``y1`` (``tau_minus``) and ``y2`` (``tau_y``).  Traces decay exactly and jump
at spikes: by +1 (``interaction='all'``, all-to-all pairing) or to 1
(``interaction='nearest'``, each spike pairs with the nearest spike of the other side).
Every rule is a special case of the general triplet update::

    presynaptic event:   w <- w - f_minus(w) * y1 * (A2_minus + A3_minus * x2(t - eps))
    postsynaptic spike:  w <- w + f_plus(w)  * x1 * (A2_plus  + A3_plus  * y2(t - eps))

with ``f = 1`` and hard bounds for ``weight_dependence='additive'`` and
``f_plus = (w_max - w)**mu``, ``f_minus = (w - w_min)**mu`` (soft bounds) for
``'multiplicative'``; weights are always kept in ``[w_min, w_max]``.

Timing conventions (the same in every engine and in the reference):

* ``timing='arrival'`` (default): the presynaptic event is the spike's arrival at the
  synapse, i.e. emission plus that synapse's delay; ``timing='emission'``: the spike's
  emission, whatever the delay.  Transmission always happens at arrival, with the weight
  as it is then (transmission first, then depression).
* A presynaptic event and a postsynaptic spike in the same time step count as
  pre-before-post (Δt = 0): the pairing gives ``+a_plus`` and no depression.
* Pair window, Δt = t_post - t_pre_event: ``+a_plus exp(-Δt/tau_plus)`` for Δt >= 0 and
  ``-a_minus exp(Δt/tau_minus)`` for Δt < 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ._params import (MU_MAX, POW_MAX, TIME_MAX, VALUE_MAX, Params, amplitude, choice, nonnegative_in,
                      num, optional, param, params, positive_in, time_constant, weight)
from .errors import ParameterError
from .units import ms

__all__ = ["PlasticityRule", "RuleKernel", "PairSTDP", "TripletSTDP", "DiehlCookSTDP",
           "WeightNormalization"]


@dataclass(frozen=True)
class RuleKernel:
    """A plasticity rule's weight updates, as the compiling engines need them.

    The traces are the engine's (see the module docstring): presynaptic ``x1``, ``x2`` and
    postsynaptic ``y1``, ``y2``, decaying by the lowering's ``p_x1`` ... ``p_y2`` per step and
    jumping by 1 (or to 1 where ``near_x``/``near_y``) at spikes; ``x2`` (``y2``) is kept only
    where the lowering's ``a3_minus`` (``a3_plus``) is non-zero.  The rule gives the updates:

    * ``depress(w, y1, x2, p) -> w``: at a presynaptic event, with the postsynaptic ``y1``
      (times the neuron's plasticity gain) and the presynaptic ``x2`` just before the event;
    * ``potentiate(w, x1, y2, p) -> w``: at a postsynaptic spike, with the presynaptic ``x1``
      (times the gain) and the postsynaptic ``y2`` just before the spike.

    Both must keep ``w`` in ``[p.w_min, p.w_max]``; ``params`` names the lowered parameters
    they read (keys of ``kernel_params(dt)``).
    """

    name: str
    params: tuple[str, ...]
    depress: Callable
    potentiate: Callable


# --- the triplet family's weight updates (compiled by the engines) ------------------------------
# The expression order is part of the results (bitwise those of snnsim 0.1).

def triplet_depress(w, y1, x2, p):
    """w - f_minus(w) y1 (A2- + A3- x2), clipped; f_minus = (w - w_min)**mu when multiplicative."""
    dw = y1 * (p.a2_minus + p.a3_minus * x2)
    if p.mult != 0.0:
        base = max(w - p.w_min, 0.0)
        dw *= base if p.mu == 1.0 else base ** p.mu
    return min(max(w - dw, p.w_min), p.w_max)


def triplet_potentiate(w, x1, y2, p):
    """w + f_plus(w) x1 (A2+ + A3+ y2), clipped; f_plus = (w_max - w)**mu when multiplicative."""
    dw = x1 * (p.a2_plus + p.a3_plus * y2)
    if p.mult != 0.0:
        base = max(p.w_max - w, 0.0)
        dw *= base if p.mu == 1.0 else base ** p.mu
    return min(max(w + dw, p.w_min), p.w_max)


TRIPLET_KERNEL = RuleKernel("triplet STDP", ("a2_plus", "a3_plus", "a2_minus", "a3_minus",
                                             "w_min", "w_max", "mult", "mu"),
                            triplet_depress, triplet_potentiate)
BUILTIN_RULE_KERNELS = (TRIPLET_KERNEL,)


def _bounds(rule: Params) -> None:
    name = type(rule).__name__
    if rule.w_max < rule.w_min:
        raise ParameterError(f"{name}.w_max must be >= w_min = {num(rule.w_min)}, "
                             f"got {num(rule.w_max)}")
    # soft bounds scale updates by (w_max - w)**mu: keep that factor finite (an infinite factor
    # times a zero trace would be NaN)
    if getattr(rule, "weight_dependence", "additive") == "multiplicative":
        try:
            factor = math.pow(rule.w_max - rule.w_min, rule.mu)
        except OverflowError:
            factor = math.inf
        if not factor <= POW_MAX:
            raise ParameterError(
                f"{name}.mu must give (w_max - w_min)**mu <= {num(POW_MAX)} with multiplicative "
                f"weight dependence, got mu = {num(rule.mu)} with w_max - w_min = "
                f"{num(rule.w_max - rule.w_min)}")


class PlasticityRule(Params):
    """Base class: a rule lowers itself (``kernel_params(dt)``: trace decay factors, pairing,
    timing and its own parameters, by name) and gives its weight updates (``kernel()``,
    a :class:`RuleKernel`; the built-in rules are all the general triplet form)."""

    def kernel_params(self, dt: float) -> dict:
        raise NotImplementedError

    def kernel(self) -> RuleKernel:
        """The rule's weight updates (the triplet family's unless overridden)."""
        return TRIPLET_KERNEL

    def _common(self, dt: float, tau_x1: float, tau_x2: float, tau_y1: float, tau_y2: float,
                near_x: bool, near_y: bool) -> dict:
        return dict(p_x1=math.exp(-dt / tau_x1), p_x2=math.exp(-dt / tau_x2),
                    p_y1=math.exp(-dt / tau_y1), p_y2=math.exp(-dt / tau_y2),
                    near_x=float(near_x), near_y=float(near_y),
                    w_min=self.w_min, w_max=self.w_max,
                    mult=float(getattr(self, "weight_dependence", "additive") == "multiplicative"),
                    mu=float(getattr(self, "mu", 1.0)),
                    emission=float(self.timing == "emission"))


@params
class PairSTDP(PlasticityRule):
    """Pair-based STDP (Song, Miller & Abbott 2000; Morrison et al. 2008).

    Parameters
    ----------
    a_plus : float
        LTP amplitude (weight units), for post after pre, in [0, 1e6].
    a_minus : float
        LTD amplitude (weight units), for pre after post, in [0, 1e6].
    tau_plus, tau_minus : float
        Time constants of the LTP and LTD halves of the window (s), in [1e-12, 1e6].
    w_min, w_max : float
        Weight bounds (weight units), in [-1e6, 1e6], ``w_min <= w_max``.
    interaction : {'all', 'nearest'}
        All-to-all pairing, or nearest-spike (symmetric) pairing.
    weight_dependence : {'additive', 'multiplicative'}
        Hard bounds, or soft bounds scaling LTP by ``(w_max - w)**mu`` and LTD by
        ``(w - w_min)**mu``.
    mu : float
        Exponent of the soft bounds (1 = multiplicative), in [0, 100]; with
        ``weight_dependence='multiplicative'`` also ``(w_max - w_min)**mu <= 1e100``, so
        that the soft-bound factor stays finite.
    timing : {'arrival', 'emission'}
        When the presynaptic event happens (see module notes).

    Examples
    --------
    >>> from snnsim.units import ms
    >>> PairSTDP(a_plus=0.01, a_minus=0.0105, tau_plus=20 * ms, tau_minus=20 * ms).a_minus
    0.0105
    """

    a_plus: float = param(0.01, check=amplitude)
    a_minus: float = param(0.0105, check=amplitude)
    tau_plus: float = param(20 * ms, unit="s", check=time_constant)
    tau_minus: float = param(20 * ms, unit="s", check=time_constant)
    w_min: float = param(0.0, check=weight)
    w_max: float = param(1.0, check=weight)
    interaction: str = param("all", check=choice("all", "nearest"))
    weight_dependence: str = param("additive", check=choice("additive", "multiplicative"))
    mu: float = param(1.0, check=nonnegative_in(MU_MAX))
    timing: str = param("arrival", check=choice("arrival", "emission"))

    def _validate(self) -> None:
        _bounds(self)

    def kernel_params(self, dt: float) -> dict:
        near = self.interaction == "nearest"
        out = self._common(dt, self.tau_plus, self.tau_plus, self.tau_minus, self.tau_minus, near, near)
        out.update(a2_plus=self.a_plus, a3_plus=0.0, a2_minus=self.a_minus, a3_minus=0.0)
        return out


@params
class TripletSTDP(PlasticityRule):
    """Triplet STDP of Pfister & Gerstner (2006).

    ``a2_*`` are the pair amplitudes, ``a3_plus`` scales LTP by the slow postsynaptic
    trace ``y2`` (``tau_y``), ``a3_minus`` scales LTD by the slow presynaptic trace ``x2``
    (``tau_x``).  The *minimal* models of the paper set ``a3_minus = 0`` (and
    ``a2_plus = 0``); :meth:`visual_cortex` gives the paper's fitted parameter sets.

    Parameters
    ----------
    a2_plus, a3_plus, a2_minus, a3_minus : float
        Amplitudes (weight units), in [0, 1e6].
    tau_plus, tau_minus, tau_x, tau_y : float
        Trace time constants (s), in [1e-12, 1e6].
    w_min, w_max : float
        Weight bounds, in [-1e6, 1e6], ``w_min <= w_max``.
    interaction : {'all', 'nearest'}
        All-to-all or nearest-spike traces.
    weight_dependence, mu, timing
        As for :class:`PairSTDP`.

    Examples
    --------
    >>> TripletSTDP.visual_cortex("all", minimal=True).a3_minus
    0.0
    """

    a2_plus: float = param(5e-10, check=amplitude)
    a3_plus: float = param(6.2e-3, check=amplitude)
    a2_minus: float = param(7e-3, check=amplitude)
    a3_minus: float = param(2.3e-4, check=amplitude)
    tau_plus: float = param(16.8 * ms, unit="s", check=time_constant)
    tau_minus: float = param(33.7 * ms, unit="s", check=time_constant)
    tau_x: float = param(101 * ms, unit="s", check=time_constant)
    tau_y: float = param(125 * ms, unit="s", check=time_constant)
    w_min: float = param(0.0, check=weight)
    w_max: float = param(1.0, check=weight)
    interaction: str = param("all", check=choice("all", "nearest"))
    weight_dependence: str = param("additive", check=choice("additive", "multiplicative"))
    mu: float = param(1.0, check=nonnegative_in(MU_MAX))
    timing: str = param("arrival", check=choice("arrival", "emission"))

    def _validate(self) -> None:
        _bounds(self)

    @classmethod
    def visual_cortex(cls, interaction: str = "all", minimal: bool = False,
                      **overrides) -> "TripletSTDP":
        """Pfister & Gerstner (2006), Table 4: fits to visual-cortex data (Sjöström et al. 2001).

        ``tau_plus = 16.8 ms`` and ``tau_minus = 33.7 ms`` in every set; the minimal models
        have ``a2_plus = a3_minus = 0`` (their ``tau_x`` is then irrelevant).
        """
        table = {
            ("all", False): dict(tau_x=101 * ms, tau_y=125 * ms, a2_plus=5e-10, a3_plus=6.2e-3,
                                 a2_minus=7e-3, a3_minus=2.3e-4),
            ("all", True): dict(tau_x=101 * ms, tau_y=125 * ms, a2_plus=0.0, a3_plus=6.5e-3,
                                a2_minus=7.1e-3, a3_minus=0.0),
            ("nearest", False): dict(tau_x=714 * ms, tau_y=40 * ms, a2_plus=8.8e-11, a3_plus=5.3e-2,
                                     a2_minus=6.6e-3, a3_minus=3.1e-3),
            ("nearest", True): dict(tau_x=714 * ms, tau_y=40 * ms, a2_plus=0.0, a3_plus=5.0e-2,
                                    a2_minus=8.0e-3, a3_minus=0.0),
        }
        if interaction not in ("all", "nearest"):
            raise ParameterError(f"TripletSTDP.visual_cortex interaction must be 'all' or 'nearest', "
                                 f"got {interaction!r}")
        kw = dict(tau_plus=16.8 * ms, tau_minus=33.7 * ms, interaction=interaction,
                  **table[(interaction, bool(minimal))])
        kw.update(overrides)
        return cls(**kw)

    def kernel_params(self, dt: float) -> dict:
        near = self.interaction == "nearest"
        out = self._common(dt, self.tau_plus, self.tau_x, self.tau_minus, self.tau_y, near, near)
        out.update(a2_plus=self.a2_plus, a3_plus=self.a3_plus, a2_minus=self.a2_minus,
                   a3_minus=self.a3_minus)
        return out


@params
class DiehlCookSTDP(PlasticityRule):
    """The STDP rule of Diehl & Cook (2015), exactly as in their published code.

    Traces: ``pre`` (``tau_pre``), ``post1`` (``tau_post1``), ``post2`` (``tau_post2``), each
    set to 1 at a spike.  Presynaptic event: ``pre = 1; w -= nu_pre * post1``.
    Postsynaptic spike: ``w += nu_post * pre * post2_before; post1 = post2 = 1``, where
    ``post2_before`` is ``post2`` just before this spike.  ``w`` is clipped to
    ``[w_min, w_max]``.  This is the nearest-spike triplet rule with
    ``a2_plus = a3_minus = 0``.

    Parameters
    ----------
    nu_pre, nu_post : float
        Learning rates of depression and potentiation (weight units), in [0, 1e6].
    tau_pre, tau_post1, tau_post2 : float
        Trace time constants (s), in [1e-12, 1e6].
    w_min, w_max : float
        Weight bounds, in [-1e6, 1e6], ``w_min <= w_max``.
    timing : {'arrival', 'emission'}
        As for :class:`PairSTDP`.

    Examples
    --------
    >>> DiehlCookSTDP().nu_post
    0.01
    """

    nu_pre: float = param(1e-4, check=amplitude)
    nu_post: float = param(1e-2, check=amplitude)
    tau_pre: float = param(20 * ms, unit="s", check=time_constant)
    tau_post1: float = param(20 * ms, unit="s", check=time_constant)
    tau_post2: float = param(40 * ms, unit="s", check=time_constant)
    w_min: float = param(0.0, check=weight)
    w_max: float = param(1.0, check=weight)
    timing: str = param("arrival", check=choice("arrival", "emission"))

    def _validate(self) -> None:
        _bounds(self)

    def kernel_params(self, dt: float) -> dict:
        out = self._common(dt, self.tau_pre, self.tau_pre, self.tau_post1, self.tau_post2, True, True)
        out.update(a2_plus=0.0, a3_plus=self.nu_post, a2_minus=self.nu_pre, a3_minus=0.0)
        return out


@params
class WeightNormalization(Params):
    """Scale each postsynaptic neuron's incoming weights so that they sum to ``target_sum``.

    Applied on demand with ``network.normalize_weights(projection)`` and, when ``every``
    is given, automatically at the start of every ``every`` seconds of simulated time.
    A neuron whose incoming weights sum to 0 is left alone.

    Parameters
    ----------
    target_sum : float
        Target sum of incoming weights (weight units), in (0, 1e15].
    every : float, optional
        Period of automatic normalisation (s), in (0, 1e6].

    Examples
    --------
    >>> WeightNormalization(78.0).target_sum
    78.0
    """

    target_sum: float = param(check=positive_in(VALUE_MAX))
    every: float | None = param(None, unit="s", check=optional(positive_in(TIME_MAX)))
