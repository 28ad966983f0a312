"""Reference workloads written directly in Brian2, timed the way snnsim is timed.

The benchmark scripts in ``benchmarks/`` time a workload on snnsim's engines and, in the
same invocation, "the same workload in Brian2".  This module is that Brian2 side.  It does
not import snnsim: every network here is built from Brian2 objects alone, following
Brian2's own examples, so that the figures are Brian2's, not a translation of ours.

Workloads
---------
``cuba``
    Brette et al. (2007) benchmark 1 (current-based Vogels & Abbott network), as in
    Brian2's ``examples/CUBA.py``.
``coba``
    Brette et al. (2007) benchmark 2 (conductance-based Vogels & Abbott 2005 network),
    with the initial conductances of Brian2's speed tests.
``song_miller_abbott``
    Song, Miller & Abbott (2000): 1000 Poisson inputs onto one LIF neuron through
    additive pair STDP, as in Brian2's ``examples/synapses/STDP.py``; with ``n_post > 1``
    the same inputs drive ``n_post`` neurons all-to-all (the "load variant").
``diehl_cook``
    Diehl & Cook (2015): unsupervised STDP training on MNIST images, timed per image
    (``seconds_per_image`` instead of ``wall_per_sim_s``); see `diehl_cook`.  Its
    default images come from snnsim's data loader (the only use of snnsim here).

Targets
-------
``"cython"``
    Brian2's runtime device with Cython code generation; the time loop is driven from
    Python (one call per code object per step).
``"cpp_standalone"``
    Brian2's C++ standalone device, one thread (``prefs.devices.cpp_standalone.
    openmp_threads = 0``); the whole project is generated, compiled with ``make`` and
    run as a separate binary, in a temporary directory that is removed afterwards.

What is measured
----------------
Every function returns one flat ``dict`` (JSON-serialisable):

``wall_per_sim_s``
    Wall seconds of the simulation loop per simulated second.  The loop time is
    Brian2's own ``device._last_run_time``: on the runtime device it is the wall time of
    ``Network.run`` after ``before_run`` (i.e. after all code generation and
    compilation); on ``cpp_standalone`` it is the ``std::chrono`` wall time of the
    ``Network::run`` loop inside the binary, read back from ``results/last_run_info.txt``.
    Neither includes synapse creation, initialisation or writing results.
``compile_s``
    Code generation + compilation.  ``cpp_standalone``: all wall time up to the end of
    ``device.build(compile=True, run=False)`` (building the objects only records them;
    then code generation, writing the project and a full ``make``); the binary is then
    started with ``device.run``.  ``cython``: the summed wall time spent in
    ``device.code_object`` (code generation plus Cython compilation, or loading the
    module from Brian2's on-disk Cython cache when it is already there: a second call
    in the same environment is "warm"; ``--cython-cache EMPTY_DIR`` measures a cold
    compile).
``setup_s``
    Everything else outside the loop: object construction, synapse creation,
    initialisation (for ``cpp_standalone``: the binary's start-up, synapse creation,
    initialisation and writing of results, and Brian2 reading the results back).
``total_s``
    Wall time of the whole call.

The same seed gave identical spike counts and final weights on both targets in every
run we made with Brian2 2.11 (its ``rand()``/``randn()`` streams are the same there).

Examples
--------
>>> from _brian2_native import cuba                                   # doctest: +SKIP
>>> r = cuba(n=4000, duration=1.0, target="cpp_standalone")           # doctest: +SKIP
>>> r["engine"], r["n_synapses"] > 300_000                            # doctest: +SKIP
('brian2-cpp_standalone', True)

From the command line (prints one JSON line)::

    .venv313/bin/python benchmarks/_brian2_native.py cuba --n 4000 --duration 1 \\
        --target cpp_standalone
    .venv313/bin/python benchmarks/_brian2_native.py dc --n-exc 400 --n-images 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["TARGETS", "cuba", "coba", "song_miller_abbott", "diehl_cook"]

#: Brian2 targets this module knows how to time.
TARGETS = ("cython", "cpp_standalone")

_ENGINE_NAMES = {"cython": "brian2-cython", "cpp_standalone": "brian2-cpp_standalone"}
_DT_S = 0.1e-3  # 0.1 ms, Brian2's default and the benchmarks' step

# A built workload: the Brian2 objects to put in a Network, the namespace to run it in,
# and a function that reads the figures out once the run is over.
_Built = tuple[list[Any], dict[str, Any], Callable[[], dict[str, Any]]]


# --------------------------------------------------------------------------- helpers


def _brian2():
    """Import Brian2 lazily, with a message that says where it lives."""
    try:
        import brian2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "benchmarks/_brian2_native.py needs Brian2; see benchmarks/BRIAN2_ENV.md "
            "(run it with .venv313/bin/python)"
        ) from exc
    return brian2


def _check(target: str, duration: float, seed: int) -> None:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if not duration > 0:
        raise ValueError(f"duration must be > 0 s, got {duration!r} s")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _chosen_method(group: Any, namespace: dict[str, Any]) -> str:
    """The integration method Brian2 uses for ``group``'s equations.

    When no method is given, Brian2 tries its default list (``'exact'``, ``'euler'``,
    ``'heun'``) and takes the first that applies; it logs the choice only the first time
    (``apply_stateupdater`` is cached), so the choice is recomputed here, the same way.
    """
    choice = group.state_updater.method_choice
    if isinstance(choice, str):
        return choice
    from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException

    equations = group.equations
    variables = group.resolve_all(equations.identifiers | equations.names | {"dt", "t"},
                                  namespace, user_identifiers=set())
    for name in choice:
        try:
            StateUpdateMethod.stateupdaters[name](equations, variables)
        except UnsupportedEquationsException:
            continue
        return name
    raise RuntimeError(f"no integration method in {choice} applies to {group.name}")


class _CodegenTimer:
    """Sum the wall time the runtime device spends in ``code_object`` (codegen + compile).

    The wrapper is set on the device *instance* for the duration of a ``with`` block and
    removed afterwards; nested calls are counted once.
    """

    def __init__(self, device: Any) -> None:
        self.device = device
        self.seconds = 0.0
        self._depth = 0

    def __enter__(self) -> _CodegenTimer:
        original = type(self.device).code_object.__get__(self.device)

        def timed_code_object(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        self.device.code_object = timed_code_object
        return self

    def __exit__(self, *exc: object) -> None:
        del self.device.code_object


@contextlib.contextmanager
def _target_device(target: str) -> Iterator[Any]:
    """Activate a fresh device for ``target``; leave Brian2 on the runtime device after.

    For ``cpp_standalone`` the device keeps a whole project in memory and refuses to
    build twice (``device.has_been_run``), so it is re-initialised on the way in *and*
    on the way out (``device.reinit()`` followed by ``device.activate()``, which is what
    Brian2's error message and ``reinit_devices`` do).  ``reinit`` also resets
    ``defaultclock``, so ``dt`` is set afterwards by the caller.  The preferences
    touched here (``codegen.target``, ``devices.cpp_standalone.openmp_threads``) are
    restored on the way out.
    """
    b2 = _brian2()
    saved_prefs = {name: b2.prefs[name] for name in
                   ("codegen.target", "devices.cpp_standalone.openmp_threads")}
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", build_on_run=False)
        device = b2.get_device()
        device.reinit()
        device.activate(build_on_run=False)
        b2.prefs["devices.cpp_standalone.openmp_threads"] = 0
    else:
        b2.set_device("runtime")
        b2.prefs["codegen.target"] = target
        device = b2.get_device()
    try:
        yield device
    finally:
        if target == "cpp_standalone":
            device.reinit()
        b2.set_device("runtime")
        for name, value in saved_prefs.items():
            b2.prefs[name] = value


def _execute(target: str, seed: int, duration: float, build: Callable[[Any], _Built],
             dt: float = _DT_S) -> dict[str, Any]:
    """Build a workload on ``target``, run it for ``duration`` s and time the phases.

    Parameters
    ----------
    target : {"cython", "cpp_standalone"}
    seed : int
        Passed to ``brian2.seed`` after the device is active.
    duration : float
        Simulated time in s.
    build : callable
        ``build(brian2) -> (objects, namespace, collect)``; ``collect()`` returns the
        workload's figures and is called before the standalone project is deleted.
    dt : float
        Time step in s.

    Returns
    -------
    dict
        Timing fields and whatever ``collect`` returned.
    """
    b2 = _brian2()
    project_dir = None
    try:
        with _target_device(target) as device:
            b2.defaultclock.dt = dt * b2.second
            b2.seed(seed)
            start = time.perf_counter()
            if target == "cpp_standalone":
                objects, namespace, collect = build(b2)
                b2.Network(*objects).run(duration * b2.second, namespace=namespace)
                project_dir = tempfile.mkdtemp(prefix="snnsim_brian2_")
                device.build(directory=project_dir, compile=True, run=False)
                compile_s = time.perf_counter() - start
                device.run(directory=project_dir, with_output=False)
                end = time.perf_counter()
                loop_s = float(device._last_run_time)
            else:
                with _CodegenTimer(device) as codegen:
                    objects, namespace, collect = build(b2)
                    b2.Network(*objects).run(duration * b2.second, namespace=namespace)
                end = time.perf_counter()
                loop_s = float(device._last_run_time)
                compile_s = codegen.seconds
            if device._last_run_completed_fraction != 1.0:
                raise RuntimeError("Brian2 stopped the run early "
                                   f"({device._last_run_completed_fraction:.0%} done)")
            figures = collect()
    finally:
        if project_dir is not None:
            shutil.rmtree(project_dir, ignore_errors=True)
    total_s = end - start
    return {
        "engine": _ENGINE_NAMES[target],
        "duration_s": float(duration),
        "dt_s": float(dt),
        "seed": int(seed),
        "wall_per_sim_s": loop_s / duration,
        "run_s": loop_s,
        "compile_s": compile_s,
        "setup_s": total_s - loop_s - compile_s,
        "total_s": total_s,
        "threads": 1,
        "brian2_version": b2.__version__,
        **figures,
    }


def _connection_probability(n: int, syn_per_neuron: float) -> float:
    if n < 2:
        raise ValueError(f"n must be >= 2 neurons, got {n!r}")
    p = syn_per_neuron / n
    if not 0 < p <= 1:
        raise ValueError(f"syn_per_neuron / n must be in (0, 1], got {syn_per_neuron}/{n}")
    return p


def _ordered(result: dict[str, Any], benchmark: str) -> dict[str, Any]:
    """Put the keys every benchmark shares first, in a fixed order."""
    first = ["benchmark", "engine", "n_neurons", "n_synapses", "duration_s",
             "wall_per_sim_s", "compile_s", "spikes", "rate_hz"]
    result = {"benchmark": benchmark, **result}
    return {**{k: result[k] for k in first}, **{k: v for k, v in result.items()
                                                 if k not in first}}


# --------------------------------------------------------------------- Brette 2007


def _vogels_abbott(b2: Any, kind: str, n: int, syn_per_neuron: float, method: str | None,
                   record: bool, init_conductances: bool = True) -> _Built:
    """The two Vogels & Abbott networks of Brette et al. (2007), benchmarks 1 and 2."""
    ms, mV = b2.ms, b2.mV
    p = _connection_probability(n, syn_per_neuron)
    n_exc = int(0.8 * n)
    namespace = {"taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms,
                 "Vt": -50 * mV, "Vr": -60 * mV, "n_exc": n_exc}
    if kind == "cuba":
        equations = """
        dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
        dge/dt = -ge / taue : volt
        dgi/dt = -gi / taui : volt
        """
        namespace.update(El=-49 * mV, we=1.62 * mV, wi=-9 * mV)  # 60*0.27/10, -20*4.5/10
        method = "exact" if method is None else method
    else:
        # Conductances in units of the leak conductance g_L = 10 nS (C = 200 pF,
        # tau_m = 20 ms): dg_e = 6 nS -> 0.6, dg_i = 67 nS -> 6.7.
        equations = """
        dv/dt  = (ge * (Ee - v) + gi * (Ei - v) + (El - v)) / taum : volt (unless refractory)
        dge/dt = -ge / taue : 1
        dgi/dt = -gi / taui : 1
        """
        namespace.update(El=-60 * mV, Ee=0 * mV, Ei=-80 * mV, we=0.6, wi=6.7)
    kwargs = {} if method is None else {"method": method}
    group = b2.NeuronGroup(n, equations, threshold="v > Vt", reset="v = Vr",
                           refractory=5 * ms, namespace=namespace, name="va_neurons",
                           **kwargs)
    group.v = "Vr + rand() * (Vt - Vr)"
    if kind == "coba" and init_conductances:
        # As in Brian2's COBA speed tests: (randn()*1.5 + 4)*10 nS, (randn()*12 + 20)*10 nS.
        group.ge = "randn() * 1.5 + 4"
        group.gi = "randn() * 12 + 20"
    exc = b2.Synapses(group, group, on_pre="ge += we", namespace=namespace, name="va_exc")
    inh = b2.Synapses(group, group, on_pre="gi += wi", namespace=namespace, name="va_inh")
    exc.connect("i < n_exc", p=p, namespace=namespace)
    inh.connect("i >= n_exc", p=p, namespace=namespace)
    monitor = b2.SpikeMonitor(group, record=record, name="va_spikes")

    def collect() -> dict[str, Any]:
        return {"n_neurons": n, "n_synapses": int(len(exc) + len(inh)),
                "spikes": int(monitor.num_spikes), "syn_per_neuron": float(syn_per_neuron),
                "method": _chosen_method(group, namespace),
                **({"init_conductances": init_conductances} if kind == "coba" else {})}

    return [group, exc, inh, monitor], namespace, collect


def _vogels_abbott_benchmark(kind: str, n: int, duration: float, target: str, seed: int,
                             syn_per_neuron: float, method: str | None, record: bool,
                             init_conductances: bool = True) -> dict[str, Any]:
    _check(target, duration, seed)
    result = _execute(target, seed, duration,
                      lambda b2: _vogels_abbott(b2, kind, n, syn_per_neuron, method, record,
                                                init_conductances))
    result["rate_hz"] = result["spikes"] / (n * duration)
    return _ordered(result, kind)


def cuba(n: int = 4000, duration: float = 1.0, target: str = "cython", seed: int = 0,
         syn_per_neuron: float = 80, method: str | None = None,
         record: bool = True) -> dict[str, Any]:
    """Brette et al. (2007) benchmark 1: current-based Vogels & Abbott network.

    ``dv/dt = (ge + gi - (v - E_L)) / tau_m`` (unless refractory), exponential currents
    ``ge``, ``gi`` in volts; tau_m 20 ms, tau_e 5 ms, tau_i 10 ms, E_L -49 mV, threshold
    ``v > -50 mV``, reset -60 mV, refractory 5 ms, dt 0.1 ms, integrated ``'exact'``.
    80 % excitatory (w_e = 1.62 mV), 20 % inhibitory (w_i = -9 mV), connection
    probability ``syn_per_neuron / n`` (0.02 at n = 4000), no delay; initial ``v``
    uniform in [-60, -50] mV.

    Parameters
    ----------
    n : int
        Number of neurons.
    duration : float
        Simulated time in s.
    target : {"cython", "cpp_standalone"}
        Brian2 code-generation target.
    seed : int
        Seed for ``brian2.seed``.
    syn_per_neuron : float
        Expected number of incoming synapses per neuron (connection probability times n).
    method : str or None
        Integration method; ``None`` uses ``'exact'`` as Brian2's example does.
    record : bool
        Record spike times and indices (``True``, as Brian2's example) or only count them.

    Returns
    -------
    dict
        ``benchmark, engine, n_neurons, n_synapses, duration_s, wall_per_sim_s,
        compile_s, spikes, rate_hz`` and further fields (``run_s``, ``setup_s``,
        ``total_s``, ``method``, ``dt_s``, ``seed``, ``brian2_version`` ...); see the
        module docstring for what each time covers.

    Examples
    --------
    >>> r = cuba(n=4000, duration=1.0, target="cython")   # doctest: +SKIP
    >>> 3 < r["rate_hz"] < 8                               # doctest: +SKIP
    True
    """
    return _vogels_abbott_benchmark("cuba", n, duration, target, seed, syn_per_neuron,
                                    method, record)


def coba(n: int = 4000, duration: float = 1.0, target: str = "cython", seed: int = 0,
         syn_per_neuron: float = 80, method: str | None = None, record: bool = True,
         init_conductances: bool = True) -> dict[str, Any]:
    """Brette et al. (2007) benchmark 2: conductance-based Vogels & Abbott (2005) network.

    ``dv/dt = (ge (E_e - v) + gi (E_i - v) + (E_L - v)) / tau_m`` (unless refractory),
    conductances dimensionless in units of g_L = 10 nS (C = 200 pF, tau_m = 20 ms);
    E_L -60 mV, E_e 0 mV, E_i -80 mV, tau_e 5 ms, tau_i 10 ms, threshold ``v > -50 mV``,
    reset -60 mV, refractory 5 ms, dt 0.1 ms.  80 % excitatory (w_e = 0.6, i.e. 6 nS),
    20 % inhibitory (w_i = 6.7, i.e. 67 nS), connection probability ``syn_per_neuron /
    n``, no delay.  Initial state as in Brian2's speed tests: ``v`` uniform in
    [-60, -50] mV, ``ge ~ N(4, 1.5)``, ``gi ~ N(20, 12)`` (units of g_L).

    Parameters
    ----------
    n, duration, target, seed, syn_per_neuron, record
        As for `cuba`.
    method : str or None
        Integration method; ``None`` lets Brian2 choose from its default list
        (``'exact'``, ``'euler'``, ``'heun'``) and reports its choice in ``method``.
        ``'exponential_euler'`` is the choice of Brian2's hand-written benchmarks.
    init_conductances : bool
        Draw the initial ``ge``, ``gi`` from the normal distributions above (``True``)
        or start them at 0.

    Returns
    -------
    dict
        As for `cuba`.

    Notes
    -----
    The initial conductances are what starts the activity: with ``ge = gi = 0`` at
    t = 0 and ``v`` in [-60, -50] mV nothing drives the neurons above threshold and the
    network stays silent (0 Hz); with them it settles at about 19-21 Hz at n = 4000.
    Brian2 picks ``'euler'`` for these equations (``'exact'`` fails on the
    ``ge * v`` products); ``method="exponential_euler"`` gives the same rates within
    seed-to-seed scatter and is about 1.8 times slower on the Cython target.

    Examples
    --------
    >>> r = coba(n=4000, duration=1.0, target="cpp_standalone")   # doctest: +SKIP
    >>> r["method"]                                                # doctest: +SKIP
    'euler'
    """
    return _vogels_abbott_benchmark("coba", n, duration, target, seed, syn_per_neuron,
                                    method, record, init_conductances)


# ------------------------------------------------------------ Song, Miller & Abbott


def _song_miller_abbott(b2: Any, n_inputs: int, n_post: int, input_rate_hz: float,
                        linearized: bool, method: str | None, duration: float) -> _Built:
    """1000 Poisson inputs -> ``n_post`` LIF neurons through additive pair STDP."""
    ms, mV = b2.ms, b2.mV
    g_max = 0.01
    d_a_pre = 0.01 * g_max
    namespace = {"taum": 10 * ms, "El": -74 * mV, "vt": -54 * mV, "vr": -60 * mV,
                 "Ee": 0 * mV, "taue": 5 * ms, "taupre": 20 * ms, "taupost": 20 * ms,
                 "gmax": g_max, "dApre": d_a_pre, "dApost": -1.05 * d_a_pre}
    drive = "ge * (Ee - vr)" if linearized else "ge * (Ee - v)"
    equations = f"""
    dv/dt = ({drive} + El - v) / taum : volt
    dge/dt = -ge / taue : 1
    """
    kwargs = {} if method is None else {"method": method}
    inputs = b2.PoissonGroup(n_inputs, rates=input_rate_hz * b2.Hz, name="sma_inputs")
    neurons = b2.NeuronGroup(n_post, equations, threshold="v > vt", reset="v = vr",
                             namespace=namespace, name="sma_neurons", **kwargs)
    neurons.v = "El"
    synapses = b2.Synapses(
        inputs, neurons,
        """w : 1
           dApre/dt = -Apre / taupre : 1 (event-driven)
           dApost/dt = -Apost / taupost : 1 (event-driven)""",
        on_pre="""ge += w
                  Apre += dApre
                  w = clip(w + Apost, 0, gmax)""",
        on_post="""Apost += dApost
                   w = clip(w + Apre, 0, gmax)""",
        namespace=namespace, name="sma_synapses")
    synapses.connect()
    synapses.w = "rand() * gmax"
    monitor = b2.SpikeMonitor(neurons, name="sma_spikes")

    def collect() -> dict[str, Any]:
        w = np.asarray(synapses.w[:]) / g_max
        late = np.count_nonzero(np.asarray(monitor.t_[:]) >= 0.9 * duration)
        return {"n_neurons": n_post, "n_inputs": n_inputs, "n_synapses": int(w.size),
                "spikes": int(monitor.num_spikes), "input_rate_hz": float(input_rate_hz),
                "final_rate_hz": late / (n_post * 0.1 * duration),
                "frac_below_0_1": float(np.mean(w < 0.1)),
                "frac_above_0_9": float(np.mean(w > 0.9)),
                "mean_w_over_gmax": float(np.mean(w)),
                "linearized": bool(linearized),
                "method": _chosen_method(neurons, namespace)}

    return [inputs, neurons, synapses, monitor], namespace, collect


def song_miller_abbott(duration: float = 100.0, target: str = "cython", seed: int = 0,
                       n_inputs: int = 1000, n_post: int = 1, input_rate_hz: float = 15.0,
                       linearized: bool = False,
                       method: str | None = None) -> dict[str, Any]:
    """Song, Miller & Abbott (2000): competitive additive STDP onto one LIF neuron.

    ``n_inputs`` Poisson inputs at ``input_rate_hz`` drive ``n_post`` conductance LIF
    neurons all-to-all: ``dv/dt = (ge (E_e - v) + E_L - v) / tau_m``,
    ``dge/dt = -ge / tau_e`` (``ge`` in units of the leak conductance); tau_m 10 ms,
    E_L -74 mV, threshold ``v > -54 mV``, reset -60 mV, E_e 0 mV, tau_e 5 ms, dt 0.1 ms,
    ``v`` starts at E_L (Brian2's example starts it at 0 V, one spurious spike).
    Additive pair STDP with per-synapse traces as in Brian2's
    ``examples/synapses/STDP.py``: tau_pre = tau_post = 20 ms, g_max = 0.01,
    dA_pre = 0.01 g_max, dA_post = -1.05 dA_pre, ``w`` clipped to [0, g_max] at every
    update, initial ``w`` uniform in [0, g_max].

    Parameters
    ----------
    duration : float
        Simulated time in s.
    target : {"cython", "cpp_standalone"}
        Brian2 code-generation target.
    seed : int
        Seed for ``brian2.seed``.
    n_inputs : int
        Number of Poisson inputs.
    n_post : int
        Number of postsynaptic neurons; ``> 1`` is the load variant (all-to-all).
    input_rate_hz : float
        Rate of every Poisson input in Hz.
    linearized : bool
        Use Brian2's example's linearised drive ``ge (E_e - v_reset)`` instead of the
        conductance ``ge (E_e - v)``.
    method : str or None
        Integration method; ``None`` lets Brian2 choose (reported in ``method``).

    Returns
    -------
    dict
        The shared fields (``rate_hz`` is the mean output rate over the whole run,
        ``spikes`` the output spike count, ``n_neurons`` = ``n_post``) plus
        ``final_rate_hz`` (mean output rate over the last tenth of the run),
        ``frac_below_0_1`` and ``frac_above_0_9`` (fractions of the final weights below
        0.1 g_max and above 0.9 g_max), ``mean_w_over_gmax``, ``n_inputs``,
        ``input_rate_hz``.

    Notes
    -----
    Brian2 picks ``'euler'`` for the conductance form and ``'exact'`` for the
    linearised one.  Over 100 s (seeds 0-3) the conductance form ended with 23-27 % of
    the weights below 0.1 g_max and 18-21 % above 0.9 g_max, a whole-run output rate
    of 22-28 Hz and 19-23 Hz over the last 10 s; the distribution is still filling its
    two ends at 100 s (about half the weights lie in between).

    Examples
    --------
    >>> r = song_miller_abbott(duration=100.0, target="cpp_standalone")  # doctest: +SKIP
    >>> r["frac_below_0_1"] > 0.1 and r["frac_above_0_9"] > 0.1          # doctest: +SKIP
    True
    """
    _check(target, duration, seed)
    if n_inputs < 1 or n_post < 1:
        raise ValueError(f"n_inputs and n_post must be >= 1, got {n_inputs}, {n_post}")
    result = _execute(target, seed, duration,
                      lambda b2: _song_miller_abbott(b2, n_inputs, n_post, input_rate_hz,
                                                     linearized, method, duration))
    result["rate_hz"] = result["spikes"] / (n_post * duration)
    return _ordered(result, "song_miller_abbott")


# ------------------------------------------------------------------ Diehl & Cook 2015

#: Parameters of the Diehl & Cook (2015) network, as in snnsim's ``DiehlCookParams``
#: defaults and ``models/diehl_cook_2015.toml`` (the authors' published code), in Brian2
#: units where they have one (filled in by `_diehl_cook_namespace`).
_DC_DT_S = 0.5e-3
_DC_PRESENT_S = 0.350
_DC_REST_S = 0.150
_DC_SLOT_S = 0.050         # TimedArray step: 350 ms = 7 slots on, 150 ms = 3 slots off
_DC_RATE_PER_LEVEL_HZ = 0.125
_DC_INTENSITY = 2.0
_DC_NORM_TARGET = 78.0
_DC_N_INPUT = 784


def _diehl_cook_namespace(b2: Any) -> dict[str, Any]:
    ms, mV = b2.ms, b2.mV
    return {
        # excitatory layer (adaptive threshold, conductances in units of g_leak)
        "tau_e": 100 * ms, "v_rest_e": -65 * mV, "v_reset_e": -65 * mV,
        "v_th_e": -52 * mV, "E_exc_e": 0 * mV, "E_inh_e": -100 * mV,
        "tau_ge_e": 1 * ms, "tau_gi_e": 2 * ms, "theta_plus": 0.05 * mV,
        "tau_theta": 1e7 * ms,
        # inhibitory layer
        "tau_i": 10 * ms, "v_rest_i": -60 * mV, "v_reset_i": -45 * mV,
        "v_th_i": -40 * mV, "E_exc_i": 0 * mV, "E_inh_i": -85 * mV,
        "tau_ge_i": 1 * ms, "tau_gi_i": 2 * ms,
        # input -> excitatory STDP
        "tau_pre": 20 * ms, "tau_post1": 20 * ms, "tau_post2": 40 * ms,
        "nu_pre": 1e-4, "nu_post": 1e-2, "wmax": 1.0,
        # recurrent
        "w_ei": 10.4, "w_ie": 17.0,
        "norm_target": _DC_NORM_TARGET,
    }


def _diehl_cook_images(images: Any, n_images: int) -> np.ndarray:
    """``n_images`` images as an (n_images, 784) float array of 0..255 pixel values."""
    if images is None:
        # Only the data loader: the network itself is Brian2's alone.
        from snnsim.learning.datasets import load_mnist_mini
        images = load_mnist_mini().x_train[:n_images]
    x = np.asarray(images, dtype=float).reshape(len(images), -1)
    if x.shape[1] != _DC_N_INPUT:
        raise ValueError(f"images must have {_DC_N_INPUT} pixels each, got {x.shape[1]}")
    if len(x) < n_images:
        raise ValueError(f"need {n_images} images, got {len(x)}")
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 255):
        raise ValueError("image pixels must lie in 0..255")
    return x[:n_images]


def _diehl_cook(b2: Any, n_exc: int, rates_hz: np.ndarray | None) -> _Built:
    """The Diehl & Cook (2015) network in Brian2.

    ``rates_hz`` is ``None`` for the per-image protocol (the input rates are a plain
    variable, set between runs, and the weights are normalised from Python), or the
    (n_images, 784) input rates of the whole sequence for the single-run protocol: the
    rates then come from a `TimedArray` (50 ms slots: 7 with the image, 3 silent) and
    the normalisation is done inside the network, every 500 ms at the start of the step
    (``wsum = 0`` on the excitatory group, ``wsum_post += w`` then
    ``w = w * norm_target / wsum_post`` on the synapses, three ``run_regularly``
    operations with ``dt = 500 ms``: one sweep over the synapses each, once per image).
    """
    ms, mV = b2.ms, b2.mV
    namespace = _diehl_cook_namespace(b2)
    single_run = rates_hz is not None
    if single_run:
        n_img = len(rates_hz)
        per_slot = int(round((_DC_PRESENT_S + _DC_REST_S) / _DC_SLOT_S))
        on_slots = int(round(_DC_PRESENT_S / _DC_SLOT_S))
        table = np.zeros((n_img * per_slot, _DC_N_INPUT))
        for k in range(n_img):
            table[k * per_slot:k * per_slot + on_slots] = rates_hz[k]
        namespace["stimulus"] = b2.TimedArray(table * b2.Hz, dt=_DC_SLOT_S * b2.second)
        inputs = b2.PoissonGroup(_DC_N_INPUT, rates="stimulus(t, i)", namespace=namespace,
                                 name="dc_input")
    else:
        inputs = b2.PoissonGroup(_DC_N_INPUT, rates=0 * b2.Hz, name="dc_input")

    exc_eqs = """
    dv/dt = ((v_rest_e - v) + ge * (E_exc_e - v) + gi * (E_inh_e - v)) / tau_e : volt (unless refractory)
    dge/dt = -ge / tau_ge_e : 1
    dgi/dt = -gi / tau_gi_e : 1
    dtheta/dt = -theta / tau_theta : volt
    """ + ("wsum : 1\n" if single_run else "")
    exc = b2.NeuronGroup(n_exc, exc_eqs, threshold="v > v_th_e + theta",
                         reset="v = v_reset_e; theta += theta_plus", refractory=5 * ms,
                         method="exponential_euler", namespace=namespace, name="dc_exc")
    inh = b2.NeuronGroup(n_exc, """
    dv/dt = ((v_rest_i - v) + ge * (E_exc_i - v) + gi * (E_inh_i - v)) / tau_i : volt (unless refractory)
    dge/dt = -ge / tau_ge_i : 1
    dgi/dt = -gi / tau_gi_i : 1
    """, threshold="v > v_th_i", reset="v = v_reset_i", refractory=2 * ms,
                         method="exponential_euler", namespace=namespace, name="dc_inh")
    exc.v = "v_rest_e"
    inh.v = "v_rest_i"

    # Traces are per synapse and event-driven (updated lazily at each event); 'pre' is
    # set at the *arrival* of the delayed spike, as snnsim's timing="arrival".
    syn = b2.Synapses(inputs, exc, """
    w : 1
    dapre/dt = -apre / tau_pre : 1 (event-driven)
    dapost1/dt = -apost1 / tau_post1 : 1 (event-driven)
    dapost2/dt = -apost2 / tau_post2 : 1 (event-driven)
    """, on_pre="""
    ge_post += w
    apre = 1.
    w = clip(w - nu_pre * apost1, 0, wmax)
    """, on_post="""
    post2before = apost2
    w = clip(w + nu_post * apre * post2before, 0, wmax)
    apost1 = 1.
    apost2 = 1.
    """, namespace=namespace, name="dc_input_exc")
    syn.connect()
    syn.w = "clip(0.3 * (rand() + 0.01), 0, wmax)"
    syn.delay = "rand() * 10 * ms"
    e2i = b2.Synapses(exc, inh, on_pre="ge_post += w_ei", namespace=namespace,
                      name="dc_exc_inh")
    e2i.connect(j="i")
    i2e = b2.Synapses(inh, exc, on_pre="gi_post += w_ie", namespace=namespace,
                      name="dc_inh_exc")
    i2e.connect(condition="i != j")
    if single_run:
        period = (_DC_PRESENT_S + _DC_REST_S) * b2.second
        exc.run_regularly("wsum = 0", dt=period, when="start", order=0, name="dc_wsum_zero")
        syn.run_regularly("wsum_post += w", dt=period, when="start", order=1,
                          name="dc_wsum_add")
        syn.run_regularly("w = w * norm_target / wsum_post", dt=period, when="start",
                          order=2, name="dc_normalise")
    monitor = b2.SpikeMonitor(exc, name="dc_exc_spikes")

    def collect() -> dict[str, Any]:
        return {"n_synapses": int(len(syn) + len(e2i) + len(i2e)),
                "mean_theta_mv": float(np.mean(np.asarray(exc.theta_[:])) * 1e3),
                "mean_w": float(np.mean(np.asarray(syn.w_[:])))}

    objects = [inputs, exc, inh, syn, e2i, i2e, monitor]
    return objects, namespace, collect


def _present_counts(spike_t: np.ndarray, first: int, n: int) -> np.ndarray:
    """Excitatory spikes during the 350 ms presentation of images first..first+n-1."""
    period = _DC_PRESENT_S + _DC_REST_S
    k = np.floor(spike_t / period + 1e-9).astype(np.int64)
    during = (spike_t - k * period) < _DC_PRESENT_S - 1e-9
    k = k[during & (k >= first) & (k < first + n)] - first
    return np.bincount(k, minlength=n)


def diehl_cook(n_exc: int = 400, n_images: int = 20, target: str = "cython", seed: int = 0,
               images: Any = None, schedule: str | None = None) -> dict[str, Any]:
    """Diehl & Cook (2015): time unsupervised STDP training, image by image, in Brian2.

    784 Poisson inputs (``pixel / 8 * 2`` Hz while an image is shown) drive ``n_exc``
    excitatory conductance LIF neurons with an adaptive threshold,
    ``dv/dt = ((v_rest - v) + ge (0 mV - v) + gi (-100 mV - v)) / (100 ms)``
    (unless refractory), ``ge``/``gi`` dimensionless (units of g_leak) decaying with
    1 ms / 2 ms, threshold ``v > -52 mV + theta``, reset ``v = -65 mV``,
    ``theta += 0.05 mV`` (decaying with 1e7 ms), refractory 5 ms, ``v`` starting at
    -65 mV; and ``n_exc`` inhibitory LIF neurons (tau_m 10 ms, rest -60 mV, reset
    -45 mV, threshold -40 mV, refractory 2 ms, E_inh -85 mV, ``v`` starting at -60 mV).
    Input -> excitatory: all-to-all, ``w = 0.3 (rand() + 0.01)``, delays uniform in
    [0, 10] ms, plastic with the Diehl & Cook rule (per-synapse event-driven traces
    ``pre`` 20 ms, ``post1`` 20 ms, ``post2`` 40 ms, nearest-spike: set to 1;
    pre: ``ge += w; pre = 1; w = clip(w - 1e-4 post1, 0, 1)``; post:
    ``w = clip(w + 1e-2 pre post2_before, 0, 1); post1 = post2 = 1``).  Excitatory ->
    inhibitory one-to-one onto ``ge`` (10.4); inhibitory -> excitatory all but the
    partner onto ``gi`` (17.0).  dt = 0.5 ms.  These are the defaults of snnsim's
    ``DiehlCookParams`` (``models/diehl_cook_2015.toml``).

    Each image: every excitatory neuron's incoming weights are scaled to sum to 78,
    the image is shown for 350 ms, then the input is silent for 150 ms.  There are no
    intensity retries (an image that draws fewer than 5 spikes is not shown again).

    Parameters
    ----------
    n_exc : int
        Number of excitatory (and of inhibitory) neurons.
    n_images : int
        Number of images timed.
    target : {"cython", "cpp_standalone"}
        Brian2 code-generation target.
    seed : int
        Seed for ``brian2.seed``.
    images : array (n, 28, 28) or (n, 784), values 0..255, optional
        The images; by default the first ``n_images`` training images of
        ``snnsim.learning.datasets.load_mnist_mini()`` (snnsim is imported for this only).
    schedule : {"per_image", "single_run"} or None
        ``"per_image"`` (the default on ``cython``, as the authors' code): two
        ``Network.run`` calls per image (350 ms, 150 ms), input rates set and weights
        normalised from Python between them (a direct write of ``w``).  One warm-up
        image (``images[0]``, an extra presentation) is run first, outside the timing;
        it holds all code generation and compilation.  ``"single_run"`` (the only
        choice on ``cpp_standalone``): one run over the whole sequence, rates from a
        `TimedArray`, normalisation inside the network (see `_diehl_cook`); one build.

    Returns
    -------
    dict
        ``benchmark`` ("diehl_cook_train"), ``engine``, ``n_exc``, ``n_images``,
        ``seconds_per_image``, ``compile_s``, ``exc_spikes_per_image`` (mean excitatory
        spikes during the 350 ms presentations of the timed images) and
        ``schedule``, ``loop_s_per_image`` (Brian2's own loop time,
        ``device._last_run_time``, summed over the runs, per image), ``n_synapses``,
        ``mean_theta_mv``, ``mean_w`` (at the end), ``setup_s``, ``total_s``, ``dt_s``,
        ``seed``, ``threads``, ``brian2_version``.  ``seconds_per_image`` is, for
        ``per_image``, the wall time of the whole per-image step after the warm-up
        (normalisation, setting the rates, both ``run`` calls including their
        ``before_run`` preparation, which on the runtime device re-creates the code
        objects from Brian2's in-memory cache: ``codegen_s_per_image`` says how much of
        it), and for ``single_run`` the loop time divided by ``n_images``.

    Examples
    --------
    >>> r = diehl_cook(n_exc=100, n_images=5, target="cython")   # doctest: +SKIP
    >>> r["benchmark"], r["engine"]                             # doctest: +SKIP
    ('diehl_cook_train', 'brian2-cython')
    """
    _check(target, 1.0, seed)
    if int(n_exc) != n_exc or n_exc < 2:
        raise ValueError(f"n_exc must be an integer >= 2, got {n_exc!r}")
    if int(n_images) != n_images or n_images < 1:
        raise ValueError(f"n_images must be an integer >= 1, got {n_images!r}")
    if schedule is None:
        schedule = "per_image" if target == "cython" else "single_run"
    if schedule not in ("per_image", "single_run"):
        raise ValueError(f"schedule must be 'per_image' or 'single_run', got {schedule!r}")
    if target == "cpp_standalone" and schedule != "single_run":
        raise ValueError("cpp_standalone builds the whole sequence once: use "
                         "schedule='single_run'")
    x = _diehl_cook_images(images, n_images)
    rates_hz = x * _DC_RATE_PER_LEVEL_HZ * _DC_INTENSITY
    period = _DC_PRESENT_S + _DC_REST_S

    if schedule == "single_run":
        holder: dict[str, Any] = {}

        def build(b2: Any) -> _Built:
            objects, namespace, collect = _diehl_cook(b2, n_exc, rates_hz)
            monitor = objects[-1]

            def collect_all() -> dict[str, Any]:
                counts = _present_counts(np.asarray(monitor.t_[:]), 0, n_images)
                holder["counts"] = counts
                return collect()

            return objects, namespace, collect_all

        r = _execute(target, seed, n_images * period, build, dt=_DC_DT_S)
        result = {
            "engine": r["engine"], "n_exc": int(n_exc), "n_images": int(n_images),
            "seconds_per_image": r["run_s"] / n_images, "compile_s": r["compile_s"],
            "exc_spikes_per_image": float(np.mean(holder["counts"])),
            "schedule": schedule, "loop_s_per_image": r["run_s"] / n_images,
            "setup_s": r["setup_s"], "total_s": r["total_s"],
            **{k: r[k] for k in ("n_synapses", "mean_theta_mv", "mean_w")},
        }
    else:
        result = _diehl_cook_per_image(n_exc, rates_hz, seed)
    b2 = _brian2()
    result.update(dt_s=_DC_DT_S, seed=int(seed), threads=1, brian2_version=b2.__version__)
    return {"benchmark": "diehl_cook_train", **result}


def _diehl_cook_per_image(n_exc: int, rates_hz: np.ndarray, seed: int) -> dict[str, Any]:
    """The per-image protocol on the runtime (Cython) device; see `diehl_cook`."""
    b2 = _brian2()
    n_images = len(rates_hz)
    with _target_device("cython") as device:
        b2.defaultclock.dt = _DC_DT_S * b2.second
        b2.seed(seed)
        start = time.perf_counter()
        with _CodegenTimer(device) as codegen:
            objects, namespace, collect = _diehl_cook(b2, n_exc, None)
            inputs, syn, monitor = objects[0], objects[3], objects[-1]
            net = b2.Network(*objects)
            post = None
            loop_s = 0.0

            def present(rates: np.ndarray) -> None:
                nonlocal post, loop_s
                if post is None:
                    post = np.asarray(syn.j[:])
                w = np.asarray(syn.w_[:])
                sums = np.bincount(post, weights=w, minlength=n_exc)
                sums[sums == 0] = 1.0
                syn.w_[:] = w * (_DC_NORM_TARGET / sums)[post]
                inputs.rates_[:] = rates
                net.run(_DC_PRESENT_S * b2.second, namespace=namespace)
                loop_s += float(device._last_run_time)
                inputs.rates_[:] = 0.0
                net.run(_DC_REST_S * b2.second, namespace=namespace)
                loop_s += float(device._last_run_time)

            present(rates_hz[0])                       # warm-up: code generation, compile
            compile_s = codegen.seconds
            warm_end = time.perf_counter()
            loop_s = 0.0
            for rates in rates_hz:
                present(rates)
            end = time.perf_counter()
            codegen_timed = codegen.seconds - compile_s
        counts = _present_counts(np.asarray(monitor.t_[:]), 1, n_images)
        figures = collect()
    wall = end - warm_end
    return {"engine": _ENGINE_NAMES["cython"], "n_exc": int(n_exc), "n_images": n_images,
            "seconds_per_image": wall / n_images, "compile_s": compile_s,
            "exc_spikes_per_image": float(np.mean(counts)), "schedule": "per_image",
            "loop_s_per_image": loop_s / n_images,
            "codegen_s_per_image": codegen_timed / n_images,
            "setup_s": (warm_end - start) - compile_s, "total_s": end - start, **figures}


# ------------------------------------------------------------------------ command line

_WORKLOADS = {"cuba": cuba, "coba": coba, "song_miller_abbott": song_miller_abbott,
              "sma": song_miller_abbott, "diehl_cook": diehl_cook, "dc": diehl_cook}


def main(argv: list[str] | None = None) -> int:
    """Run one workload and print its result as one JSON line on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(_WORKLOADS))
    parser.add_argument("--target", choices=TARGETS, default="cython")
    parser.add_argument("--duration", type=float, default=None,
                        help="simulated seconds (default: 1 for cuba/coba, 100 for sma)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=4000, help="neurons (cuba, coba)")
    parser.add_argument("--syn-per-neuron", type=float, default=80)
    parser.add_argument("--method", default=None, help="integration method")
    parser.add_argument("--no-record", action="store_true",
                        help="count spikes instead of recording them (cuba, coba)")
    parser.add_argument("--zero-conductances", action="store_true",
                        help="start ge, gi at 0 instead of N(4, 1.5), N(20, 12) (coba)")
    parser.add_argument("--n-inputs", type=int, default=1000, help="inputs (sma)")
    parser.add_argument("--n-post", type=int, default=1, help="output neurons (sma)")
    parser.add_argument("--linearized", action="store_true",
                        help="Brian2 example's linearised synaptic drive (sma)")
    parser.add_argument("--n-exc", type=int, default=400,
                        help="excitatory neurons (diehl_cook)")
    parser.add_argument("--n-images", type=int, default=20, help="images timed (diehl_cook)")
    parser.add_argument("--schedule", choices=("per_image", "single_run"), default=None,
                        help="diehl_cook: per-image runs (cython default) or one run")
    parser.add_argument("--cython-cache", default=None,
                        help="Cython cache directory (an empty one gives a cold compile)")
    args = parser.parse_args(argv)

    if args.cython_cache is not None:
        _brian2().prefs.codegen.runtime.cython.cache_dir = args.cython_cache
    if args.workload in ("cuba", "coba"):
        extra = ({"init_conductances": not args.zero_conductances}
                 if args.workload == "coba" else {})
        result = _WORKLOADS[args.workload](
            n=args.n, duration=1.0 if args.duration is None else args.duration,
            target=args.target, seed=args.seed, syn_per_neuron=args.syn_per_neuron,
            method=args.method, record=not args.no_record, **extra)
    elif args.workload in ("diehl_cook", "dc"):
        result = diehl_cook(n_exc=args.n_exc, n_images=args.n_images, target=args.target,
                            seed=args.seed, schedule=args.schedule)
    else:
        result = song_miller_abbott(
            duration=100.0 if args.duration is None else args.duration,
            target=args.target, seed=args.seed, n_inputs=args.n_inputs,
            n_post=args.n_post, linearized=args.linearized, method=args.method)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
