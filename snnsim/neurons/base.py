"""What a neuron model declares so that engines can compile it.

A neuron model is a parameter record (:class:`NeuronModel`, made with
:func:`~snnsim._params.params`) that also says, in one place, how it evolves:

* ``lower(dt) -> {name: value}``: its parameters lowered for a step ``dt`` (s) --
  propagators and other derived constants, by name (NEST's ``pre_run_hook``, GeNN's
  derived parameters).  A value is a float, or an array of shape ``(n,)`` for a parameter
  that differs between neurons.
* ``kernel() -> NeuronKernel``: its state variables and its step as plain scalar Python
  functions of those variables and of ``p``, the lowered parameters as attributes
  (``p.v_th``).  Engines compile the functions from their source (the ``numba`` engine
  with ``numba.njit``, inlined into a loop over the neurons it generates).

The step of one neuron from ``t`` to ``t + dt``, as every compiling engine runs it::

    new = update(*state, p)                  # all state variables, in kernel.state order
    fired = not refractory and threshold(*new, p)
    if refractory: the variables in kernel.hold keep their old values
    if fired: state = reset(*new, p); refractory for round(t_ref / dt) steps

Spikes arriving at a step are added to the channel variables before the update: the state
must name the two channels ``i_e``/``i_i`` (current-like: weights in the units of that
variable) or ``g_e``/``g_i`` (conductances: weights must be >= 0); projections choose one
with ``receptor=``.  Any other names are the model's own state (e.g. Izhikevich's ``u``).
``initial_state()`` gives every variable's initial value, ``lower(dt)["ref_steps"]`` the
refractory period in steps (0: none).  The functions may use ``math``,
``numpy`` (as ``np``), numeric constants, other plain functions of the same kind and
Numba-compiled functions; they must return a tuple of floats in ``kernel.state`` order
(``threshold`` a bool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .._params import Params

__all__ = ["NeuronModel", "NeuronKernel"]


@dataclass(frozen=True)
class NeuronKernel:
    """A neuron model's step, as the compiling engines need it.

    Parameters
    ----------
    name : str
        Name used in error messages and generated code (e.g. ``"LIF/Current"``).
    state : tuple of str
        Per-neuron state variables, in the argument order of the functions.
    params : tuple of str
        Names of the lowered parameters the functions read (attributes of ``p``; keys of
        ``lower(dt)``).
    update, threshold, reset : callables
        ``update(*state, p) -> tuple`` (the state after one step, before threshold),
        ``threshold(*state, p) -> bool`` (on the updated state),
        ``reset(*state, p) -> tuple`` (the state after a spike).
    hold : tuple of str
        Variables held at their value during the refractory period (the rest evolve).
    count : tuple of str
        Variables whose non-finite values the engine counts in its vectorised loop (a
        non-finite channel makes ``v`` non-finite in the same step); the first non-finite
        variable of a neuron is then named in the order: the other state variables first,
        then these.
    """

    name: str
    state: tuple[str, ...]
    params: tuple[str, ...]
    update: Callable
    threshold: Callable
    reset: Callable
    hold: tuple[str, ...] = ("v",)
    count: tuple[str, ...] = ("v",)
    units: tuple[str, ...] = ()

    def unit(self, name: str) -> str:
        """The SI unit of state variable ``name`` ("" when dimensionless or not declared)."""
        if self.units and name in self.state:
            return self.units[self.state.index(name)]
        return "V" if name in ("v", "i_e", "i_i", "theta") else ""

    def note_order(self) -> tuple[str, ...]:
        """The order in which a neuron's variables are checked for the first non-finite one."""
        return tuple(s for s in self.state if s not in self.count) + self.count


class NeuronModel(Params):
    """Base class of neuron population models (see the module docstring)."""

    n: int

    def lower(self, dt: float) -> dict:
        """The lowered parameters for a step of ``dt`` seconds, by name."""
        raise NotImplementedError

    def kernel(self) -> NeuronKernel:
        """The model's state variables and step functions."""
        raise NotImplementedError

    def initial_state(self) -> dict:
        """Initial value of every state variable (SI), by name: a float or an array (n,)."""
        raise NotImplementedError
