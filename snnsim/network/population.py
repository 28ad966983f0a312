"""Populations: groups of neurons or inputs of a network (``Network.add`` returns one)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import numpy as np

from .. import plan as _p
from ..errors import NetworkError, ParameterError, RecordingError
from ..inputs import InputModel, PoissonInput, SpikeSource, check_rates
from ..neurons import NeuronModel
from ._checks import _bounded, _numeric, _values

if TYPE_CHECKING:
    from .builder import Network

class Population:
    """A group of neurons or inputs in a network (returned by :meth:`Network.add`).

    Attributes
    ----------
    name : str
    model : LIF, AdaptiveLIF, PoissonInput or SpikeSource
    n : int
        Number of neurons.
    """

    def __init__(self, network: "Network", model, name: str, index: int, rng_state: np.ndarray):
        self.network = network
        self.model = model
        self.name = name
        self.index = index
        self.n = model.n
        self._rng_state = rng_state
        self._plan = None
        self._lo = 0
        self._old_index: int | None = None
        self._init: dict[str, np.ndarray] = {}
        if isinstance(model, NeuronModel):
            self._init = {self._key(k): np.broadcast_to(np.asarray(x, dtype=np.float64),
                                                         (self.n,)).copy()
                          for k, x in model.initial_state().items()}
        self._rates = None
        if isinstance(model, PoissonInput):
            self._rates = self._checked_rates(model.rate)
        self._frozen = bool(getattr(model, "theta_frozen", False))

    # -- description --------------------------------------------------------------------
    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"<Population {self.name!r}: {type(self.model).__name__}({self.n})>"

    @property
    def is_input(self) -> bool:
        return isinstance(self.model, InputModel)

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the recordable state variables."""
        if self.is_input:
            return ()
        return self.model.kernel().state

    @property
    def _conductance(self) -> bool:
        """Whether the channels are conductances (weights and g_e/g_i must be >= 0)."""
        return not self.is_input and "g_e" in self.model.kernel().state

    # -- inputs -------------------------------------------------------------------------
    def _checked_rates(self, rates) -> np.ndarray:
        arr = check_rates(f"PoissonInput {self.name!r}",
                          _numeric(f"PoissonInput {self.name!r}.rate", rates), self.n)
        dt = self.network.dt
        if np.any(arr * dt > 1.0):
            i = int(np.argmax(arr))
            raise ParameterError(f"PoissonInput {self.name!r}.rate must be <= 1/dt = {1 / dt:.6g} Hz, "
                                 f"got {arr[i]:.6g} Hz (neuron {i})")
        return arr

    def set_rates(self, rates) -> None:
        """Set the firing rates (Hz) of a Poisson input, scalar or shape (n,); takes effect at
        the next run (pending next-spike times are redrawn, which is exact for Poisson)."""
        if not isinstance(self.model, PoissonInput):
            raise NetworkError(f"set_rates: population {self.name!r} is a "
                               f"{type(self.model).__name__}, not a PoissonInput")
        self._rates = self._checked_rates(rates)
        if self._plan is not None:
            lo, hi = self._lo, self._lo + self.n
            p = self._rates * self.network.dt
            self._plan.st[_p.S_P, lo:hi] = p
            with np.errstate(divide="ignore"):
                self._plan.st[_p.S_LOGQ, lo:hi] = np.log1p(-p)
            self._plan.pop_i[self.index, _p.PI_REDRAW] = 1
            self._plan.version += 1

    @property
    def rates(self) -> np.ndarray:
        """Current rates of a Poisson input (Hz), a copy."""
        if self._rates is None:
            raise NetworkError(f"population {self.name!r} has no rates (not a PoissonInput)")
        return self._rates.copy()

    def _source_events(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        m: SpikeSource = self.model
        steps = np.rint(m.times / dt).astype(np.int64)
        order = np.lexsort((m.indices, steps))
        steps, idx = steps[order], m.indices[order]
        dup = (np.diff(steps) == 0) & (np.diff(idx) == 0)
        if dup.any():
            k = int(np.flatnonzero(dup)[0])
            raise ParameterError(f"SpikeSource {self.name!r}: neuron {int(idx[k])} has two spikes in "
                                 f"the time step at {steps[k] * dt:.6g} s (dt = {dt:.6g} s)")
        return steps, idx.astype(np.int64)

    # -- adaptive threshold -------------------------------------------------------------
    @property
    def theta_frozen(self) -> bool:
        """Whether the adaptive threshold is frozen (no growth, no decay)."""
        return self._frozen

    @theta_frozen.setter
    def theta_frozen(self, value: bool) -> None:
        if not getattr(self.model, "adaptive", False):
            raise NetworkError(f"population {self.name!r} has no adaptive threshold")
        self._frozen = bool(value)
        if self._plan is not None:
            self._plan.set_frozen(self.index, self._frozen)

    # -- state ----------------------------------------------------------------------------
    def _row(self, name: str) -> int:
        if not isinstance(name, str):
            raise RecordingError(f"population {self.name!r}: a state variable is named by a "
                                 f"string ({', '.join(self.variables) or 'none'}), got {name!r}")
        if name not in self.variables:
            hint = difflib.get_close_matches(name, self.variables, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise RecordingError(f"population {self.name!r} ({type(self.model).__name__}) has no "
                                 f"variable {name!r}; it has: {', '.join(self.variables) or 'none'}"
                                 f"{extra}")
        rows = self._plan.rows if self._plan is not None else _p.STATE_ROWS
        return rows.get(name, -1)  # -1: a model's own variable before the first plan

    def _key(self, name: str) -> str:
        return {"i_e": "g_e", "i_i": "g_i"}.get(name, name)

    def get_state(self, name: str) -> np.ndarray:
        """Current values of state variable ``name`` (SI units), a copy of shape (n,)."""
        row = self._row(name)
        net = self.network
        net._sync_from_engine()
        if self._plan is None:
            return self._init[self._key(name)].copy()
        return self._plan.st[row, self._lo:self._lo + self.n].copy()

    def _checked_state(self, name: str, value, allow_negative: bool = False) -> np.ndarray:
        """Values for variable ``name``: finite numbers, |x| <= MAX_VALUE, conductances >= 0
        (unless ``allow_negative``)."""
        self._row(name)
        what = f"population {self.name!r} {name}"
        arr = _values(what, value, self.n, self.network._rng)
        cond = name in ("g_e", "g_i") and self._conductance
        unit = self.model.kernel().unit(name)
        _bounded(what + (" (a conductance, in units of the leak conductance; allow_negative=True "
                         "to start from negative values)" if cond else ""),
                 arr, unit, nonneg=cond and not allow_negative)
        return arr

    def set_state(self, *, allow_negative: bool = False, **values) -> None:
        """Set current values of state variables.

        Parameters
        ----------
        allow_negative : bool
            Accept negative conductances ``g_e``/``g_i`` (unphysical, but the Vogels & Abbott
            2005 benchmark starts from unclipped normal conductances); default False.
        **values : float, array of shape (n,) or Distribution
            By variable name (see :attr:`variables`): ``v`` and ``theta`` in volts, the
            channels ``i_e``/``i_i`` in volts or ``g_e``/``g_i`` in units of the leak
            conductance.  Finite, at most 1e6 in magnitude; conductances >= 0.  All values
            are checked before any is set.
        """
        net = self.network
        checked = {name: self._checked_state(name, value, bool(allow_negative))
                   for name, value in values.items()}
        for name, arr in checked.items():
            row = self._row(name)
            if self._plan is None:
                self._init[self._key(name)] = arr
            else:
                net._sync_from_engine()
                self._plan.st[row, self._lo:self._lo + self.n] = arr
                self._plan.version += 1

    def set_initial(self, *, allow_negative: bool = False, **values) -> None:
        """Set initial values of state variables (restored by ``reset_state``) and the current
        values too.  Values: scalar, array (n,) or a Distribution (drawn once, now), checked
        as for :meth:`set_state` (``allow_negative`` as there)."""
        checked = {name: self._checked_state(name, value, bool(allow_negative))
                   for name, value in values.items()}
        for name, arr in checked.items():
            self._init[self._key(name)] = arr
            if self._plan is not None:
                self.set_state(allow_negative=allow_negative, **{name: arr})

    # -- plan binding -------------------------------------------------------------------------
    def _copy_state_into(self, st, ref, nxt, pop_i_row, rows, low) -> None:
        """Fill this population's block of a new plan (from the old plan, or initial values);
        ``rows``: the new plan's state rows by name, ``low``: this population's lowered
        parameters in it (None for inputs)."""
        if self._plan is not None:
            old = self._plan
            lo, hi = self._lo, self._lo + self.n
            st[:_p.N_S] = old.st[:_p.N_S, lo:hi]
            for name, r in rows.items():  # the models' own variables, by name
                if r >= _p.N_S and name in old.rows:
                    st[r] = old.st[old.rows[name], lo:hi]
            ref[:] = old.ref[lo:hi]
            nxt[:] = old.nxt[lo:hi]
            oi = old.pop_i[self._old_index]
            pop_i_row[_p.PI_REDRAW] = oi[_p.PI_REDRAW]
            pop_i_row[_p.PI_SRC_PTR] = pop_i_row[_p.PI_SRC_LO] + (oi[_p.PI_SRC_PTR] - oi[_p.PI_SRC_LO])
            self._rng_state = old.rng[self._old_index].copy()
        else:
            self._fill_initial(st, ref, pop_i_row, keep=(), rows=rows, low=low)
        pop_i_row[_p.PI_FROZEN] = int(self._frozen)

    def _fill_initial(self, st, ref, pop_i_row, keep, rows=None, low=None) -> None:
        if not self.is_input:
            # a per-neuron parameter (bias) lives in its row of st; a scalar one in the
            # population's parameters, so the row stays zero then
            if rows is None:  # a reset: the plan has the lowered parameters
                rows, low = self._plan.rows, self._plan.lowered[self.index]
            for name, row in _p.PARAM_ROWS.items():
                st[row] = low[name] if np.ndim(low.get(name, 0.0)) else 0.0
            for name in self.variables:
                key = self._key(name)
                if key not in keep:
                    st[rows[name]] = self._init[key]
            ref[:] = 0
        if self._rates is not None:
            p = self._rates * self.network.dt
            st[_p.S_P] = p
            with np.errstate(divide="ignore"):
                st[_p.S_LOGQ] = np.log1p(-p)
            pop_i_row[_p.PI_REDRAW] = 1
        pop_i_row[_p.PI_SRC_PTR] = pop_i_row[_p.PI_SRC_LO]

    def _bind(self, plan, index: int, lo: int) -> None:
        self._plan = plan
        self.index = index
        self._old_index = index
        self._lo = lo
