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

Limits
------
Everything is checked when it is given, before anything is allocated or run, and a bad
value raises a :class:`~snnsim.errors.SnnsimError` subclass naming the object, the field,
the value and what is allowed:

* ``dt`` in [``DT_MIN``, ``DT_MAX``] = [1e-7 s, 1 s].
* Durations measured in steps (``t / dt``, rounded to the nearest step) must fit the
  integer that holds them, with margin: refractory periods at most ``MAX_REF_STEPS`` =
  2**30 steps (an int32 counter), delays at most ``MAX_DELAY_STEPS`` = 2**30 steps (int32
  per synapse), run durations, recording periods, normalisation periods and spike times at
  most ``MAX_STEPS`` = 2**53 steps (int64 counters; 2**53 keeps ``step * dt`` exact).
* Populations have at most ``MAX_NEURONS`` = 2**31 - 1 neurons (int32 synapse indices).
* Weights and values given to ``set_state``/``set_initial`` are finite numbers (no strings,
  booleans or objects) of magnitude at most ``MAX_VALUE`` = 1e6 (volts for ``v``,
  ``theta`` and current-based weights and channels; units of the leak conductance for
  conductances), and conductances and conductance weights are >= 0.  (The parameter
  records bound their own fields: see :mod:`snnsim._params`.)
* Memory is estimated before ``add`` (about 128 bytes a neuron), ``connect`` (about 100
  bytes a synapse while it is built), ``compile`` (the plan, with its spike-history ring
  of ``(max delay + 2) x n_neurons`` int64) and ``run`` (8 bytes a state sample, 8 bytes a
  step per rate recorder); an estimate above ``MEMORY_FRACTION`` = 90 % of the memory
  available (``MemAvailable`` of /proc/meminfo) raises :class:`~snnsim.errors.ResourceError`
  with the estimate and the available memory.
* After every run (every chunk of a long run) the neuron state (``v``, the two channels,
  ``theta``) of every population is checked for NaN and infinity, which raises
  :class:`~snnsim.errors.NonFiniteStateError` naming population, variable, neuron and the
  steps of the run (engines that keep the state elsewhere, i.e. ``cuda``, are not checked).
