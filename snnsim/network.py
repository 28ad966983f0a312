"""The network builder: populations, projections, recorders, and running.

Examples
--------
>>> import snnsim as sn
>>> from snnsim.units import ms, mV, Hz
>>> net = sn.Network(dt=0.1 * ms, seed=1)
>>> inp = net.add(sn.PoissonInput(100, rate=20 * Hz), name="input")
>>> exc = net.add(sn.LIF(10, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-70 * mV,
...                      v_th=-50 * mV), name="exc")
>>> proj = net.connect(inp, exc, sn.AllToAll(), weight=2 * mV, delay=1 * ms)
>>> spikes = net.record_spikes(exc)
>>> result = net.run(100 * ms)
>>> result[spikes].t_stop
0.1
"""

from __future__ import annotations

import difflib
import math
import warnings

import numpy as np

from . import plan as _p
from ._params import fail, positive
from .connectivity import AllToAll, ConnectivityRule
from .distributions import Distribution, resolve_values
from .errors import NetworkError, ParameterError, RecordingError, SnnsimWarning
from .inputs import InputModel, PoissonInput, SpikeSource, check_rates
from .monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from .neurons import NeuronModel
from .plasticity import PlasticityRule, WeightNormalization
from .results import Result
from .synapses import Conductance

__all__ = ["Network", "Population", "Projection"]


