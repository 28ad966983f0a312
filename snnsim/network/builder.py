"""The network builder: :class:`Network` with its populations, projections and recorders,
and compiling it to a plan (running it: :mod:`snnsim.network.running`)."""

from __future__ import annotations

import difflib
import warnings

import numpy as np

from .. import plan as _p
from .._params import fail
from ..connectivity import AllToAll, ConnectivityRule
from ..distributions import Distribution
from ..errors import NetworkError, ParameterError, RecordingError, SnnsimWarning
from ..inputs import InputModel, SpikeSource
from ..monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from ..neurons import NeuronModel
from ..plasticity import PlasticityRule, WeightNormalization
from ..results import Result
from ._checks import (DELAY_ROUNDING_WARN, DT_MAX, DT_MIN, MAX_DELAY_STEPS, MAX_NEURONS,
                      MAX_REF_STEPS, MAX_STEPS, _NEURON_BYTES, _SYNAPSE_BYTES, _bounded,
                      _check_memory, _check_name, _check_time, _expected_synapses, _steps,
                      _values)
from .population import Population
from .projection import Projection
from .running import _Running


def _check_kernel(kind: str, model) -> None:
    """A neuron model's declaration: two receptor channels, initial values for its state."""
    kern = model.kernel()
    if not any(set(ch) <= set(kern.state) for ch in _p.CHANNELS):
        raise ParameterError(f"{kind}: the state {kern.state} of neuron model {kern.name!r} must "
                             f"name the two receptor channels 'i_e', 'i_i' or 'g_e', 'g_i' (the "
                             f"variables arriving spikes are added to)")
    missing = [s for s in kern.state if s not in model.initial_state()]
    if missing:
        raise ParameterError(f"{kind}.initial_state() gives no value for {', '.join(missing)} "
                             f"(neuron model {kern.name!r})")