"""

from __future__ import annotations

import difflib
import math
import os
import signal
import threading
import time
import warnings

import numpy as np

try:  # the C functions: signal.signal's enum conversions cost ~10 us a run() call
    import _signal as _sig
except ImportError:  # pragma: no cover - not CPython
    _sig = signal

from . import plan as _p
from ._params import fail, positive
from .connectivity import (AllToAll, ConnectivityRule, FixedInDegree, FixedProbability,
                           FromArrays, OneToOne)
from .distributions import Distribution, resolve_values
from .errors import (NetworkError, NonFiniteStateError, ParameterError, RecordingError,
                     ResourceError, SnnsimWarning)
from .inputs import InputModel, PoissonInput, SpikeSource, check_rates
from .monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from .neurons import NeuronModel
from .plasticity import PlasticityRule, WeightNormalization
from .results import Result
from .synapses import Conductance

__all__ = ["Network", "Population", "Projection"]

# -- limits (documented in the module docstring) ---------------------------------------------
DT_MIN, DT_MAX = 1e-7, 1.0          # s
MAX_STEPS = 2 ** 53                 # int64 step counters; step * dt stays exact
MAX_REF_STEPS = 2 ** 30             # int32 refractory counter, with margin
MAX_DELAY_STEPS = 2 ** 30           # int32 delay per synapse, with margin
MAX_NEURONS = 2 ** 31 - 1           # int32 local indices of synapses
MAX_VALUE = 1e6                     # |weight|, |state value|, |R_m i_bias|
MEMORY_FRACTION = 0.9               # of the available memory
DELAY_ROUNDING_WARN = 0.1           # warn when rounding changes a scalar delay by more
_NEURON_BYTES = 128                 # per neuron: initial values, plan state, ring of 3
_SYNAPSE_BYTES = 100                # per synapse while connect() builds it
_CHECK_FROM = 64 * 2 ** 20          # estimates below this are not compared (no syscall)
# running: the first chunk is timed, then chunks of about _CHUNK_S wall seconds; a bar is
# shown (progress=None) when the rest of the run is estimated to take over _BAR_AFTER_S
_FIRST_CHUNK_STEPS = 1000
_FIRST_CHUNK_WORK = 10 ** 7         # neuron-steps: smaller first chunks for big networks
_CHUNK_S = 0.25
_BAR_AFTER_S = 5.0
# what Network.run may rely on beyond the engine contract, by engine name:
#   chunks: run(k, rec) may be called repeatedly with one recording (progress, Ctrl-C)
#   plan_state: the neuron state is in the plan after run() (checked for NaN for free)
_TRAITS = {"numba": ("chunks", "plan_state"), "reference": ("chunks", "plan_state"),
           "brian2": ("plan_state",), "cuda": ("chunks",)}


def _check_time(owner: str, name: str, value, allow_zero: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                   np.floating)):
        fail(owner, name, value, "a number of seconds", "s")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        fail(owner, name, x, ">= 0 s and finite" if allow_zero else "> 0 s and finite", "s")
    return x


def _num(x: float) -> str:
    """A number for messages: six significant digits, exponents without '+' or leading 0."""
    text = f"{x:.6g}"
    return text.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _steps(what: str, seconds: float, dt: float, limit: int) -> int:
    """``round(seconds / dt)`` after checking that it is at most ``limit`` steps (``what``:
    the quantity, for the message)."""
    x = seconds / dt
    if not x <= limit:  # also inf and nan
        raise ParameterError(f"{what} must be at most {limit} steps = {_num(limit * dt)} s at "
                             f"dt = {_num(dt)} s, got {_num(seconds)} s ({_num(x)} steps)")
    return int(round(x))


def _check_name(kind: str, name) -> str:
    """A population or projection name: a non-empty str, no NUL, encodable as UTF-8."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ParameterError(f"{kind} name must be a non-empty string without NUL characters, "
                             f"got {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ParameterError(f"{kind} name must be encodable as UTF-8 (it is stored in HDF5 "
                             f"files), got {name!r}") from None
    return name


def _numeric(what: str, value):
    """``value`` (scalar, sequence or array) as an array of int or float, else ParameterError."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ParameterError(f"{what} must be a number, an array of numbers or a distribution, "
                             f"got {value!r}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what} must be a number, an array of numbers or a distribution, "
                             f"got {type(value).__name__} ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise ParameterError(f"{what} must be real numbers (int or float), got an array of dtype "
                             f"{arr.dtype}")
    return arr


def _values(what: str, value, size: int, rng) -> np.ndarray:
    """Like :func:`resolve_values`, refusing strings, booleans, objects and complex numbers."""
    if not isinstance(value, Distribution):
        value = _numeric(what, value)
    return resolve_values(what, value, size, rng)


def _bounded(what: str, arr: np.ndarray, unit: str, nonneg: bool = False) -> None:
    """Refuse values of magnitude above MAX_VALUE (and negative ones where ``nonneg``)."""
    if arr.size == 0:
        return
    u = f" {unit}" if unit else ""
    if nonneg and arr.min() < 0:
        raise ParameterError(f"{what} must be >= 0, got {_num(arr.min())}{u}")
    big = np.abs(arr) > MAX_VALUE
    if big.any():
        i = int(np.argmax(big))
        raise ParameterError(f"{what} must be at most {_num(MAX_VALUE)}{u} in magnitude, got "
                             f"{_num(arr[i])}{u} (element {i})")


def available_memory() -> int | None:
    """Memory available to new allocations (bytes): ``MemAvailable`` from /proc/meminfo, else
    the free physical pages (``os.sysconf``); None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.3g} MiB"


def _check_memory(what: str, nbytes: float) -> None:
    """Raise ResourceError if ``nbytes`` exceeds MEMORY_FRACTION of the available memory."""
    if nbytes < _CHECK_FROM:
        return
    avail = available_memory()
    if avail is not None and nbytes > MEMORY_FRACTION * avail:
        raise ResourceError(f"{what} needs about {_gib(nbytes)}, more than "
                            f"{MEMORY_FRACTION:.0%} of the memory available ({_gib(avail)})")


