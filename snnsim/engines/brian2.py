"""The ``brian2`` engine: a plan translated into Brian2 objects that follow docs/semantics.md.

Brian2 is imported only here, and only when the engine is used.  Every run builds (or, on
the runtime device, reuses) one Brian2 ``Network`` whose objects are generated from the
:class:`~snnsim.plan.Plan`:

* each LIF population is a ``NeuronGroup`` with the model's differential equations
  (``dv/dt = (v_rest + b - v + i_e + i_i)/tau_m`` integrated ``'exact'``, or the
  conductance form with each conductance times its step average ``c = (tau/dt)(1 -
  exp(-dt/tau))``, integrated ``'exponential_euler'``; ``(unless refractory)``, adaptive
  threshold ``v >= v_th + theta``).  Brian2 holds ``v`` for ``refractory - dt`` after a
  spike, snnsim for ``t_ref``: the groups get ``refractory = (round(t_ref/dt) + 1) dt``;
* each input is a ``SpikeGeneratorGroup``: ``SpikeSource`` spikes as they are, Poisson
  spikes drawn in advance for the run by snnsim's own xoshiro256** streams (the same
  spikes as the ``numba`` engine), or, with ``poisson="brian2"``, Brian2's ``PoissonGroup``
  (statistically equivalent, not the same spikes);
* each projection is a ``Synapses`` object.  Transmission is the pathway ``pre``, moved to
  the ``before_groups`` slot with delay ``(d - 1) dt``: a spike of step ``s`` is pushed at
  step ``s + 1`` and arrives at step ``s + d`` before integration, as in step 2 of the
  semantics.  Plasticity uses per-synapse event-driven traces (the general triplet rule of
  :mod:`snnsim.plasticity`): depression at the arrival (in ``pre``) or at the emission
  (pathway ``emit``, ``synapses`` slot, before every ``post`` pathway), potentiation in
  ``post``; traces jump by 1 or to 1; the ``plasticity_gain`` of the postsynaptic neuron
  scales every change; a presynaptic spike takes part only if emitted while plasticity was
  on;
* automatic weight normalisation is three ``run_regularly`` operations at the start of the
  steps that are multiples of ``every`` (paused while plasticity is off);
* recordings: ``SpikeMonitor`` on every group, ``StateMonitor`` in the ``before_groups``
  slot after the transmissions; rates are counted from the spikes.

State goes into Brian2 at the start of every run and back into the plan at its end (``v``,
channels, ``theta``, refractory counters, weights, the neuron-level traces and trace
history the ``numba`` engine keeps, the spike history, Poisson generators, the step), so a
network can be trained on one engine and continued on another.  Spikes in flight at the
start of a run are put into the spike queues of the transmission pathways.

Options
-------
target : {"cython", "numpy", "cpp_standalone"}
    Brian2 code generation; default: ``$SNNSIM_BRIAN2_TARGET`` if set, else ``"cython"``.
    ``"cython"`` and ``"numpy"`` use Brian2's runtime device; the Brian2 network stays alive
    between consecutive runs (cython compiles each new code object once, a few seconds each,
    cached on disk; numpy compiles nothing and is slower per step).  ``"cpp_standalone"``
    generates, compiles and runs a C++ project in a temporary directory for every run
    (tens of seconds of compilation); it cannot start with spikes in flight (Brian2 offers
    no way to fill a standalone spike queue) and raises :class:`~snnsim.errors.EngineError`
    then.
poisson : {"exact", "brian2"}
    ``"exact"`` (default): Poisson spikes as the ``numba`` engine draws them.  ``"brian2"``:
    ``PoissonGroup`` seeded from the population's stream; afterwards the pending spikes of
    the snnsim generators are redrawn (memoryless, so still Poisson).

What is not exact
-----------------
Brian2 computes the same formulas with different rounding (its exact propagator is
sympy's), so state agrees with the ``numba`` engine to about 1e-12 relative, not bitwise;
spike trains agree unless a neuron lands within rounding of its threshold.  Runs on the
runtime device reset Python's ``numpy`` global random state only with
``poisson="brian2"`` (saved and restored around the run).

Examples
--------
>>> import snnsim as sn                                                # doctest: +SKIP
>>> net, h = sn.models.brette2007_cuba(400)                            # doctest: +SKIP
>>> res = net.run(0.1, engine="brian2", target="cython")               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import shutil
import tempfile
import time
import warnings

import numba as nb
import numpy as np

from ..errors import EngineError, EngineUnavailableError, ParameterError
from ..plan import check_builtin_neurons, check_builtin_rules
from ..plan import (KIND_COND, KIND_CUR, KIND_POISSON, KIND_SOURCE, PF_BIAS, PF_CE, PF_CI,
                    PF_DTTAU, PF_EE, PF_EI, PF_KE, PF_KI, PF_PE, PF_PI, PF_PM, PF_PTHETA,
                    PF_THPLUS, PF_VRESET, PF_VREST, PF_VTH, PI_ADAPT, PI_FROZEN, PI_KIND, PI_N,
                    PI_OFF, PI_REDRAW, PI_REF, PI_SRC_HI, PI_SRC_LO, PI_SRC_PTR, QF_A2M, QF_A2P,
                    QF_A3M, QF_A3P, QF_MU, QF_MULT, QF_NEARX, QF_NEARY, QF_NORM_TARGET, QF_PX1,
                    QF_PX2, QF_PY1, QF_PY2, QF_WMAX, QF_WMIN, QI_CHAN, QI_DOFF, QI_HOFF,
                    QI_NDEL, QI_NORM_EVERY, QI_NSYN, QI_ONSTEP, QI_PLASTIC, QI_POST, QI_PRE,
                    QI_RULE, QI_SEGOFF, QI_SOFF, QI_TMODE, QI_XOFF, QI_YOFF, S_BIAS, S_GE,
                    S_GI, S_LOGQ, S_P, S_THETA, S_V, TM_EMISSION, TM_HET, TM_HOM)
from . import _numba_kernels as K

__all__ = ["Brian2Engine", "Brian2Simulation"]

TARGETS = ("cython", "numpy", "cpp_standalone")
POISSON = ("exact", "brian2")
_INSTALL = 'engine "brian2" needs Brian2: pip install "snnsim[brian2]"'
_STATE_NAMES = {S_V: "v", S_GE: "ge", S_GI: "gi", S_THETA: "theta"}
_NEVER_SPIKED = -1e4        # Brian2's initial lastspike (s)


def _brian2():
    """Import Brian2 (only this module does, and only when the engine is used)."""
    try:
        with _quiet():
            import brian2
    except ImportError as exc:
        raise EngineUnavailableError(_INSTALL) from exc
    return brian2


@contextlib.contextmanager
def _quiet():
    """Brian2 2.9 calls pyparsing's pre-3.0 names (deprecated in pyparsing 3.3) when it is
    imported and whenever it parses code: noise about Brian2's internals that users cannot
    act on (and an error where warnings are errors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="brian2|pyparsing")
        yield