def _check_time(owner: str, name: str, value, allow_zero: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                   np.floating)):
        fail(owner, name, value, "a number of seconds", "s")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        fail(owner, name, x, ">= 0 s and finite" if allow_zero else "> 0 s and finite", "s")
    return x


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
            self._init = {"v": np.full(self.n, model.v_rest), "g_e": np.zeros(self.n),
                          "g_i": np.zeros(self.n), "theta": np.zeros(self.n)}
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
        ch = ("g_e", "g_i") if isinstance(self.model.synapses, Conductance) else ("i_e", "i_i")
        return ("v",) + ch + (("theta",) if self.model.adaptive else ())

    # -- inputs -------------------------------------------------------------------------
    def _checked_rates(self, rates) -> np.ndarray:
        arr = check_rates(f"PoissonInput {self.name!r}", rates, self.n)
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
            self._plan.pop_i[self.index, _p.PI_FROZEN] = int(self._frozen)
            self._plan.version += 1

    # -- state ----------------------------------------------------------------------------
    def _row(self, name: str) -> int:
        if name not in self.variables:
            hint = difflib.get_close_matches(name, self.variables, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise RecordingError(f"population {self.name!r} ({type(self.model).__name__}) has no "
                                 f"variable {name!r}; it has: {', '.join(self.variables) or 'none'}"
                                 f"{extra}")
        return _p.STATE_ROWS[name]

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

    def set_state(self, **values) -> None:
        """Set current values of state variables (scalar, array (n,) or a Distribution)."""
        net = self.network
        for name, value in values.items():
            row = self._row(name)
            arr = resolve_values(f"{self.name}.{name}", value, self.n, net._rng)
            if self._plan is None:
                self._init[self._key(name)] = arr
            else:
                net._sync_from_engine()
                self._plan.st[row, self._lo:self._lo + self.n] = arr
                self._plan.version += 1

    def set_initial(self, **values) -> None:
        """Set initial values of state variables (restored by ``reset_state``) and the current
        values too.  Values: scalar, array (n,) or a Distribution (drawn once, now)."""
        for name, value in values.items():
            self._row(name)
            arr = resolve_values(f"{self.name}.{name}", value, self.n, self.network._rng)
            self._init[self._key(name)] = arr
            if self._plan is not None:
                self.set_state(**{name: arr})

    # -- plan binding -------------------------------------------------------------------------
    def _copy_state_into(self, st, ref, nxt, pop_i_row) -> None:
        """Fill this population's block of a new plan (from the old plan, or initial values)."""
        if self._plan is not None:
            old = self._plan
            lo, hi = self._lo, self._lo + self.n
            st[:] = old.st[:, lo:hi]
            ref[:] = old.ref[lo:hi]
            nxt[:] = old.nxt[lo:hi]
            oi = old.pop_i[self._old_index]
            pop_i_row[_p.PI_REDRAW] = oi[_p.PI_REDRAW]
            pop_i_row[_p.PI_SRC_PTR] = pop_i_row[_p.PI_SRC_LO] + (oi[_p.PI_SRC_PTR] - oi[_p.PI_SRC_LO])
            self._rng_state = old.rng[self._old_index].copy()
        else:
            self._fill_initial(st, ref, pop_i_row, keep=())
        pop_i_row[_p.PI_FROZEN] = int(self._frozen)

    def _fill_initial(self, st, ref, pop_i_row, keep) -> None:
        if not self.is_input:
            # a per-neuron bias lives in the S_BIAS row; a scalar one in the population's
            # parameters (PF_BIAS), so the row stays zero then
            r = self.model.resistance or 0.0
            st[_p.S_BIAS] = (np.asarray(self.model.i_bias) * r if np.ndim(self.model.i_bias)
                             else 0.0)
            for name, row in (("v", _p.S_V), ("g_e", _p.S_GE), ("g_i", _p.S_GI), ("theta", _p.S_THETA)):
                if name not in keep:
                    st[row] = self._init[name]
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


class Projection:
    """Synapses from one population to another (returned by :meth:`Network.connect`).

    Synapses are stored sorted by (delay, pre, post); ``pre``, ``post``, ``delays`` and the
    sparse weight view use that order.
    """

    def __init__(self, network, name, pre, post, rule, receptor, pre_idx, post_idx, w, delay,
                 plasticity, normalization, index):
        self.network = network
        self.name = name
        self.pre = pre
        self.post = post
        self.rule = rule
        self.receptor = receptor
        self.plasticity = plasticity
        self.normalization = normalization
        self.index = index
        order = np.lexsort((post_idx, pre_idx, delay))
        self._pre = pre_idx[order]
        self._post = post_idx[order]
        self._delay = delay[order]
        self._w = w[order]
        for a in (self._pre, self._post, self._delay):
            a.setflags(write=False)
        self._plastic = plasticity is not None
        self._on_step = 0   # step at which plasticity was last switched on
        self._gain = np.ones(post.n)  # per-postsynaptic-neuron learning-rate factor
        self._plan = None
        self._traces = None  # (x (2, n_pre), y (2, n_post), h (2, R, n_pre), R) once bound

    def __repr__(self) -> str:
        return (f"<Projection {self.name!r}: {self.pre.name} -> {self.post.name}, "
                f"{self.n_synapses} synapses, receptor {self.receptor!r}>")

    @property
    def n_synapses(self) -> int:
        return int(self._pre.size)

    @property
    def pre_indices(self) -> np.ndarray:
        """Presynaptic neuron of each synapse (read-only, shape (n_synapses,))."""
        return self._pre

    @property
    def post_indices(self) -> np.ndarray:
        """Postsynaptic neuron of each synapse (read-only, shape (n_synapses,))."""
        return self._post

    @property
    def delays(self) -> np.ndarray:
        """Delay of each synapse in seconds (whole steps, >= dt), shape (n_synapses,)."""
        return self._delay * self.network.dt

    @property
    def plastic(self) -> bool:
        """Whether plasticity is on.  Turning it off stops trace and weight updates (and
        automatic normalisation); turning it back on restarts the traces from zero, and only
        presynaptic spikes emitted from then on take part in plasticity."""
        return self._plastic

    @plastic.setter
    def plastic(self, value: bool) -> None:
        if self.plasticity is None and value:
            raise NetworkError(f"projection {self.name!r} has no plasticity rule to switch on")
        value = bool(value)
        if value and not self._plastic and self._traces is not None:
            self.network._sync_from_engine()
            x, y, h, _ = self._traces
            x[:] = 0.0
            y[:] = 0.0
            h[:] = 0.0
        if value and not self._plastic:
            self._on_step = int(self._plan.step[0]) if self._plan is not None else 0
        self._plastic = value
        if self._plan is not None:
            self._plan.prj_i[self.index, _p.QI_PLASTIC] = int(value)
            self._plan.prj_i[self.index, _p.QI_ONSTEP] = self._on_step
            self._plan.version += 1

    @property
    def plasticity_gain(self) -> np.ndarray:
        """Learning-rate factor of each postsynaptic neuron (shape (n_post,), default 1): every
        weight change of a synapse onto neuron j is multiplied by ``gain[j]`` (0 freezes the
        neuron's incoming weights).  A copy; assign to set."""
        return np.array(self._gain, copy=True)

    @plasticity_gain.setter
    def plasticity_gain(self, value) -> None:
        if self.plasticity is None:
            raise NetworkError(f"projection {self.name!r} has no plasticity rule")
        arr = resolve_values(f"{self.name} plasticity_gain", value, self.post.n, self.network._rng)
        if np.any(arr < 0):
            raise ParameterError(f"projection {self.name!r}: plasticity_gain must be >= 0, got "
                                 f"{arr.min():.6g}")
        self.network._sync_from_engine()
        self._gain[:] = arr
        if self._plan is not None:
            self._plan.version += 1

    # -- weights ------------------------------------------------------------------------------
    def get_weights(self, format: str = "dense") -> np.ndarray | tuple:
        """Weights as a dense (n_pre, n_post) matrix (0 where there is no synapse) or, with
        ``format='sparse'``, as ``(pre, post, w)`` arrays in storage order.  Copies."""
        self.network._sync_from_engine()
        if format == "sparse":
            return self._pre.copy(), self._post.copy(), self._w.copy()
        if format != "dense":
            raise ParameterError(f"get_weights format must be 'dense' or 'sparse', got {format!r}")
        m = np.zeros((self.pre.n, self.post.n))
        if self._has_duplicates():
            raise NetworkError(f"projection {self.name!r} has parallel synapses (same pre and post); "
                               "use get_weights('sparse')")
        m[self._pre, self._post] = self._w
        return m

    @property
    def weights(self) -> np.ndarray:
        """Dense weight matrix, shape (n_pre, n_post) (a copy; assign to set)."""
        return self.get_weights("dense")

    @weights.setter
    def weights(self, value) -> None:
        self.set_weights(value)

    def _has_duplicates(self) -> bool:
        if not hasattr(self, "_dup"):
            key = self._pre * self.post.n + self._post
            self._dup = bool(np.unique(key).size != key.size)
        return self._dup

    def set_weights(self, value, format: str = "auto") -> None:
        """Set weights from a dense (n_pre, n_post) matrix, a per-synapse array in storage order
        (shape (n_synapses,)), a scalar or a Distribution.  A dense matrix may only hold
        non-zero values where synapses exist."""
        n_pre, n_post, ns = self.pre.n, self.post.n, self.n_synapses
        arr = None
        if not isinstance(value, Distribution) and np.ndim(value) == 2:
            m = np.asarray(value, dtype=float)
            if m.shape != (n_pre, n_post):
                raise ParameterError(f"dense weights for {self.name!r} must have shape "
                                     f"({n_pre}, {n_post}), got {m.shape}")
            if self._has_duplicates():
                raise NetworkError(f"projection {self.name!r} has parallel synapses; set weights "
                                   "with a per-synapse array")
            mask = np.zeros((n_pre, n_post), dtype=bool)
            mask[self._pre, self._post] = True
            if np.any(m[~mask] != 0):
                raise ParameterError(f"dense weights for {self.name!r} are non-zero where no "
                                     "synapse exists")
            arr = m[self._pre, self._post]
        else:
            arr = resolve_values(f"{self.name} weights", value, ns, self.network._rng)
        self.network._check_weights(self.name, self.post, arr)
        self.network._sync_from_engine()
        self._w[:] = arr
        if self._plan is not None:
            self._plan.version += 1

    # -- plan binding ---------------------------------------------------------------------------
    def _copy_traces_into(self, x, y, h3, R) -> None:
        if self._traces is None:
            return
        ox, oy, oh, oR = self._traces
        x[:] = ox
        y[:] = oy
        n = int(self._plan.step[0])
        if oR == 0 or R == 0:
            return
        for back in range(1, min(oR, R)):
            if n - back < 0:
                break
            h3[:, (n - back) % R] = oh[:, (n - back) % oR]

    def _bind(self, plan, index: int) -> None:
        self._plan = plan
        self.index = index
        s0 = int(plan.prj_i[index, _p.QI_SOFF])
        self._w = plan.w[s0:s0 + self.n_synapses]
        if plan.prj_i[index, _p.QI_RULE]:
            xo, yo, ho = (int(plan.prj_i[index, c]) for c in (_p.QI_XOFF, _p.QI_YOFF, _p.QI_HOFF))
            npre, npost = self.pre.n, self.post.n
            self._gain = plan.gain[yo:yo + npost]
            rh = plan.R if plan.prj_i[index, _p.QI_TMODE] == _p.TM_HET else 0
            self._traces = (plan.xtr[:, xo:xo + npre], plan.ytr[:, yo:yo + npost],
                            plan.hx[:, ho:ho + rh * npre].reshape(2, rh, npre), rh)


class Network:
    """A spiking network: populations, projections and recorders, run by an engine.

    Parameters
    ----------
    dt : float
        Time step (s), > 0.
    seed : int, optional
        Seed of every random choice (connectivity, weights, delays, initial values, Poisson
        spikes).  Same seed, same engine, same machine: bitwise the same results.  None
        draws a seed from the operating system; it is kept in ``network.seed``.
    """

    def __init__(self, dt: float = 0.1e-3, seed: int | None = None):
        self.dt = _check_time("Network", "dt", dt, allow_zero=False)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            fail("Network", "seed", seed, "a non-negative integer or None")
        self.seed = int(seed)
        self._rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0]))
        self.populations: list[Population] = []
        self.projections: list[Projection] = []
        self.monitors: list[Monitor] = []
        self._plan: _p.Plan | None = None
        self._dirty = True
        self._sim = None
        self._sim_key = None
        self._rec_cache = None

    def __getstate__(self):
        # populations and projections hold views into the compiled plan; a pickled copy would
        # silently lose that link (and pickle is no format to keep results in)
        raise NetworkError("snnsim networks cannot be pickled; save them with snnsim.io.save(path, "
                           "network) and read them back with snnsim.io.load(path) (HDF5)")

    # -- building -----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Population:
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise NetworkError(f"no population named {name!r}; populations: "
                           f"{', '.join(p.name for p in self.populations) or 'none'}")

    def projection(self, name: str) -> Projection:
        for pr in self.projections:
            if pr.name == name:
                return pr
        raise NetworkError(f"no projection named {name!r}")

    def add(self, model, name: str | None = None) -> Population:
        """Add a population (``LIF``, ``AdaptiveLIF``, ``PoissonInput``, ``SpikeSource``)."""
        if not isinstance(model, (NeuronModel, InputModel)):
            raise NetworkError(f"add() takes a neuron or input model, got {type(model).__name__}")
        name = name or f"{type(model).__name__.lower()}{len(self.populations)}"
        if any(p.name == name for p in self.populations):
            raise NetworkError(f"a population named {name!r} already exists")
        if isinstance(model, NeuronModel):
            taus = {"tau_m": model.tau_m, "tau_e": model.synapses.tau_e, "tau_i": model.synapses.tau_i}
            short = min(taus, key=taus.get)
            if self.dt > taus[short]:
                warnings.warn(f"dt = {self.dt:.6g} s is larger than {name}.{short} = "
                              f"{taus[short]:.6g} s; the integration is exact per step but events "
                              "are resolved only to dt", SnnsimWarning, stacklevel=2)
        seq = np.random.SeedSequence(self.seed, spawn_key=(1, len(self.populations)))
        state = seq.generate_state(4, np.uint64)
        state[state == 0] = 1
        pop = Population(self, model, name, len(self.populations), state)
        self.populations.append(pop)
        self._dirty = True
        return pop

    def _own(self, pop, what: str) -> Population:
        if not isinstance(pop, Population):
            raise NetworkError(f"{what} must be a Population returned by Network.add, got "
                               f"{type(pop).__name__}")
        if pop.network is not self:
            raise NetworkError(f"{what} population {pop.name!r} belongs to another network")
        return pop

    def _check_weights(self, name: str, post: Population, w: np.ndarray) -> None:
        if not np.all(np.isfinite(w)):
            raise ParameterError(f"projection {name!r}: weights must be finite")
        if isinstance(post.model.synapses, Conductance) and np.any(w < 0):
            raise ParameterError(f"projection {name!r}: conductance weights must be >= 0 (they are "
                                 f"in units of the leak conductance), got {w.min():.6g}")

    def connect(self, pre: Population, post: Population, rule: ConnectivityRule | None = None, *,
                weight=1.0, delay=None, receptor: str = "exc",
                plasticity: PlasticityRule | None = None,
                normalization: WeightNormalization | None = None,
                name: str | None = None) -> Projection:
        """Connect ``pre`` to ``post``.

        Parameters
        ----------
        pre, post : Population
            Populations of this network; ``post`` must be a neuron population.
        rule : ConnectivityRule
            Which pairs are connected (default :class:`AllToAll`).
        weight : float, array (n_synapses,) or Distribution
            Synaptic weights, in the units of ``post``'s synapse model (volts for
            :class:`Current`, units of the leak conductance for :class:`Conductance`).
            Arrays follow the order the rule produced the synapses in.
        delay : float, array or Distribution, optional
            Transmission delays (s), rounded to whole steps, at least one step (the default).
        receptor : {'exc', 'inh'}
            The postsynaptic channel.
        plasticity : PlasticityRule, optional
            STDP rule acting on these synapses.
        normalization : WeightNormalization, optional
            Target sum of each postsynaptic neuron's incoming weights.
        """
        pre = self._own(pre, "pre")
        post = self._own(post, "post")
        if post.is_input:
            raise NetworkError(f"cannot connect onto {post.name!r}: it is an input "
                               f"({type(post.model).__name__}) and has no synapses")
        rule = AllToAll() if rule is None else rule
        if not isinstance(rule, ConnectivityRule):
            raise NetworkError(f"rule must be a connectivity rule (e.g. snnsim.AllToAll()), got "
                               f"{type(rule).__name__}")
        if receptor not in ("exc", "inh"):
            hint = difflib.get_close_matches(str(receptor), ["exc", "inh"], n=1)
            raise ParameterError(f"receptor must be 'exc' or 'inh', got {receptor!r}"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""))
        if plasticity is not None and not isinstance(plasticity, PlasticityRule):
            raise NetworkError(f"plasticity must be a plasticity rule, got {type(plasticity).__name__}")
        if normalization is not None and not isinstance(normalization, WeightNormalization):
            raise NetworkError("normalization must be a WeightNormalization")
        name = name or f"{pre.name}->{post.name}"
        if any(p.name == name for p in self.projections):
            name = f"{name}#{len(self.projections)}"
        pre_idx, post_idx = rule.build(pre.n, post.n, self._rng, pre is post)
        ns = pre_idx.size
        w = resolve_values(f"projection {name!r} weight", weight, ns, self._rng)
        self._check_weights(name, post, w)
        if delay is None:
            d = np.ones(ns, dtype=np.int64)
        else:
            dsec = resolve_values(f"projection {name!r} delay", delay, ns, self._rng)
            if np.any(dsec < 0):
                raise ParameterError(f"projection {name!r}: delays must be >= 0 s, got "
                                     f"{dsec.min():.6g} s")
            d = np.maximum(np.rint(dsec / self.dt).astype(np.int64), 1)
        proj = Projection(self, name, pre, post, rule, receptor, pre_idx.astype(np.int64),
                          post_idx.astype(np.int64), w, d, plasticity, normalization,
                          len(self.projections))
        self.projections.append(proj)
        self._dirty = True
        return proj

    # -- recording ---------------------------------------------------------------------------
    def _indices(self, pop: Population, indices, what: str) -> np.ndarray:
        arr = np.asarray(indices)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise RecordingError(f"{what}: indices must be a 1-D array of integers")
        if arr.size and (arr.min() < 0 or arr.max() >= pop.n):
            raise RecordingError(f"{what}: indices must be in [0, {pop.n}) for population "
                                 f"{pop.name!r}, got {int(arr[(arr < 0) | (arr >= pop.n)][0])}")
        return np.unique(arr.astype(np.int64))

    def record_spikes(self, pop: Population, indices=None) -> SpikeMonitor:
        """Record spikes of ``pop`` (all neurons, or ``indices``) in every later run."""
        pop = self._own(pop, "record_spikes")
        idx = None if indices is None else self._indices(pop, indices, "record_spikes")
        h = SpikeMonitor(pop.name, len(self.monitors), idx)
        self.monitors.append(h)
        self._rec_cache = None
        return h

    def record_state(self, pop: Population, variables, indices, every: float | None = None
                     ) -> StateMonitor:
        """Record state ``variables`` of neurons ``indices`` of ``pop`` every ``every`` seconds
        (default: every step).  Indices must be given explicitly (memory grows with them)."""
        pop = self._own(pop, "record_state")
        if pop.is_input:
            raise RecordingError(f"population {pop.name!r} is an input and has no state variables")
        if indices is None:
            raise RecordingError("record_state needs explicit neuron indices (e.g. indices=[0, 1] "
                                 "or indices=range(n)); recording every neuron's state costs memory")
        variables = (variables,) if isinstance(variables, str) else tuple(variables)
        if not variables:
            raise RecordingError("record_state needs at least one variable")
        for v in variables:
            pop._row(v)
        idx = self._indices(pop, np.asarray(list(indices) if isinstance(indices, range) else indices),
                            "record_state")
        k = 1 if every is None else int(round(_check_time("record_state", "every", every, False)
                                              / self.dt))
        h = StateMonitor(pop.name, len(self.monitors), variables=variables, indices=idx,
                         every=max(k, 1))
        self.monitors.append(h)
        self._rec_cache = None
        return h

    def population_rate(self, pop: Population) -> RateMonitor:
        """Record the spike count of the whole population in every step."""
        pop = self._own(pop, "population_rate")
        h = RateMonitor(pop.name, len(self.monitors))
        self.monitors.append(h)
        self._rec_cache = None
        return h

    # -- compiling and running ------------------------------------------------------------------
    def compile(self) -> _p.Plan:
        """Lower the network to its flat :class:`~snnsim.plan.Plan` (cached until it changes)."""
        if self._dirty or self._plan is None:
            if not self.populations:
                raise NetworkError("the network is empty; add populations first")
            self._sync_from_engine()
            self._plan = _p.build_plan(self)
            self._dirty = False
            self._sim = None
            self._rec_cache = None
        return self._plan

    @property
    def t(self) -> float:
        """Current simulated time (s)."""
        return 0.0 if self._plan is None else self._plan.t

    def _sync_from_engine(self) -> None:
        if self._sim is not None:
            self._sim.pull()

    def _recording(self):
        if self._rec_cache is None:
            from .engines import RecordingSpec
            self._rec_cache = RecordingSpec.build(self, self._plan)
        return self._rec_cache

    def _simulation(self, engine, options):
        from .engines import get_engine
        eng = get_engine(engine) if isinstance(engine, str) else engine
        key = (eng.name, tuple(sorted(options.items())))
        if self._sim is None or self._sim_key != key:
            self._sync_from_engine()
            self._sim = eng.prepare(self._plan, **options)
            self._sim_key = key
        return self._sim

    def run(self, duration: float, engine: str = "numba", *, progress: bool = False,
            **options) -> Result:
        """Simulate ``duration`` seconds (rounded to whole steps), continuing from the current
        state, and return what the recorders saw.

        Parameters
        ----------
        duration : float
            Simulated time (s), >= 0.
        engine : str
            ``"numba"`` (default), ``"reference"``, or an installed optional engine.
        progress : bool
            Show a tqdm progress bar (the run is split into chunks; results are identical).
        **options
            Engine options, e.g. ``threads=2`` for ``numba``.
        """
        duration = _check_time("run", "duration", duration)
        n_steps = int(round(duration / self.dt))
        plan = self.compile()
        sim = self._simulation(engine, options)
        spec = self._recording()
        step0 = int(plan.step[0])
        if progress and n_steps > 0:
            from tqdm.auto import tqdm
            chunk = max(1, n_steps // 100)
            spec_run = spec.start(n_steps, step0)
            with tqdm(total=n_steps * self.dt, unit="s sim", desc="simulating",
                      bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g} s [{elapsed}<{remaining}]") as bar:
                done = 0
                while done < n_steps:
                    k = min(chunk, n_steps - done)
                    sim.run(k, spec_run)
                    done += k
                    bar.n = done * self.dt  # set, not accumulated: no rounding drift
                    bar.refresh()
            raw = spec_run.finish()
        else:
            spec_run = spec.start(n_steps, step0)
            sim.run(n_steps, spec_run)
            raw = spec_run.finish()
        return Result(dt=self.dt, step0=step0, n_steps=n_steps, raw=raw, layout=spec_run.layout)

    def reset_state(self, keep: tuple[str, ...] = ()) -> None:
        """Return every neuron, input and trace to its initial state and the time to 0; weights
        are kept, and so is each variable named in ``keep`` (e.g. ``keep=("theta",)``).
        Random generators continue (new Poisson spikes after a reset)."""
        for k in keep:
            if k not in ("v", "g_e", "g_i", "theta"):
                raise ParameterError(f"reset_state keep= takes 'v', 'g_e', 'g_i', 'theta', got {k!r}")
        plan = self.compile()
        self._sync_from_engine()
        for p, pop in enumerate(self.populations):
            lo, hi = pop._lo, pop._lo + pop.n
            pop._fill_initial(plan.st[:, lo:hi], plan.ref[lo:hi], plan.pop_i[p], keep)
        plan.xtr[:] = 0.0
        plan.ytr[:] = 0.0
        plan.hx[:] = 0.0
        for pr in self.projections:
            pr._on_step = 0
        plan.prj_i[:, _p.QI_ONSTEP] = 0
        plan.hist_cnt[:] = 0
        plan.step[0] = 0
        plan.version += 1

    def normalize_weights(self, projection: Projection, target_sum: float | None = None) -> None:
        """Scale each postsynaptic neuron's incoming weights of ``projection`` to sum to
        ``target_sum`` (default: the projection's ``WeightNormalization``)."""
        if not isinstance(projection, Projection) or projection.network is not self:
            raise NetworkError("normalize_weights takes a projection of this network")
        if target_sum is None:
            if projection.normalization is None:
                raise ParameterError(f"projection {projection.name!r} has no WeightNormalization; "
                                     "pass target_sum=")
            target_sum = projection.normalization.target_sum
        target_sum = positive("normalize_weights", "target_sum", target_sum, "")
        plan = self.compile()
        if self._sim is not None and hasattr(self._sim, "normalize_weights"):
            # the engine keeps the weights elsewhere (GPU): normalise them there
            self._sim.normalize_weights(projection.index, float(target_sum))
            return
        self._sync_from_engine()
        from .engines._numba_kernels import normalize_columns
        s0 = int(plan.prj_i[projection.index, _p.QI_SOFF])
        normalize_columns(plan.w, plan.syn_post, s0, s0 + projection.n_synapses, projection.post.n,
                          float(target_sum))
        plan.version += 1