class Network(_Running):
    """A spiking network: populations, projections and recorders, run by an engine.

    Parameters
    ----------
    dt : float
        Time step (s), > 0.
    seed : int, optional
        Seed of every random choice (connectivity, weights, delays, initial values, Poisson
        spikes).  Same seed, same engine, same machine: bitwise the same results.  None
        draws a seed from the operating system; it is kept in ``network.seed``.

    Attributes
    ----------
    interrupted_result : Result or None
        What the recorders saw in the completed steps of the last run, if Ctrl-C stopped
        it (see :meth:`run`); None after a run that was not interrupted.

    Notes
    -----
    The limits on ``dt``, step counts, sizes, values and memory are listed in the module
    docstring of :mod:`snnsim.network`.
    """

    def __init__(self, dt: float = 0.1e-3, seed: int | None = None):
        dt = _check_time("Network", "dt", dt, allow_zero=False)
        if not DT_MIN <= dt <= DT_MAX:
            fail("Network", "dt", dt, f"in [{DT_MIN:g} s, {DT_MAX:g} s]", "s")
        self.dt = dt
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
        self._sim_traits: tuple[str, ...] = ()
        self._rec_cache = None
        #: the :class:`Result` of the steps completed by a run stopped with Ctrl-C (also the
        #: ``result`` attribute of the KeyboardInterrupt); None after any other run
        self.interrupted_result: Result | None = None

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

    def _check_model(self, model, name: str) -> None:
        """The checks of a new population that need dt or the machine (before allocating)."""
        kind = type(model).__name__
        _check_memory(f"population {name!r} ({kind}({model.n}))", model.n * _NEURON_BYTES)
        if model.n > MAX_NEURONS:
            fail(kind, "n", model.n, f"at most {MAX_NEURONS} (synapse indices are int32)")
        if isinstance(model, NeuronModel):
            if hasattr(model, "t_ref"):
                _steps(f"{kind}.t_ref", model.t_ref, self.dt, MAX_REF_STEPS)
            _check_kernel(kind, model)
        elif isinstance(model, SpikeSource) and model.times.size:
            _steps(f"{kind}.times", float(model.times.max()), self.dt, MAX_STEPS)

    def add(self, model, name: str | None = None) -> Population:
        """Add a population (``LIF``, ``AdaptiveLIF``, ``PoissonInput``, ``SpikeSource``).

        Parameters
        ----------
        model : LIF, AdaptiveLIF, PoissonInput or SpikeSource
            The population's model and size.
        name : str, optional
            A unique, non-empty name without NUL characters (default: the model's class
            name and a number).

        Raises
        ------
        ParameterError
            A bad name, or a value that does not fit the network's ``dt`` (a refractory
            period over 2**30 steps, spike times over 2**53 steps).
        ResourceError
            The population would need more than 90 % of the available memory.
        """
        if not isinstance(model, (NeuronModel, InputModel)):
            raise NetworkError(f"add() takes a neuron or input model, got {type(model).__name__}")
        if name is None:
            name = f"{type(model).__name__.lower()}{len(self.populations)}"
        name = _check_name("population", name)
        if any(p.name == name for p in self.populations):
            raise NetworkError(f"a population named {name!r} already exists")
        self._check_model(model, name)
        if isinstance(model, NeuronModel) and hasattr(model, "synapses"):
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
        """Weights: real numbers, finite, |w| <= MAX_VALUE; >= 0 onto conductance synapses."""
        if w.dtype.kind not in "iuf":
            raise ParameterError(f"projection {name!r}: weights must be real numbers, got an array "
                                 f"of dtype {w.dtype}")
        if not np.all(np.isfinite(w)):
            raise ParameterError(f"projection {name!r}: weights must be finite, got "
                                 f"{w[~np.isfinite(w)][0]!r}")
        if post._conductance and np.any(w < 0):
            raise ParameterError(f"projection {name!r}: conductance weights must be >= 0 (they are "
                                 f"in units of the leak conductance), got {w.min():.6g}")
        unit = "" if post._conductance else post.model.kernel().unit("i_e")
        _bounded(f"projection {name!r}: weight", w, unit)

    def _delay_steps(self, name: str, delay, ns: int) -> np.ndarray:
        """Delays (s) -> whole steps >= 1 (nearest step, ties to even, as numpy.rint)."""
        if delay is None:
            return np.ones(ns, dtype=np.int64)
        what = f"projection {name!r} delay"
        dsec = _values(what, delay, ns, self._rng)
        if ns == 0:
            return np.zeros(0, dtype=np.int64)
        if dsec.min() < 0:
            raise ParameterError(f"projection {name!r}: delays must be >= 0 s, got "
                                 f"{dsec.min():.6g} s")
        _steps(f"projection {name!r} delay", float(dsec.max()), self.dt, MAX_DELAY_STEPS)
        d = np.maximum(np.rint(dsec / self.dt).astype(np.int64), 1)
        if not isinstance(delay, Distribution) and np.ndim(delay) == 0:
            got = float(d[0]) * self.dt
            x = float(dsec[0])
            if abs(got - x) > DELAY_ROUNDING_WARN * x:
                warnings.warn(f"projection {name!r}: delay {x:.6g} s becomes {int(d[0])} step(s) = "
                              f"{got:.6g} s at dt = {self.dt:.6g} s, a change of more than "
                              f"{DELAY_ROUNDING_WARN:.0%} (delays are whole steps >= 1, rounded "
                              "to the nearest step, ties to even)", SnnsimWarning, stacklevel=3)
        return d

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
            Arrays follow the order the rule produced the synapses in.  Finite real numbers
            of magnitude at most 1e6; >= 0 onto conductance synapses.
        delay : float, array or Distribution, optional
            Transmission delays (s), at most 2**30 steps.  Each is rounded to the nearest
            whole step, ties to the even step (``numpy.rint(delay / dt)``: 0.25 ms becomes
            0.2 ms at dt = 0.1 ms), and raised to at least one step (the default).  A scalar
            delay that rounding changes by more than 10 % of itself warns
            (:class:`~snnsim.errors.SnnsimWarning`); arrays and distributions are rounded
            synapse by synapse without a warning (a distribution's rounded delays follow it
            to within half a step).
        receptor : {'exc', 'inh'}
            The postsynaptic channel.
        plasticity : PlasticityRule, optional
            STDP rule acting on these synapses.
        normalization : WeightNormalization, optional
            Target sum of each postsynaptic neuron's incoming weights; its period ``every``
            is at most 2**53 steps.
        name : str, optional
            A non-empty name without NUL characters (default ``"pre->post"``; a repeated
            name gets ``#k`` appended).

        Raises
        ------
        ResourceError
            The synapses the rule would make (estimated before they are drawn) need more
            than 90 % of the available memory.
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
        if not isinstance(receptor, str) or receptor not in ("exc", "inh"):
            hint = difflib.get_close_matches(str(receptor), ["exc", "inh"], n=1)
            raise ParameterError(f"receptor must be 'exc' or 'inh', got {receptor!r}"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""))
        if plasticity is not None and not isinstance(plasticity, PlasticityRule):
            raise NetworkError(f"plasticity must be a plasticity rule, got {type(plasticity).__name__}")
        if normalization is not None and not isinstance(normalization, WeightNormalization):
            raise NetworkError("normalization must be a WeightNormalization")
        if name is None:
            name = f"{pre.name}->{post.name}"
        name = _check_name("projection", name)
        if any(p.name == name for p in self.projections):
            name = f"{name}#{len(self.projections)}"
        if normalization is not None and normalization.every is not None:
            _steps(f"projection {name!r}: WeightNormalization.every", normalization.every,
                   self.dt, MAX_STEPS)
        expected = _expected_synapses(rule, pre.n, post.n)
        if expected is not None:
            _check_memory(f"projection {name!r} ({type(rule).__name__}, {pre.n} -> {post.n} "
                          f"neurons, about {expected:.3g} synapses)", expected * _SYNAPSE_BYTES)
        pre_idx, post_idx = rule.build(pre.n, post.n, self._rng, pre is post)
        ns = pre_idx.size
        w = _values(f"projection {name!r} weight", weight, ns, self._rng)
        self._check_weights(name, post, w)
        d = self._delay_steps(name, delay, ns)
        if ns:
            ring = (int(d.max()) + 2) * sum(p.n for p in self.populations) * 8
            _check_memory(f"projection {name!r}: the spike-history ring for delays up to "
                          f"{int(d.max())} steps", ring)
        proj = Projection(self, name, pre, post, rule, receptor, pre_idx.astype(np.int64),
                          post_idx.astype(np.int64), w, d, plasticity, normalization,
                          len(self.projections))
        self.projections.append(proj)
        self._dirty = True
        return proj

    # -- recording ---------------------------------------------------------------------------
    def _indices(self, pop: Population, indices, what: str) -> np.ndarray:
        if isinstance(indices, range):
            indices = np.arange(indices.start, indices.stop, indices.step, dtype=np.int64)
        if isinstance(indices, (str, bytes)):
            raise RecordingError(f"{what}: indices must be a 1-D array of integers, got {indices!r}")
        try:
            arr = np.asarray(indices)
        except (TypeError, ValueError):
            raise RecordingError(f"{what}: indices must be a 1-D array of integers, got "
                                 f"{type(indices).__name__}") from None
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise RecordingError(f"{what}: indices must be a 1-D array of integers, got "
                                 f"{arr.ndim}-D of dtype {arr.dtype}")
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
        (default: every step, at most 2**53 steps).  Indices must be given explicitly (memory
        grows with them: 8 bytes a variable, neuron and sample).

        Parameters
        ----------
        pop : Population
            A neuron population of this network.
        variables : str or sequence of str
            Names from ``pop.variables``.
        indices : int, sequence of int or range
            Neurons within ``pop``.
        every : float, optional
            Sampling period (s), rounded to whole steps (at least one).
        """
        pop = self._own(pop, "record_state")
        if pop.is_input:
            raise RecordingError(f"population {pop.name!r} is an input and has no state variables")
        if indices is None:
            raise RecordingError("record_state needs explicit neuron indices (e.g. indices=[0, 1] "
                                 "or indices=range(n)); recording every neuron's state costs memory")
        if isinstance(variables, str):
            variables = (variables,)
        elif isinstance(variables, (list, tuple)) and all(isinstance(v, str) for v in variables):
            variables = tuple(variables)
        else:
            raise RecordingError(f"record_state: variables must be a name or a list of names from "
                                 f"{', '.join(pop.variables)}, got {variables!r}")
        if not variables:
            raise RecordingError("record_state needs at least one variable")
        for v in variables:
            pop._row(v)
        idx = self._indices(pop, indices, "record_state")
        k = 1
        if every is not None:
            every = _check_time("record_state", "every", every, False)
            k = _steps("record_state.every", every, self.dt, MAX_STEPS)
        h = StateMonitor(pop.name, len(self.monitors), variables=variables, indices=idx,
                         every=max(k, 1))
        self.monitors.append(h)
        self._rec_cache = None
        return h

    def population_rate(self, pop: Population) -> RateMonitor:
        """Record the spike count of the whole population in every step (8 bytes a step)."""
        pop = self._own(pop, "population_rate")
        h = RateMonitor(pop.name, len(self.monitors))
        self.monitors.append(h)
        self._rec_cache = None
        return h

    # -- compiling ----------------------------------------------------------------------------
    def _plan_bytes(self) -> int:
        """An upper estimate of the memory of the plan :meth:`compile` would build (bytes)."""
        n = sum(p.n for p in self.populations)
        n_pop = len(self.populations)
        d_max = max((pr._dmax for pr in self.projections), default=1)
        ring = max(d_max, 1) + 2
        b = n * (8 * _p.N_S + 4 + 8 + 1) + ring * (n + n_pop) * 8
        for pr in self.projections:
            ns = pr.n_synapses
            b += ns * (3 * 4 + 8 + 8) + (pr.post.n + 1) * 8
            b += min(ns, pr._dmax - pr._dmin + 1) * (pr.pre.n + 1) * 8 if ns else 0
            if pr.plasticity is not None:
                b += (pr.pre.n + pr.post.n) * 16 + pr.post.n * 8
                if pr._dmax != pr._dmin:
                    b += 16 * ring * pr.pre.n
        return int(b)

    def compile(self) -> _p.Plan:
        """Lower the network to its flat :class:`~snnsim.plan.Plan` (cached until it changes).

        Raises
        ------
        ResourceError
            The plan would need more than 90 % of the available memory.
        """
        if self._dirty or self._plan is None:
            if not self.populations:
                raise NetworkError("the network is empty; add populations first")
            _check_memory(f"compiling the network ({sum(p.n for p in self.populations)} neurons, "
                          f"{sum(pr.n_synapses for pr in self.projections)} synapses)",
                          self._plan_bytes())
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