# --- numba helpers: Poisson spikes of a run, trace replay ------------------------------------

@nb.njit(cache=True)
def _draw_poisson(p, lo, n, st, nxt, rng, n_end):
    """Spikes of Poisson population p (neurons lo..lo+n) before step n_end, drawn exactly as
    the numba engine draws them: by step, then by neuron, one geometric waiting time per
    spike from the population's stream.  ``nxt`` is left at each neuron's next spike."""
    heap = [np.int64(0)]
    heap.pop()
    for i in range(n):
        if nxt[lo + i] < n_end:
            heap.append(nxt[lo + i] * n + i)
    heapq.heapify(heap)
    cap = 16 + 2 * len(heap)
    ts = np.empty(cap, np.int64)
    ix = np.empty(cap, np.int64)
    c = 0
    while len(heap) > 0:
        key = heapq.heappop(heap)
        s = key // n
        i = key - s * n
        if c == cap:
            cap *= 2
            t2 = np.empty(cap, np.int64)
            i2 = np.empty(cap, np.int64)
            t2[:c] = ts[:c]
            i2[:c] = ix[:c]
            ts, ix = t2, i2
        ts[c] = s
        ix[c] = i
        c += 1
        t = s + K._geometric(rng, p, st[S_P, lo + i], st[S_LOGQ, lo + i])
        nxt[lo + i] = t
        if t < n_end:
            heapq.heappush(heap, t * n + i)
    return ts[:c], ix[:c]


@nb.njit(cache=True)
def _replay(x, p, decay, nearest, t0, t1, ev_t, ev_i, h, h_lo):
    """Bring a neuron-level trace ``x`` from the end of step t0 to the end of step t1 the way
    the numba engine does (decay by ``p`` each step if ``decay``, then jumps at the events
    ``ev_t`` (ascending steps in (t0, t1]) of neurons ``ev_i``).  If ``h`` has rows, the
    value at the end of every step m in [max(h_lo, t0), t1 - 1] is stored in h[m % rows]."""
    R = h.shape[0]
    k = 0
    if R > 0 and t0 >= h_lo and t0 <= t1 - 1:
        h[t0 % R, :] = x
    for m in range(t0 + 1, t1 + 1):
        if decay:
            for i in range(x.size):
                x[i] *= p
        while k < ev_t.size and ev_t[k] == m:
            if nearest:
                x[ev_i[k]] = 1.0
            else:
                x[ev_i[k]] += 1.0
            k += 1
        if R > 0 and m >= h_lo and m <= t1 - 1:
            h[m % R, :] = x


# --- Brian2 integration methods ---------------------------------------------------------------

_SOLVED: dict = {}   # (method, equations) -> abstract code (sympy solving is slow)


def _held_method(name: str):
    """Brian2's ``name`` integrator, applied with ``int(not_refractory)`` set to 1.

    Brian2 multiplies the right-hand side of an ``(unless refractory)`` equation by
    ``int(not_refractory)`` and then writes the variable only where ``not_refractory`` holds.
    The factor is therefore redundant, and it spoils the exact solution when a synaptic time
    constant equals ``tau_m`` (a division by ``tau_m - tau_m``) and exponential Euler's
    ``A/B`` during refractoriness (0/0)."""
    from brian2.equations.equations import (DIFFERENTIAL_EQUATION, Equations, Expression,
                                            SingleEquation)
    from brian2.stateupdaters.base import StateUpdateMethod
    inner = StateUpdateMethod.stateupdaters[name]

    def method(equations, variables=None, method_options=None):
        eqs = []
        for eq in equations.values():
            if eq.type == DIFFERENTIAL_EQUATION and "int(not_refractory)" in eq.expr.code:
                eq = SingleEquation(DIFFERENTIAL_EQUATION, eq.varname, eq.dim,
                                    expr=Expression(eq.expr.code.replace("int(not_refractory)", "1")),
                                    flags=eq.flags)
            eqs.append(eq)
        eqs = Equations(eqs)
        key = (name, str(eqs))
        if key not in _SOLVED:
            _SOLVED[key] = inner(eqs, variables, method_options)
        return _SOLVED[key]

    method.__name__ = f"{name}_held"
    return method


def _rate(prop: float, dt: float) -> float:
    """log(prop)/dt (1/s, <= 0), the decay rate whose one-step factor is ``prop`` (the plan
    keeps only the factors; one that underflowed to 0 becomes exp(-700))."""
    return max(math.log(prop), -700.0) / dt if prop > 0.0 else -700.0 / dt


def _tau(prop: float, dt: float) -> float:
    """Time constant whose one-step factor is ``prop``."""
    rate = _rate(prop, dt)
    return -1.0 / rate if rate < 0.0 else math.inf


def _select_function(b2):
    """``snnsim_select(c, a, b)``: ``a`` where ``c`` is non-zero, else ``b`` (Brian2 has no
    conditional expression; arithmetic blends such as ``c*a + (1 - c)*b`` are not exact under
    reassociation and ``-ffast-math``)."""
    f = b2.Function(lambda c, a, b: np.where(c, a, b), arg_units=[1, 1, 1], return_unit=1,
                    arg_types=["integer", "float", "float"], return_type="float")
    f.implementations.add_implementation(
        "cpp", "static inline double snnsim_select(const long long c, const double a, "
        "const double b) { return c ? a : b; }", name="snnsim_select")
    f.implementations.add_implementation(
        "cython", "cdef double snnsim_select(long long c, double a, double b):\n"
        "    return a if c else b\n", name="snnsim_select")
    return f