def _expected_synapses(rule, n_pre: int, n_post: int) -> float | None:
    """Synapses a built-in rule will make (its mean for random rules), or None if unknown."""
    if isinstance(rule, AllToAll):
        return float(n_pre) * n_post
    if isinstance(rule, FixedProbability):
        return float(n_pre) * n_post * rule.p
    if isinstance(rule, OneToOne):
        return float(n_pre)
    if isinstance(rule, FixedInDegree):
        return float(rule.k) * n_post
    if isinstance(rule, FromArrays):
        return float(rule.pre.size)
    return None


class _SigintFlag:
    """While active (main thread only), a first SIGINT only sets ``flag``; Network.run checks
    it between chunks.  A second SIGINT goes to the previous handler (KeyboardInterrupt now,
    possibly in the middle of a chunk)."""

    def __init__(self):
        self.flag = False
        self._old = None

    def _handle(self, signum, frame):
        if self.flag and callable(self._old):
            self._old(signum, frame)
        self.flag = True

    def __enter__(self) -> "_SigintFlag":
        if threading.current_thread() is threading.main_thread():
            old = _sig.getsignal(signal.SIGINT)
            if callable(old):  # not SIG_IGN / SIG_DFL / a handler installed outside Python
                self._old = old
                _sig.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            _sig.signal(signal.SIGINT, self._old)
            self._old = None


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
            self._plan.pop_i[self.index, _p.PI_FROZEN] = int(self._frozen)
            self._plan.version += 1

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

    def _checked_state(self, name: str, value, allow_negative: bool = False) -> np.ndarray:
        """Values for variable ``name``: finite numbers, |x| <= MAX_VALUE, conductances >= 0
        (unless ``allow_negative``)."""
        self._row(name)
        what = f"population {self.name!r} {name}"
        arr = _values(what, value, self.n, self.network._rng)
        cond = name in ("g_e", "g_i") and isinstance(self.model.synapses, Conductance)
        unit = "" if cond else "V"
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
        self._dmin = int(self._delay.min()) if self._delay.size else 1
        self._dmax = int(self._delay.max()) if self._delay.size else 1
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
        arr = _values(f"{self.name} plasticity_gain", value, self.post.n, self.network._rng)
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
        if not isinstance(value, Distribution):
            value = _numeric(f"projection {self.name!r} weights", value)
        if not isinstance(value, Distribution) and value.ndim == 2:
            m = value.astype(float)
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
            arr = _values(f"projection {self.name!r} weights", value, ns, self.network._rng)
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
            _steps(f"{kind}.t_ref", model.t_ref, self.dt, MAX_REF_STEPS)
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
        """Weights: real numbers, finite, |w| <= MAX_VALUE; >= 0 onto conductance synapses."""
        if w.dtype.kind not in "iuf":
            raise ParameterError(f"projection {name!r}: weights must be real numbers, got an array "
                                 f"of dtype {w.dtype}")
        if not np.all(np.isfinite(w)):
            raise ParameterError(f"projection {name!r}: weights must be finite, got "
                                 f"{w[~np.isfinite(w)][0]!r}")
        if isinstance(post.model.synapses, Conductance) and np.any(w < 0):
            raise ParameterError(f"projection {name!r}: conductance weights must be >= 0 (they are "
                                 f"in units of the leak conductance), got {w.min():.6g}")
        unit = "" if isinstance(post.model.synapses, Conductance) else "V"
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

    # -- compiling and running ------------------------------------------------------------------
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

    def _recording(self):
        if self._rec_cache is None:
            from .engines import RecordingSpec
            self._rec_cache = RecordingSpec.build(self, self._plan)
        return self._rec_cache

    def _simulation(self, engine, options):
        if (isinstance(engine, str) and self._sim is not None
                and self._sim_key == (engine, tuple(sorted(options.items())))):
            return self._sim  # the common case: the same engine as the last run
        from .engines import check_options, get_engine
        if isinstance(engine, str):
            eng = get_engine(engine)
        elif isinstance(getattr(engine, "name", None), str) and callable(getattr(engine, "prepare",
                                                                                 None)):
            eng = engine  # an engine object
        else:
            raise ParameterError(f"run.engine must be an engine name (e.g. 'numba' or 'reference') "
                                 f"or an engine object, got {engine!r}")
        key = (eng.name, tuple(sorted(options.items())))
        if self._sim is None or self._sim_key != key:
            check_options(eng, options)
            self._sync_from_engine()
            self._sim = None
            self._sim = eng.prepare(self._plan, **options)
            self._sim_key = key
            self._sim_traits = _TRAITS.get(eng.name, ())
        return self._sim

    def _check_finite(self, s0: int, s1: int, engine: str) -> None:
        """Raise NonFiniteStateError if a neuron's v, channel or theta is NaN or infinite
        (O(neurons); called after each chunk of a run, steps [s0, s1))."""
        plan = self._plan
        rows = plan.st[_p.S_V:_p.S_THETA + 1]
        if np.isfinite(rows).all():
            return
        for pop in self.populations:
            block = rows[:, pop._lo:pop._lo + pop.n]
            for name in pop.variables:
                vals = block[_p.STATE_ROWS[name]]
                bad = ~np.isfinite(vals)
                if bad.any():
                    i = int(np.argmax(bad))
                    exc = NonFiniteStateError(
                        f"population {pop.name!r}: {name} of neuron {i} is {float(vals[i])!r} after "
                        f"steps {s0} to {s1 - 1} (t = {_num(s0 * self.dt)} s to "
                        f"{_num(s1 * self.dt)} s) on engine {engine!r} ({int(bad.sum())} of "
                        f"{pop.n} neurons non-finite); the network is left at step {s1}; look "
                        "for weights, biases or state values so large that the update overflows")
                    exc.population, exc.variable, exc.index, exc.steps = pop.name, name, i, (s0, s1)
                    raise exc

    def _first_chunk(self, n_steps: int, progress) -> int:
        n = max(1, self._plan.n_neurons)
        k = min(_FIRST_CHUNK_STEPS, max(10, _FIRST_CHUNK_WORK // n))
        if progress:
            k = min(k, -(-n_steps // 100))
        return max(1, min(n_steps, k))

    def _advance(self, sim, rec, n_steps: int, progress, engine: str, stop: _SigintFlag) -> int:
        """Run ``n_steps`` steps in chunks (one when short), checking for NaN and Ctrl-C
        between them.  Returns the steps done (fewer when interrupted)."""
        plan = self._plan
        check = "plan_state" in self._sim_traits
        if n_steps == 0 or "chunks" not in self._sim_traits:
            bar = self._bar(n_steps) if progress and n_steps else None
            s0 = int(plan.step[0])
            try:
                sim.run(n_steps, rec)
            finally:
                if bar is not None:
                    bar.n = n_steps * self.dt
                    bar.close()
            if check and n_steps:
                self._check_finite(s0, s0 + n_steps, engine)
            return n_steps
        done, bar, chunks = 0, None, 0
        k = self._first_chunk(n_steps, progress)
        try:
            while done < n_steps:
                s0 = int(plan.step[0])
                t0 = time.perf_counter()
                sim.run(k, rec)
                per_step = max(time.perf_counter() - t0, 1e-9) / k
                done += k
                chunks += 1
                if check:
                    self._check_finite(s0, s0 + k, engine)
                if stop.flag:
                    break
                # (by default judged from the second chunk: the first may include loading
                # or compiling the engine's code)
                if bar is None and done < n_steps and (
                        progress or (progress is None and chunks >= 2
                                     and per_step * (n_steps - done) > _BAR_AFTER_S)):
                    bar = self._bar(n_steps)
                if bar is not None:
                    bar.n = done * self.dt  # set, not accumulated: no rounding drift
                    bar.refresh()
                k = max(1, min(n_steps - done, int(_CHUNK_S / per_step)))
                if progress:
                    k = min(k, -(-n_steps // 100))
        finally:
            if bar is not None:
                bar.close()
        return done

    def _bar(self, n_steps: int):
        from tqdm.auto import tqdm
        return tqdm(total=n_steps * self.dt, unit="s sim", desc="simulating",
                    bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g} s [{elapsed}<{remaining}]")

    def run(self, duration: float, engine: str = "numba", *, progress: bool | None = None,
            **options) -> Result:
        """Simulate ``duration`` seconds (rounded to whole steps), continuing from the current
        state, and return what the recorders saw.

        Parameters
        ----------
        duration : float
            Simulated time (s), >= 0, at most 2**53 steps in all.
        engine : str
            ``"numba"`` (default), ``"reference"``, or an installed optional engine.
        progress : bool or None
            Show a tqdm progress bar: None (default) when the run is estimated (from its
            first chunk) to take more than about 5 s, True always, False never.
        **options
            Engine options, e.g. ``threads=2`` for ``numba``; an option the engine does not
            take is a ParameterError naming the options it takes.

        Returns
        -------
        Result
            What the recorders saw in ``[t, t + duration)``.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C (SIGINT, main thread): the run stops at the end of the chunk in progress
            (long runs go in chunks of about 0.25 s, results bitwise the same as one call),
            the network is left consistent at that step, and the steps done are in the
            exception's ``result`` attribute and in ``network.interrupted_result``.  A second
            Ctrl-C interrupts at once and may leave the network mid-chunk.
        NonFiniteStateError
            A neuron's state became NaN or infinite (checked after every chunk; the
            exception's ``result`` holds the steps done).
        ResourceError
            The recordings of this run would need more than 90 % of the available memory.

        Notes
        -----
        The numba and reference engines run in chunks; brian2 in one call (its standalone
        target cannot start a run with spikes in flight), so Ctrl-C there works as Brian2's.
        """
        duration = _check_time("run", "duration", duration)
        if progress is not None and not isinstance(progress, (bool, np.bool_)):
            fail("run", "progress", progress, "None, True or False")
        n_steps = _steps("run.duration", duration, self.dt, MAX_STEPS)
        plan = self.compile()
        step0 = int(plan.step[0])
        if step0 + n_steps > MAX_STEPS:
            fail("run", "duration", duration, f"at most {(MAX_STEPS - step0) * self.dt:.6g} s "
                 f"from t = {step0 * self.dt:.6g} s (the step counter is limited to 2**53)", "s")
        sim = self._simulation(engine, options)
        spec = self._recording()
        _check_memory(f"run({duration:.6g} s): the recordings of {n_steps} steps",
                      spec.nbytes(n_steps))
        self.interrupted_result = None
        rec = spec.start(n_steps, step0)
        with _SigintFlag() as stop:
            try:
                done = self._advance(sim, rec, n_steps, progress, self._sim_key[0], stop)
            except NonFiniteStateError as exc:
                stopped = int(plan.step[0]) - step0
                exc.result = Result(dt=self.dt, step0=step0, n_steps=stopped,
                                    raw=rec.finish(stopped), layout=rec.layout_for(stopped))
                raise
        if stop.flag:  # Ctrl-C: stopped after the chunk in progress (or at the end)
            res = Result(dt=self.dt, step0=step0, n_steps=done, raw=rec.finish(done),
                         layout=rec.layout_for(done))
            self.interrupted_result = res
            exc = KeyboardInterrupt(f"run interrupted at t = {(step0 + done) * self.dt:.6g} s "
                                    f"after {done} of {n_steps} steps; the steps done are in "
                                    "network.interrupted_result")
            exc.result = res
            raise exc
        return Result(dt=self.dt, step0=step0, n_steps=n_steps, raw=rec.finish(),
                      layout=rec.layout)

    def reset_state(self, keep: tuple[str, ...] = ()) -> None:
        """Return every neuron, input and trace to its initial state and the time to 0; weights
        are kept, and so is each variable named in ``keep`` (e.g. ``keep=("theta",)``).
        Random generators continue (new Poisson spikes after a reset)."""
        if isinstance(keep, str):
            keep = (keep,)
        if not isinstance(keep, (tuple, list, set, frozenset)):
            raise ParameterError(f"reset_state keep= takes a tuple of names, got {keep!r}")
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