# --- devices -----------------------------------------------------------------------------------

def _reset_device():
    """Back to the device that was active before ours (brian2.devices.device.reset_device)."""
    from brian2.devices.device import reset_device
    reset_device()


@contextlib.contextmanager
def _runtime(b2, target: str):
    """Brian2's runtime device with ``target`` code generation; device and preference restored."""
    from brian2.devices.device import RuntimeDevice
    switched = not isinstance(b2.get_device(), RuntimeDevice)
    if switched:
        b2.set_device("runtime")
    saved = {"codegen.target": b2.prefs["codegen.target"]}
    b2.prefs["codegen.target"] = target
    try:   # Brian2 >= 2.10: no full garbage collection before every run (it costs ~0.1-1 s)
        saved["logging.warn_for_unused_objects"] = b2.prefs["logging.warn_for_unused_objects"]
        b2.prefs["logging.warn_for_unused_objects"] = False
    except KeyError:
        pass
    try:
        yield
    finally:
        for key, value in saved.items():
            b2.prefs[key] = value
        if switched:
            _reset_device()


@contextlib.contextmanager
def _standalone(b2):
    """A fresh cpp_standalone project in a temporary directory; everything restored after."""
    key = "devices.cpp_standalone.openmp_threads"
    saved = b2.prefs[key]
    b2.set_device("cpp_standalone", build_on_run=False)
    device = b2.get_device()
    device.reinit()
    device.activate(build_on_run=False)
    b2.prefs[key] = 0
    directory = tempfile.mkdtemp(prefix="snnsim_brian2_")
    try:
        yield device, directory
    finally:
        device.reinit()
        _reset_device()
        b2.prefs[key] = saved
        shutil.rmtree(directory, ignore_errors=True)


# --- the engine ----------------------------------------------------------------------------

class Brian2Engine:
    """Brian2 engine (``engine="brian2"``); see the module notes for the options."""

    name = "brian2"

    def prepare(self, plan, target: str | None = None, poisson: str = "exact",
                **options) -> "Brian2Simulation":
        source = ""
        if target is None:
            env = os.environ.get("SNNSIM_BRIAN2_TARGET", "")
            target = env or "cython"
            source = " (from $SNNSIM_BRIAN2_TARGET)" if env else ""
        if options:
            raise ParameterError(f"brian2 engine: unknown option(s) {', '.join(sorted(options))}; "
                                 "options: target, poisson")
        if target not in TARGETS:
            raise ParameterError(f"brian2 engine: target must be one of {', '.join(TARGETS)}, "
                                 f"got {target!r}{source}")
        if poisson not in POISSON:
            raise ParameterError(f"brian2 engine: poisson must be 'exact' or 'brian2', got "
                                 f"{poisson!r}")
        b2 = _brian2()
        if target == "cython":
            try:
                import Cython  # noqa: F401
            except ImportError as exc:
                raise EngineUnavailableError('brian2 engine: target "cython" needs Cython: pip '
                                             'install "snnsim[brian2]" (or target="numpy")') from exc
        del b2
        check_builtin_neurons(plan, "brian2")
        check_builtin_rules(plan, "brian2")
        return Brian2Simulation(plan, target, poisson)


class _Objects:
    """The Brian2 objects of one build (one network)."""

    def __init__(self):
        self.net = None
        self.clock = None
        self.groups = {}       # population -> group
        self.syn = {}          # projection -> Synapses
        self.norm = {}         # projection -> [run_regularly objects]
        self.spikemons = {}    # population -> SpikeMonitor (one run)
        self.statemons = {}    # population -> (StateMonitor, variables, local indices)


class Brian2Simulation:
    """A network run by Brian2 (see the module notes)."""

    def __init__(self, plan, target: str = "cython", poisson: str = "exact"):
        self.plan = plan
        self.target = target
        self.poisson = poisson
        p = plan
        self.P = p.pop_i.shape[0]
        self.Q = p.prj_i.shape[0]
        self._obj: _Objects | None = None     # runtime device: the live network
        self._synced = None                   # (step, plan version) after our last run
        self._seeds = 0
        #: wall seconds of Brian2's last ``Network.run`` (runtime targets: the call, including
        #: Brian2's code preparation; cpp_standalone: the compiled program's own timing of its
        #: simulation loop, compilation excluded); for benchmarks
        self.last_run_s: float | None = None

    # -- contract -----------------------------------------------------------------------------
    def pull(self) -> None:
        """State is written back into the plan at the end of every run."""

    def run(self, n_steps: int, rec) -> None:
        if n_steps <= 0:
            return
        with _quiet():
            self._run(n_steps, rec)

    def _run(self, n_steps: int, rec) -> None:
        p = self.plan
        # a failed run must not consume input spikes or move generators: the plan's input
        # state (source pointers, redraw flags, Poisson generators and pending spikes) and
        # neuron state are restored if anything below raises
        saved = (p.pop_i.copy(), p.st.copy(), p.nxt.copy(), p.rng.copy())
        try:
            self._run_or_raise(n_steps, rec)
        except BaseException:
            p.pop_i[...], p.st[...], p.nxt[...], p.rng[...] = saved
            raise

    def _run_or_raise(self, n_steps: int, rec) -> None:
        b2 = _brian2()
        p = self.plan
        n0 = int(p.step[0])
        history = self._history(n0)
        inflight = self._inflight(n0, history)
        if self.target == "cpp_standalone":
            n_ev = sum(ev[0].size for ev in inflight.values())
            if n_ev:
                raise EngineError(
                    f"brian2 engine, target 'cpp_standalone': {n_ev} synaptic events are still in "
                    f"flight at t = {n0 * p.dt:.6g} s (spikes of the last {p.R - 2} steps), and "
                    "Brian2's standalone device cannot start with a filled spike queue; run this "
                    "part on target 'cython' or 'numpy' (or another engine), or start the "
                    "standalone run where no spike is in flight")
        K.redraw_poisson(p.pop_i, p.st, p.nxt, p.rng, n0)   # only where set_rates asked for it
        inputs = self._input_spikes(n0, n0 + n_steps)
        if self.target == "cpp_standalone":
            with _standalone(b2) as (device, directory):
                obj = self._build(b2, n0, inputs)
                self._run_objects(b2, obj, n0, n_steps, rec, inputs, history, inflight,
                                  standalone=(device, directory))
            return
        with _runtime(b2, self.target):
            # the live network continues exactly where it stopped unless the plan was changed
            # from outside since (then traces and spike queues are taken from the plan)
            continuing = self._obj is not None and self._synced == (n0, p.version)
            if self._obj is None:
                self._obj = self._build(b2, n0, None)
            try:
                self._run_objects(b2, self._obj, n0, n_steps, rec, inputs, history, inflight,
                                  continuing=continuing)
            except BaseException:
                self._obj = None      # a broken run leaves no half-run network behind
                raise
            self._synced = (int(p.step[0]), p.version)

    # -- plan -> spikes --------------------------------------------------------------------------
    def _input_spikes(self, n0: int, n_end: int) -> dict:
        """(steps, local indices) of every input population's spikes in [n0, n_end) that are
        known in advance (SpikeSource; Poisson unless poisson='brian2'); advances the plan's
        source pointers and Poisson generators as the numba engine would."""
        p = self.plan
        out = {}
        for pop in range(self.P):
            kind = int(p.pop_i[pop, PI_KIND])
            lo, n = int(p.pop_i[pop, PI_OFF]), int(p.pop_i[pop, PI_N])
            if kind == KIND_SOURCE:
                a, b = int(p.pop_i[pop, PI_SRC_PTR]), int(p.pop_i[pop, PI_SRC_HI])
                steps, idx = p.src_step[a:b], p.src_idx[a:b]
                keep = (steps >= n0) & (steps < n_end)
                out[pop] = (steps[keep].astype(np.int64), idx[keep].astype(np.int64))
                p.pop_i[pop, PI_SRC_PTR] = a + int(np.searchsorted(steps, n_end, side="left"))
            elif kind == KIND_POISSON and self.poisson == "exact":
                out[pop] = _draw_poisson(pop, lo, n, p.st, p.nxt, p.rng, n_end)
        return out

    def _history(self, n0: int) -> dict:
        """Spikes of the last R - 1 steps before n0 (the plan's history ring), per population:
        (steps, local indices), ascending."""
        p = self.plan
        out = {}
        for pop in range(self.P):
            lo = int(p.pop_i[pop, PI_OFF])
            ts, ix = [], []
            for s in range(max(0, n0 - p.R + 1), n0):
                c = int(p.hist_cnt[s % p.R, pop])
                if c:
                    idx = np.sort(p.hist[s % p.R, lo:lo + c])
                    ts.append(np.full(c, s, dtype=np.int64))
                    ix.append(idx.astype(np.int64))
            out[pop] = ((np.concatenate(ts), np.concatenate(ix)) if ts else
                        (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        return out

    def _inflight(self, n0: int, history: dict) -> dict:
        """For each projection, the synaptic events (local synapse, arrival step) of spikes
        emitted before n0 that arrive at n0 or later."""
        p = self.plan
        out = {}
        for q in range(self.Q):
            row = p.prj_i[q]
            ns = int(row[QI_NSYN])
            if ns == 0:
                continue
            pre = int(row[QI_PRE])
            npre = int(p.pop_i[pre, PI_N])
            s0 = int(row[QI_SOFF])
            ts, ix = history[pre]
            syn, arr, emit = [], [], []
            for di in range(int(row[QI_NDEL])):
                d = int(p.delays[int(row[QI_DOFF]) + di])
                keep = ts + d >= n0
                base = int(row[QI_SEGOFF]) + di * npre
                for s, i in zip(ts[keep], ix[keep]):
                    a, b = int(p.seg_ptr[base + i]), int(p.seg_ptr[base + i + 1])
                    syn.append(np.arange(a - s0, b - s0))
                    arr.append(np.full(b - a, s + d, dtype=np.int64))
                    emit.append(np.full(b - a, s, dtype=np.int64))
            out[q] = ((np.concatenate(syn), np.concatenate(arr), np.concatenate(emit)) if syn
                      else (np.zeros(0, np.int64),) * 3)
        return out

    # -- building ---------------------------------------------------------------------------------
    def _build(self, b2, n0: int, inputs: dict | None) -> _Objects:
        """Brian2 objects for the plan (inputs: the spike generators' spikes, or None to set
        them per run)."""
        p = self.plan
        obj = _Objects()
        obj.clock = b2.Clock(dt=p.dt * b2.second, name="snnsim_clock*")
        obj.select = _select_function(b2)
        norm_by_post: dict = {}
        for q in range(self.Q):
            if p.prj_i[q, QI_NORM_EVERY] > 0 and p.prj_i[q, QI_NSYN] > 0:
                norm_by_post.setdefault(int(p.prj_i[q, QI_POST]), []).append(q)
        for pop in range(self.P):
            kind = int(p.pop_i[pop, PI_KIND])
            n = int(p.pop_i[pop, PI_N])
            if kind in (KIND_CUR, KIND_COND):
                g = self._neuron_group(b2, obj, pop, norm_by_post.get(pop, []))
            elif kind == KIND_POISSON and self.poisson == "brian2":
                g = b2.PoissonGroup(n, rates=np.zeros(n) * b2.Hz, clock=obj.clock,
                                    name=f"snnsim_p{pop}*")
            else:
                ts, ix = inputs[pop] if inputs is not None else (np.zeros(0, np.int64),) * 2
                g = b2.SpikeGeneratorGroup(n, ix, ts * p.dt * b2.second, clock=obj.clock,
                                           name=f"snnsim_p{pop}*")
            obj.groups[pop] = g
        for q in range(self.Q):
            if p.prj_i[q, QI_NSYN] > 0:
                obj.syn[q] = self._synapses(b2, obj, q)
        obj.net = b2.Network(*obj.groups.values(), *obj.syn.values(),
                             name="snnsim_network*")
        return obj

    def _neuron_group(self, b2, obj, pop: int, norm_qs: list):
        p = self.plan
        f = p.pop_f[pop]
        dt = p.dt
        n = int(p.pop_i[pop, PI_N])
        cur = p.pop_i[pop, PI_KIND] == KIND_CUR
        adaptive = p.pop_i[pop, PI_ADAPT] != 0
        unit = "volt" if cur else "1"
        # a channel whose time constant is (within 1.5e-8 relative of) tau_m: same symbol, so
        # that Brian2 takes the limit solution; its own 1/(tau_s - tau_m) solution loses digits
        # there (substituting the limit errs by ~d dt/(2 tau_m), Brian2's by ~2 eps/(d dt/tau_m):
        # they meet near 1.5e-8)
        lim = f[PF_DTTAU] * f[PF_PM]
        te = "tau_m" if cur and math.isclose(f[PF_KE], lim, rel_tol=1.5e-8) else "tau_e"
        ti = "tau_m" if cur and math.isclose(f[PF_KI], lim, rel_tol=1.5e-8) else "tau_i"
        if cur:
            eqs = ["dv/dt = (vinf - v + ge + gi)/tau_m : volt (unless refractory)"]
        else:
            eqs = ["dv/dt = ((vinf - v) + ge*c_e*(e_e - v) + gi*c_i*(e_i - v))/tau_m "
                   ": volt (unless refractory)",
                   "c_e : 1 (shared, constant)", "c_i : 1 (shared, constant)",
                   "e_e : volt (shared, constant)", "e_i : volt (shared, constant)"]
        eqs += [f"dge/dt = -ge/{te} : {unit}", f"dgi/dt = -gi/{ti} : {unit}",
                "vinf : volt (constant)", "tau_m : second (shared, constant)",
                "tau_e : second (shared, constant)", "tau_i : second (shared, constant)",
                "v_th : volt (shared, constant)", "v_reset : volt (shared, constant)"]
        threshold, reset = "v >= v_th", "v = v_reset"
        if adaptive:
            eqs += ["dtheta/dt = -k_theta*theta : volt", "k_theta : hertz (shared)",
                    "theta_plus : volt (shared)"]
            threshold, reset = "v >= v_th + theta", "v = v_reset\ntheta += theta_plus"
        for q in norm_qs:
            eqs += [f"wsum{q} : 1", f"nf{q} : 1", f"ntarget{q} : 1 (shared, constant)"]
        R = int(p.pop_i[pop, PI_REF])
        g = b2.NeuronGroup(n, "\n".join(eqs), threshold=threshold, reset=reset,
                           refractory=(R + 1) * dt * b2.second,
                           method=_held_method("exact" if cur else "exponential_euler"),
                           clock=obj.clock, namespace={"snnsim_select": obj.select},
                           name=f"snnsim_p{pop}*")
        g.tau_m_ = dt / f[PF_DTTAU]
        g.tau_e_ = _tau(f[PF_PE], dt)
        g.tau_i_ = _tau(f[PF_PI], dt)
        g.v_th_ = f[PF_VTH]
        g.v_reset_ = f[PF_VRESET]
        if not cur:
            g.c_e_, g.c_i_, g.e_e_, g.e_i_ = f[PF_CE], f[PF_CI], f[PF_EE], f[PF_EI]
        for q in norm_qs:
            setattr(g, f"ntarget{q}_", p.prj_f[q, QF_NORM_TARGET])
        return g

    def _synapses(self, b2, obj, q: int):
        p = self.plan
        row, f = p.prj_i[q], p.prj_f[q]
        pre, post = int(row[QI_PRE]), int(row[QI_POST])
        s0, ns = int(row[QI_SOFF]), int(row[QI_NSYN])
        chan = "ge" if row[QI_CHAN] == 0 else "gi"
        wu = b2.volt if p.pop_i[post, PI_KIND] == KIND_CUR else 1.0
        model = ["w : 1"]
        on_pre = {"pre": f"{chan}_post += w*wu"}
        on_post, delay = {}, {}
        rule = row[QI_RULE] != 0
        if rule:
            arrival = row[QI_TMODE] != TM_EMISSION
            use_x2, use_y2 = f[QF_A3M] != 0.0, f[QF_A3P] != 0.0
            near_x, near_y = f[QF_NEARX] != 0.0, f[QF_NEARY] != 0.0
            mult, mu1 = f[QF_MULT] != 0.0, f[QF_MU] == 1.0
            model += ["gain : 1 (constant)", "dx1/dt = lx1*x1 : 1 (event-driven)",
                      "dy1/dt = ly1*y1 : 1 (event-driven)", "lx1 : hertz (shared, constant)",
                      "ly1 : hertz (shared, constant)", "a2p : 1 (shared, constant)",
                      "a2m : 1 (shared, constant)", "wmin : 1 (shared, constant)",
                      "wmax : 1 (shared, constant)"]
            if use_x2:
                model += ["dx2/dt = lx2*x2 : 1 (event-driven)", "lx2 : hertz (shared, constant)",
                          "a3m : 1 (shared, constant)"]
            if use_y2:
                model += ["dy2/dt = ly2*y2 : 1 (event-driven)", "ly2 : hertz (shared, constant)",
                          "a3p : 1 (shared, constant)"]
            if mult and not mu1:
                model += ["mu : 1 (shared, constant)"]
            power = "" if mu1 else "**mu"
            ltd = ["dwm = (y1*gain)*(a2m + a3m*x2)" if use_x2 else "dwm = (y1*gain)*a2m"]
            ltp = ["dwp = (x1*gain)*(a2p + a3p*y2)" if use_y2 else "dwp = (x1*gain)*a2p"]
            if mult:
                ltd.append(f"dwm = dwm*clip(w - wmin, 0, inf){power}")
                ltp.append(f"dwp = dwp*clip(wmax - w, 0, inf){power}")
            xs = ["x1", "x2"] if use_x2 else ["x1"]
            ys = ["y1", "y2"] if use_y2 else ["y1"]
            if arrival:
                # depression at the arrival, only for spikes emitted while plasticity was on
                model += ["dsteps : integer (constant)", "on : integer (shared)",
                          "on_step : integer (shared)"]
                code = [on_pre["pre"], "elig = on*int(t_in_timesteps - dsteps >= on_step)", *ltd,
                        "w = snnsim_select(elig, clip(w - dwm, wmin, wmax), w)"]
                code += [f"{x} = snnsim_select(elig, 1.0, {x})" if near_x else f"{x} = {x} + elig"
                         for x in xs]
                on_pre["pre"] = "\n".join(code)
            else:
                code = [*ltd, "w = clip(w - dwm, wmin, wmax)"]
                code += [f"{x} = 1.0" if near_x else f"{x} = {x} + 1" for x in xs]
                on_pre["emit"] = "\n".join(code)
                delay["emit"] = 0 * b2.second
            code = [*ltp, "w = clip(w + dwp, wmin, wmax)"]
            code += [f"{y} = 1.0" if near_y else f"{y} = {y} + 1" for y in ys]
            on_post["post"] = "\n".join(code)
            delay["post"] = 0 * b2.second
        syn = b2.Synapses(obj.groups[pre], obj.groups[post], "\n".join(model), on_pre=on_pre,
                          on_post=on_post or None, delay=delay or None, clock=obj.clock,
                          namespace={"wu": wu, "snnsim_select": obj.select},
                          name=f"snnsim_q{q}*")
        sl = slice(s0, s0 + ns)
        syn.connect(i=p.syn_pre[sl].astype(np.int64), j=p.syn_post[sl].astype(np.int64))
        syn.pre.when = "before_groups"
        syn.pre.order = 0
        syn.pre.delay_ = (p.syn_delay[sl].astype(np.float64) - 1.0) * p.dt
        if rule:
            syn.lx1_, syn.ly1_ = _rate(f[QF_PX1], p.dt), _rate(f[QF_PY1], p.dt)
            syn.a2p_, syn.a2m_ = f[QF_A2P], f[QF_A2M]
            syn.wmin_, syn.wmax_ = f[QF_WMIN], f[QF_WMAX]
            if f[QF_A3M] != 0.0:
                syn.lx2_, syn.a3m_ = _rate(f[QF_PX2], p.dt), f[QF_A3M]
            if f[QF_A3P] != 0.0:
                syn.ly2_, syn.a3p_ = _rate(f[QF_PY2], p.dt), f[QF_A3P]
            if f[QF_MULT] != 0.0 and f[QF_MU] != 1.0:
                syn.mu_ = f[QF_MU]
            if row[QI_TMODE] != TM_EMISSION:
                syn.dsteps_ = p.syn_delay[sl].astype(np.int64)
        every = int(row[QI_NORM_EVERY])
        if every > 0:
            g = obj.groups[post]
            clock = b2.Clock(dt=every * p.dt * b2.second, name="snnsim_norm_clock*")
            kw = dict(clock=clock, when="before_groups")
            obj.norm[q] = [
                g.run_regularly(f"wsum{q} = 0", order=-40, **kw),
                syn.run_regularly(f"wsum{q}_post += w", order=-30, **kw),
                g.run_regularly(f"nf{q} = snnsim_select(int(wsum{q} > 0), ntarget{q}/"
                                f"snnsim_select(int(wsum{q} > 0), wsum{q}, 1.0), 1.0)",
                                order=-20, **kw),
                syn.run_regularly(f"w = w*nf{q}_post", order=-10, **kw)]
        return syn

    # -- one run ---------------------------------------------------------------------------------
    def _plastic(self, q: int) -> bool:
        row = self.plan.prj_i[q]
        return bool(row[QI_RULE] != 0 and row[QI_PLASTIC] != 0)

    def _run_objects(self, b2, obj, n0, n_steps, rec, inputs, history, inflight,
                     standalone=None, continuing=False) -> None:
        p = self.plan
        n_end = n0 + n_steps
        if standalone is None:
            for pop, (ts, ix) in inputs.items():
                obj.groups[pop].set_spikes(ix, ts * p.dt * b2.second)
        self._push(obj, n0, traces=not continuing)
        if standalone is None and not continuing:
            self._restore_queues(obj, n0, inflight)
        mons = self._add_monitors(b2, obj, rec.spec)
        np_state = None
        if self.poisson == "brian2" and any(p.pop_i[:, PI_KIND] == KIND_POISSON):
            first = int(np.flatnonzero(p.pop_i[:, PI_KIND] == KIND_POISSON)[0])
            if standalone is None:
                np_state = np.random.get_state()
            b2.seed(int(_next_u64(p.rng, first) >> np.uint64(33)))
        try:
            if standalone is None:
                obj.net.add(*mons)
                obj.net.t_ = n0 * p.dt
                t_start = time.perf_counter()
                obj.net.run(n_steps * p.dt * b2.second, namespace={})
                self.last_run_s = time.perf_counter() - t_start
            else:
                device, directory = standalone
                net = b2.Network(*obj.groups.values(), *obj.syn.values(), *mons,
                                 name="snnsim_network*")
                net.t_ = n0 * p.dt
                device.insert_code("main", f"{net.name}.t = {n0 * p.dt!r};")
                net.run(n_steps * p.dt * b2.second, namespace={})
                device.build(directory=directory, compile=True, run=True, with_output=False)
                # the C++ main's own timing of the simulation loop (compilation excluded)
                self.last_run_s = float(device._last_run_time)
            spikes = self._collect_spikes(obj, n0, n_end)
            self._write_back(obj, n0, n_end, spikes, history)
            self._record(rec, obj, spikes, n0, n_end)
        finally:
            if np_state is not None:
                np.random.set_state(np_state)
            if standalone is None:
                obj.net.remove(*mons)
            obj.spikemons.clear()
            obj.statemons.clear()

    # -- plan -> Brian2 --------------------------------------------------------------------------
    def _push(self, obj, n0: int, traces: bool = True) -> None:
        p = self.plan
        dt = p.dt
        for pop, g in obj.groups.items():
            kind = int(p.pop_i[pop, PI_KIND])
            lo = int(p.pop_i[pop, PI_OFF])
            hi = lo + int(p.pop_i[pop, PI_N])
            if kind in (KIND_CUR, KIND_COND):
                f = p.pop_f[pop]
                g.v_ = p.st[S_V, lo:hi]
                g.ge_ = p.st[S_GE, lo:hi]
                g.gi_ = p.st[S_GI, lo:hi]
                g.vinf_ = (f[PF_VREST] + f[PF_BIAS]) + p.st[S_BIAS, lo:hi]
                if p.pop_i[pop, PI_ADAPT] != 0:
                    frozen = p.pop_i[pop, PI_FROZEN] != 0
                    g.theta_ = p.st[S_THETA, lo:hi]
                    g.k_theta_ = 0.0 if frozen else -_rate(f[PF_PTHETA], dt)
                    g.theta_plus_ = 0.0 if frozen else f[PF_THPLUS]
                r = p.ref[lo:hi].astype(np.int64)
                R = int(p.pop_i[pop, PI_REF])
                g.lastspike_ = np.where(r > 0, (n0 - 1 - R + r) * dt, _NEVER_SPIKED)
            elif kind == KIND_POISSON and self.poisson == "brian2":
                g.rates_ = p.st[S_P, lo:hi] / dt
        for q, syn in obj.syn.items():
            row = p.prj_i[q]
            s0, ns = int(row[QI_SOFF]), int(row[QI_NSYN])
            syn.w_ = p.w[s0:s0 + ns]
            on = self._plastic(q)
            if row[QI_RULE] != 0:
                syn.post.active = on
                if row[QI_TMODE] == TM_EMISSION:
                    syn.emit.active = on
                else:
                    syn.on_ = int(on)
                    syn.on_step_ = int(row[QI_ONSTEP])
                if on and traces:
                    self._push_traces(q, syn, n0)
            for rr in obj.norm.get(q, []):
                rr.active = on or row[QI_RULE] == 0

    def _push_traces(self, q: int, syn, n0: int) -> None:
        """Per-synapse traces from the plan's neuron traces, all as of time (n0 - 1) dt."""
        p = self.plan
        row, f = p.prj_i[q], p.prj_f[q]
        s0, ns = int(row[QI_SOFF]), int(row[QI_NSYN])
        pre = p.syn_pre[s0:s0 + ns].astype(np.int64)
        post = p.syn_post[s0:s0 + ns].astype(np.int64)
        xo, yo = int(row[QI_XOFF]), int(row[QI_YOFF])
        if row[QI_TMODE] == TM_HET:
            # the synapse sees the presynaptic trace d steps late: the neuron's trace at the
            # end of step n0 - 1 - d, kept in the plan's history ring
            npre = int(p.pop_i[row[QI_PRE], PI_N])
            col = int(row[QI_HOFF]) + ((n0 - 1 - p.syn_delay[s0:s0 + ns].astype(np.int64)) % p.R) * npre + pre
            x = p.hx[:, col]
        else:
            x = p.xtr[:, xo + pre]
        syn.x1_ = x[0]
        if f[QF_A3M] != 0.0:
            syn.x2_ = x[1]
        syn.y1_ = p.ytr[0, yo + post]
        if f[QF_A3P] != 0.0:
            syn.y2_ = p.ytr[1, yo + post]
        syn.gain_ = p.gain[yo + post]
        syn.lastupdate_ = (n0 - 1) * p.dt

    def _restore_queues(self, obj, n0: int, inflight: dict) -> None:
        """Spikes in flight go into the transmission queues (slot k arrives at step n0 + k);
        the groups' last spikes are forgotten (they are in the queues already)."""
        for g in obj.groups.values():
            g.variables["_spikespace"].get_value()[-1] = 0
        for q, syn in obj.syn.items():
            idx, arr, emit = inflight[q]
            # in the order Brian2 itself would have queued them: by emission step, neuron,
            # synapse (sums of arrivals then round the same way)
            order = np.lexsort((idx, emit, arr))
            slots = [[] for _ in range(int(arr.max() - n0) + 1 if arr.size else 0)]
            for k, a in zip(idx[order].tolist(), (arr[order] - n0).tolist()):
                slots[a].append(k)
            try:   # the C++ queue's state: (offset, [synapses of each coming step])
                syn.pre.queue._restore_from_full_state((0, slots))
            except (AttributeError, TypeError, ValueError) as exc:
                raise EngineError("brian2 engine: this Brian2 version's spike queue cannot be "
                                  "given the spikes in flight") from exc

    def _add_monitors(self, b2, obj, spec) -> list:
        p = self.plan
        mons = []
        for pop, g in obj.groups.items():
            m = b2.SpikeMonitor(g, name=f"snnsim_spikes_p{pop}*")
            obj.spikemons[pop] = m
            mons.append(m)
        rows: dict = {}
        for r in range(spec.srec_var.size):
            gi = int(spec.srec_idx[r])
            pop = int(np.searchsorted(p.pop_i[:, PI_OFF], gi, side="right") - 1)
            rows.setdefault(pop, []).append((r, _STATE_NAMES[int(spec.srec_var[r])],
                                             gi - int(p.pop_i[pop, PI_OFF])))
        for pop, lst in rows.items():
            names = sorted({v for _, v, _ in lst})
            idx = np.unique([i for _, _, i in lst])
            m = b2.StateMonitor(obj.groups[pop], names, record=idx, when="before_groups",
                                order=10, clock=obj.clock, name=f"snnsim_state_p{pop}*")
            obj.statemons[pop] = (m, lst, idx)
            mons.append(m)
        return mons

    # -- Brian2 -> plan --------------------------------------------------------------------------
    def _collect_spikes(self, obj, n0: int, n_end: int) -> dict:
        """(steps, local indices) of every population's spikes in this run, sorted by step and
        index."""
        out = {}
        for pop, m in obj.spikemons.items():
            ix = np.asarray(m.i[:], dtype=np.int64)
            ts = np.rint(np.asarray(m.t_[:]) / self.plan.dt).astype(np.int64)
            order = np.lexsort((ix, ts))
            out[pop] = (ts[order], ix[order])
        return out

    def _write_back(self, obj, n0: int, n_end: int, spikes: dict, history: dict) -> None:
        p = self.plan
        dt = p.dt
        for pop, g in obj.groups.items():
            kind = int(p.pop_i[pop, PI_KIND])
            lo = int(p.pop_i[pop, PI_OFF])
            hi = lo + int(p.pop_i[pop, PI_N])
            if kind in (KIND_CUR, KIND_COND):
                p.st[S_V, lo:hi] = g.v_[:]
                p.st[S_GE, lo:hi] = g.ge_[:]
                p.st[S_GI, lo:hi] = g.gi_[:]
                if p.pop_i[pop, PI_ADAPT] != 0:
                    p.st[S_THETA, lo:hi] = g.theta_[:]
                last = np.asarray(g.lastspike_[:])
                s = np.where(last > _NEVER_SPIKED / 2, np.rint(last / dt), -2.0 ** 40)
                R = int(p.pop_i[pop, PI_REF])
                p.ref[lo:hi] = np.clip(R - (n_end - 1 - s), 0, R).astype(p.ref.dtype)
            elif kind == KIND_POISSON and self.poisson == "brian2":
                p.pop_i[pop, PI_REDRAW] = 1     # the plan's generators did not follow
        for q, syn in obj.syn.items():
            s0, ns = int(p.prj_i[q, QI_SOFF]), int(p.prj_i[q, QI_NSYN])
            p.w[s0:s0 + ns] = syn.w_[:]
        for q in range(self.Q):
            if self._plastic(q):
                self._replay_traces(q, n0, n_end, spikes, history)
        # spike history ring: the steps of this run that are still within reach
        for s in range(max(n0, n_end - p.R), n_end):
            p.hist_cnt[s % p.R] = 0
        for pop, (ts, ix) in spikes.items():
            lo = int(p.pop_i[pop, PI_OFF])
            keep = ts >= n_end - p.R
            for s in np.unique(ts[keep]):
                idx = ix[ts == s]
                p.hist[s % p.R, lo:lo + idx.size] = idx
                p.hist_cnt[s % p.R, pop] = idx.size
        p.step[0] = n_end

    def _replay_traces(self, q: int, n0: int, n_end: int, spikes: dict, history: dict) -> None:
        """The plan's neuron-level traces (and trace history) as the numba engine keeps them,
        from this run's spikes."""
        p = self.plan
        row, f = p.prj_i[q], p.prj_f[q]
        pre, post = int(row[QI_PRE]), int(row[QI_POST])
        npre, npost = int(p.pop_i[pre, PI_N]), int(p.pop_i[post, PI_N])
        xo, yo, ho = int(row[QI_XOFF]), int(row[QI_YOFF]), int(row[QI_HOFF])
        mode = int(row[QI_TMODE])
        use_x2, use_y2 = f[QF_A3M] != 0.0, f[QF_A3P] != 0.0
        near_x, near_y = f[QF_NEARX] != 0.0, f[QF_NEARY] != 0.0
        ev_t, ev_i = spikes[pre]
        if mode == TM_HOM:   # the neuron's traces are the delay-shifted ones: jump at arrival
            d = int(p.delays[int(row[QI_DOFF])])
            ts = np.concatenate([history[pre][0], ev_t]) + d
            ix = np.concatenate([history[pre][1], ev_i])
            keep = (ts >= n0) & (ts < n_end) & (ts - d >= int(row[QI_ONSTEP]))
            ev_t, ev_i = ts[keep], ix[keep]
        none = np.zeros((0, 1))
        hist = (p.hx[:, ho:ho + p.R * npre].reshape(2, p.R, npre) if mode == TM_HET
                else None)
        t0, t1 = n0 - 1, n_end - 1
        h_lo = n_end - 1 - p.R
        _replay(p.xtr[0, xo:xo + npre], f[QF_PX1], True, near_x, t0, t1, ev_t, ev_i,
                hist[0] if hist is not None else none, h_lo)
        _replay(p.xtr[1, xo:xo + npre], f[QF_PX2], use_x2, near_x, t0, t1, ev_t, ev_i,
                hist[1] if hist is not None and use_x2 else none, h_lo)
        yt, yi = spikes[post]
        _replay(p.ytr[0, yo:yo + npost], f[QF_PY1], True, near_y, t0, t1, yt, yi, none, h_lo)
        _replay(p.ytr[1, yo:yo + npost], f[QF_PY2], use_y2, near_y, t0, t1, yt, yi, none, h_lo)

    def _record(self, rec, obj, spikes: dict, n0: int, n_end: int) -> None:
        p = self.plan
        spec = rec.spec
        if spec.rec_per_step:
            ts = np.concatenate([spikes[pop][0] for pop in range(self.P)])
            gi = np.concatenate([spikes[pop][1] + p.pop_i[pop, PI_OFF] for pop in range(self.P)])
            order = np.lexsort((gi, ts))
            ts, gi = ts[order], gi[order]
            keep = spec.rec_mask[gi] != 0
            ts, gi = ts[keep], gi[keep]
            k0 = int(rec.spk_n[0])
            need = k0 + ts.size
            if need > rec.spk_t.size:
                for name in ("spk_t", "spk_i"):
                    new = np.zeros(max(2 * rec.spk_t.size, need), dtype=np.int64)
                    new[:k0] = getattr(rec, name)[:k0]
                    setattr(rec, name, new)
            rec.spk_t[k0:need] = ts
            rec.spk_i[k0:need] = gi
            rec.spk_n[0] = need
        a, b = n0 - rec.base, n_end - rec.base
        for row, pop in enumerate(spec.rrec_pop):
            ts = spikes[int(pop)][0]
            rec.rrec_out[row, a:b] = np.bincount(ts - n0, minlength=n_end - n0)
        rel = np.arange(a, b)
        for pop, (m, lst, idx) in obj.statemons.items():
            for r, name, local in lst:
                col = int(np.searchsorted(idx, local))
                values = np.asarray(getattr(m, name + "_")[col])
                e = int(spec.srec_every[r])
                sel = rel % e == 0
                rec.srec_out[rec.srec_off[r] + rel[sel] // e] = values[sel]


@nb.njit(cache=True)
def _next_u64(rng, p):
    """One draw from population p's xoshiro256** stream (seeds Brian2's generator)."""
    return K._next_u64(rng, p)
