"""Limits and guarantees of the builder and of Network.run (issue 14, parts 5, 6 and 8).

Sizes, step counts and inputs are checked before anything is allocated or run; bad input is
a SnnsimError naming what was wrong; memory is estimated and refused with the estimate and
what is available; NaN state is reported; long runs go in chunks (bitwise the same results)
and stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import snnsim as sn
import snnsim.network as snn
import snnsim._memory as snn_checks  # where the memory probe is looked up
import snnsim.network.running as snn_run  # where the chunking tunables are looked up
from snnsim.plan import S_GE
from snnsim.units import Hz, mV, ms

GiB = 2 ** 30


def _small():
    net = sn.Network(dt=0.1 * ms, seed=0)
    net.add(sn.PoissonInput(4, rate=10 * Hz), name="inp")
    net.add(sn.LIF(3), name="cur")
    net.add(sn.LIF(3, synapses=sn.Conductance()), name="cond")
    return net


@pytest.fixture
def little_memory(monkeypatch):
    """Pretend the machine has 32 MiB available (``raising=False``: on code without the
    memory checks the patch does nothing and the tests fail, as they should)."""
    monkeypatch.setattr(snn_checks, "available_memory", lambda: 32 * 2 ** 20, raising=False)


# -- generated bad calls ---------------------------------------------------------------------

_not_number = st.one_of(  # None is refused only where it is no default
    st.text(max_size=4), st.booleans(), st.just(object()), st.just({}),
    st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e3).filter(
        lambda z: z.imag != 0),
    st.lists(st.text(min_size=1, max_size=2), min_size=1, max_size=3), st.just([1.0, None]),
    st.just([[1.0], [1.0, 2.0]]))
_non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
_huge = st.floats(1.0001e6, 1e300).flatmap(lambda x: st.sampled_from([x, -x]))
_non_positive = st.floats(max_value=0.0, allow_nan=False, allow_infinity=False)
_bad_name = st.one_of(st.just(""), st.text(max_size=3).map(lambda s: s + "\x00"),
                      st.integers(), st.binary(max_size=3), st.just("\ud800"), st.just(("a",)))
_not_pop = st.one_of(st.integers(), st.text(max_size=3), st.just(None), st.just(sn.LIF(3)))


def _case(label, pattern, values, make):
    """Bad calls ``make(value)(net)`` for generated ``values``, expected to match ``pattern``."""
    return values.map(lambda v: (f"{label}={v!r}", pattern, make(v)))


def _run_option(name):
    return lambda net: net.run(1 * ms, **{name: 1})


BAD_CALLS = st.one_of(
    _case("Network.dt", "Network.dt",
          st.one_of(_not_number, st.just(None), _non_finite, _non_positive, st.floats(1e-300, 9.9e-8),
                    st.floats(1.0001, 1e300)),
          lambda v: lambda net: sn.Network(dt=v)),
    _case("Network.seed", "Network.seed",
          st.one_of(st.integers(max_value=-1), st.floats(), st.text(max_size=2), st.booleans()),
          lambda v: lambda net: sn.Network(seed=v)),
    _case("add(model)", r"add\(\)",
          st.one_of(st.integers(), st.text(max_size=3), st.just(sn.AllToAll()), st.just(None)),
          lambda v: lambda net: net.add(v)),
    _case("add(name)", "population name", _bad_name,
          lambda v: lambda net: net.add(sn.LIF(2), name=v)),
    _case("t_ref at dt 1e-7", "t_ref", st.floats(108.0, 1e6),
          lambda v: lambda net: sn.Network(dt=1e-7).add(sn.LIF(1, t_ref=v))),
    _case("connect(weight)", "weight", st.one_of(_not_number, st.just(None), _non_finite, _huge),
          lambda v: lambda net: net.connect(net["inp"], net["cur"], weight=v)),
    _case("connect(conductance weight)", "weight", st.floats(-1e6, -1e-12),
          lambda v: lambda net: net.connect(net["inp"], net["cond"], weight=v)),
    _case("connect(delay)", "delay",
          st.one_of(_not_number, _non_finite,
                    st.floats(-1e300, -1e-12), st.floats(1.1e5, 1e300)),
          lambda v: lambda net: net.connect(net["inp"], net["cur"], delay=v)),
    _case("connect(pre)", "pre", _not_pop, lambda v: lambda net: net.connect(v, net["cur"])),
    _case("connect(post)", "post|input", st.one_of(_not_pop, st.just("inp")),
          lambda v: lambda net: net.connect(net["inp"], net["inp"] if v == "inp" else v)),
    _case("connect(receptor)", "receptor",
          st.one_of(st.text(max_size=4).filter(lambda s: s not in ("exc", "inh")), st.integers(),
                    st.just(None)),
          lambda v: lambda net: net.connect(net["inp"], net["cur"], receptor=v)),
    _case("connect(rule)", "rule", st.one_of(st.integers(), st.text(max_size=3)),
          lambda v: lambda net: net.connect(net["inp"], net["cur"], v)),
    _case("connect(plasticity)", "plasticity", st.one_of(st.integers(), st.just(sn.AllToAll())),
          lambda v: lambda net: net.connect(net["inp"], net["cur"], plasticity=v)),
    _case("connect(normalization)", "normalization", st.one_of(st.integers(), st.just(sn.PairSTDP())),
          lambda v: lambda net: net.connect(net["inp"], net["cur"], normalization=v)),
    _case("connect(name)", "projection name", _bad_name,
          lambda v: lambda net: net.connect(net["inp"], net["cur"], name=v)),
    _case("record_spikes(pop)", "record_spikes", _not_pop, lambda v: lambda net: net.record_spikes(v)),
    _case("record_spikes(indices)", "record_spikes",
          st.one_of(st.integers(max_value=-1), st.integers(min_value=4), st.text(max_size=2),
                    st.lists(st.floats(0.5, 2.5), min_size=1, max_size=3), st.just([[0], [1, 2]]),
                    st.just([[0, 1]]), st.just([True])),
          lambda v: lambda net: net.record_spikes(net["inp"], indices=v)),
    _case("record_state(variables)", "variable|record_state",
          st.one_of(st.integers(), st.floats(), st.just([]), st.lists(st.integers(), min_size=1),
                    st.text(min_size=1, max_size=4).filter(lambda s: s not in ("v", "i_e", "i_i"))),
          lambda v: lambda net: net.record_state(net["cur"], v, [0])),
    _case("record_state(indices)", "record_state",
          st.one_of(st.just(None), st.integers(min_value=3), st.integers(max_value=-1),
                    st.lists(st.floats(0.5, 1.5), min_size=1, max_size=2), st.text(max_size=2)),
          lambda v: lambda net: net.record_state(net["cur"], "v", v)),
    _case("record_state(every)", "every",
          st.one_of(_not_number, _non_finite, _non_positive, st.floats(1e12, 1e300)),
          lambda v: lambda net: net.record_state(net["cur"], "v", [0], every=v)),
    _case("population_rate(pop)", "population_rate", _not_pop,
          lambda v: lambda net: net.population_rate(v)),
    _case("set_state(v)", "v",
          st.one_of(_not_number, st.just(None), _non_finite, _huge,
                    st.lists(st.floats(-0.1, 0.0), min_size=4,
                                                              max_size=6)),
          lambda v: lambda net: net["cur"].set_state(v=v)),
    _case("set_initial(g_e<0)", "g_e", st.floats(-1e6, -1e-12),
          lambda v: lambda net: net["cond"].set_initial(g_e=v)),
    _case("set_state(unknown)", "variable",
          st.text(min_size=1, max_size=5).filter(lambda s: s not in ("v", "i_e", "i_i")),
          lambda v: lambda net: net["cur"].set_state(**{v: 0.0})),
    _case("run(duration)", "run.duration",
          st.one_of(_not_number, st.just(None), _non_finite, st.floats(-1e300, -1e-12),
                    st.floats(1e12, 1e300)),
          lambda v: lambda net: net.run(v)),
    _case("run(engine)", "engine",
          st.one_of(st.just(None), st.integers(), st.floats(),
                    st.text(max_size=5).filter(lambda s: s not in sn.available_engines())),
          lambda v: lambda net: net.run(1 * ms, engine=v)),
    _case("run(option)", "option",
          st.text(min_size=1, max_size=6).filter(
              lambda s: s not in ("threads", "duration", "engine", "progress")),
          _run_option),
    _case("run(threads)", "threads",
          st.one_of(st.integers(max_value=0), st.integers(min_value=10 ** 4), st.floats(),
                    st.text(max_size=2), st.booleans()),
          lambda v: lambda net: net.run(1 * ms, threads=v)),
    _case("run(progress)", "progress",
          st.one_of(st.text(max_size=3), st.integers().filter(lambda i: not isinstance(i, bool)),
                    st.floats()),
          lambda v: lambda net: net.run(1 * ms, progress=v)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=BAD_CALLS)
def test_generated_bad_calls_raise_snnsim_errors(case):
    """300 generated bad calls to Network/add/connect/record_*/set_state/set_initial/run: each
    is a SnnsimError at the call whose message names the field, never a bare exception."""
    label, pattern, call = case
    net = _small()
    try:
        call(net)
    except sn.SnnsimError as exc:
        assert re.search(pattern, str(exc), re.IGNORECASE), (label, str(exc))
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{label}: {type(exc).__name__}: {exc} (not a SnnsimError)")
    else:
        pytest.fail(f"{label}: no error")


# -- steps that do not fit their integers ----------------------------------------------------

def test_bounds_on_dt():
    for dt in (1e-30, 9.99e-8, 1.5, 1e300):
        with pytest.raises(sn.ParameterError, match=r"Network.dt must be in \[1e-07 s, 1 s\]"):
            sn.Network(dt=dt)
    assert sn.Network(dt=1e-7).dt == 1e-7 and sn.Network(dt=1.0).dt == 1.0


def test_refractory_period_beyond_int32_steps_is_refused():
    # 2**31 steps would wrap the int32 counter negative (the neuron then fires every step)
    net = sn.Network(dt=1e-7)
    with pytest.raises(sn.ParameterError, match=r"LIF.t_ref must be at most 1073741824 steps"):
        net.add(sn.LIF(1, t_ref=2 ** 31 * 1e-7))
    net.add(sn.LIF(1, t_ref=2 ** 29 * 1e-7))  # within the bound


def test_delays_beyond_int32_steps_are_refused():
    net = sn.Network(dt=1e-7)
    a = net.add(sn.PoissonInput(2))
    b = net.add(sn.LIF(2))
    for delay in (2 ** 31 * 1e-7, 2 ** 64 * 1e-7, sn.Uniform(2 ** 31 * 1e-7, 2 ** 32 * 1e-7)):
        with pytest.raises(sn.ParameterError, match="delay must be at most 1073741824 steps"):
            net.connect(a, b, delay=delay)
    assert net.projections == []


def test_huge_step_counts_are_parameter_errors_not_overflow():
    net = _small()
    with pytest.raises(sn.ParameterError, match=r"run.duration must be at most 9007199254740992"):
        net.run(1e30)
    with pytest.raises(sn.ParameterError, match=r"record_state.every must be at most"):
        net.record_state(net["cur"], "v", [0], every=1e300)
    src = sn.Network(dt=1e-7)
    with pytest.raises(sn.ParameterError, match=r"SpikeSource.times"):  # 1e16 steps
        src.add(sn.SpikeSource(1, times=[1e9], indices=[0]))


def test_bad_builder_inputs_of_issue_14():
    net = _small()
    inp, cur, cond = net["inp"], net["cur"], net["cond"]
    with pytest.raises(sn.ParameterError, match=r"run.engine must be an engine name.*got None"):
        net.run(1 * ms, engine=None)
    with pytest.raises(sn.ParameterError, match="got 5"):
        net.run(1 * ms, engine=5)
    with pytest.raises(sn.ParameterError,
                       match=r"unknown option 'thread' for engine 'numba'; options: threads; "
                             r"did you mean 'threads'"):
        net.run(1 * ms, thread=2)
    with pytest.raises(sn.RecordingError, match=r"variables must be a name or a list of names"):
        net.record_state(cur, 5, [0])
    with pytest.raises(sn.ParameterError, match=r"weight must be"):
        net.connect(inp, cur, weight=["0.1"] * 12)
    with pytest.raises(sn.ParameterError, match=r"population name must be a non-empty string"):
        net.add(sn.LIF(1), name="a\x00b")
    with pytest.raises(sn.ParameterError, match=r"projection name must be a non-empty string"):
        net.connect(inp, cur, name="")
    with pytest.raises(sn.ParameterError, match=r"'cond' g_e .*must be >= 0, got -1"):
        cond.set_state(g_e=-1)
    with pytest.raises(sn.ParameterError, match=r"weight must be at most 1e6 V in magnitude"):
        net.connect(inp, cur, weight=2e6)
    with pytest.raises(sn.ParameterError, match=r"v must be at most 1e6 V in magnitude"):
        cur.set_initial(v=[0.0, 0.0, -3e6])
    # nothing half-done: no projection, no recorder, state unchanged
    assert net.projections == [] and net.monitors == []
    assert cond.get_state("g_e").tolist() == [0.0] * 3
    proj = net.connect(inp, cond, weight=0.1)
    with pytest.raises(sn.ParameterError, match="weights must be real numbers|weights must be a"):
        proj.set_weights(np.full((4, 3), "1"))
    with pytest.raises(sn.ParameterError, match="at most 1e6 in magnitude"):
        proj.set_weights(np.full((4, 3), 1e7))


def test_delay_rounding_rule_and_warning():
    net = _small()
    inp, cur = net["inp"], net["cur"]
    # nearest step, ties to even (numpy.rint): 0.25 ms -> 2 steps at dt = 0.1 ms, with a warning
    with pytest.warns(sn.SnnsimWarning, match=r"delay 0.00025 s becomes 2 step\(s\).*ties to even"):
        p = net.connect(inp, cur, delay=0.25 * ms)
    assert np.allclose(p.delays, 0.2 * ms)
    with pytest.warns(sn.SnnsimWarning, match="becomes 1 step"):
        net.connect(inp, cur, delay=0.0)
    # within 10 %: silent; arrays and distributions: silent (rounded synapse by synapse)
    q = net.connect(inp, cur, delay=1.04 * ms)
    assert np.allclose(q.delays, 1.0 * ms)
    r = net.connect(inp, cur, delay=np.full(12, 0.25 * ms))
    assert np.allclose(r.delays, 0.2 * ms)
    u = net.connect(inp, cur, delay=sn.Uniform(0 * ms, 10 * ms))
    assert u.delays.min() >= 0.1 * ms - 1e-12


def test_diehl_cook_network_builds_without_warnings():
    # Uniform(0, 10 ms) delays (rounded per synapse) must not warn: warnings are errors here
    from snnsim.learning.diehl_cook import DiehlCookNetwork, DiehlCookParams
    dc = DiehlCookNetwork(DiehlCookParams(n_exc=4), 16, seed=0)
    assert any(pr.delays.max() > pr.delays.min() for pr in dc.network.projections)


# -- memory ------------------------------------------------------------------------------------

def test_population_too_large_is_refused_before_allocating():
    avail = snn.available_memory()
    if avail is None or avail > 250 * GiB:
        pytest.skip(f"the machine has {avail} bytes available: 2**31 - 1 neurons might fit")
    net = sn.Network(dt=0.1 * ms)
    with pytest.raises(sn.ResourceError, match=r"population 'big' \(LIF\(2147483647\)\) needs "
                                               r"about .* GiB.*memory available \(.* GiB\)"):
        net.add(sn.LIF(2 ** 31 - 1), name="big")
    assert net.populations == []


def test_synapses_are_estimated_before_the_rule_draws_them(little_memory):
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(1000))
    b = net.add(sn.LIF(1000))
    with pytest.raises(sn.ResourceError, match=r"AllToAll, 1000 -> 1000 neurons, about 1e\+06 "
                                               r"synapses\) needs about .*MiB.*\(32 MiB\)"):
        net.connect(a, b)
    with pytest.raises(sn.ResourceError, match="FixedProbability"):
        net.connect(a, b, sn.FixedProbability(0.9))
    net.connect(a, b, sn.FixedProbability(0.01))  # 1e4 synapses: no check needed
    assert len(net.projections) == 1


def test_real_memory_refuses_a_billion_synapses():
    avail = snn.available_memory()
    if avail is None or avail > 400 * GiB:
        pytest.skip("the machine might hold 5e9 synapses")
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(100_000))
    b = net.add(sn.LIF(100_000))
    t0 = time.perf_counter()
    with pytest.raises(sn.ResourceError, match=r"about 5e\+09 synapses"):
        net.connect(a, b, sn.FixedProbability(0.5))
    assert time.perf_counter() - t0 < 1.0  # refused before drawing


def test_history_ring_of_long_delays_is_estimated(little_memory):
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(10))
    b = net.add(sn.LIF(10_000))
    with pytest.raises(sn.ResourceError, match="spike-history ring for delays up to 100000 steps"):
        net.connect(a, b, sn.FromArrays([0], [0]), delay=10.0)


def test_compile_estimates_the_plan(monkeypatch):
    net = sn.Network(dt=0.1 * ms, seed=0)
    net.add(sn.LIF(1_000_000))
    monkeypatch.setattr(snn_checks, "available_memory", lambda: 64 * 2 ** 20, raising=False)
    with pytest.raises(sn.ResourceError, match=r"compiling the network \(1000000 neurons"):
        net.compile()


def test_run_recordings_are_estimated_before_allocating():
    avail = snn.available_memory()
    if avail is None or avail > 2 ** 40:
        pytest.skip("more than a TiB available")
    net = _small()
    net.record_state(net["cur"], ["v", "i_e"], [0, 1, 2])
    net.population_rate(net["cur"])
    with pytest.raises(sn.ResourceError, match=r"run\(1e\+08 s\): the recordings of 1000000000000 "
                                               r"steps needs about .*GiB"):
        net.run(1e8)
    assert net.t == 0.0


def test_run_recordings_refused_with_little_memory(little_memory):
    net = _small()
    net.record_state(net["cur"], "v", [0, 1, 2], every=0.1 * ms)
    with pytest.raises(sn.ResourceError, match=r"the recordings of 5000000 steps"):
        net.run(500.0)
    assert net.t == 0.0


# -- NaN state ---------------------------------------------------------------------------------

def test_non_finite_state_is_reported_after_the_run():
    """The post-run check (every engine keeping state in the plan): population, variable,
    neuron and the steps; the network stays at the last step, the result is attached."""
    net = _small()
    s = net.record_spikes(net["cur"])
    net.connect(net["inp"], net["cond"], weight=0.1)
    net.run(1 * ms, engine="reference")
    net._plan.st[S_GE, net["cond"]._lo + 2] = np.nan  # what an overflow would leave
    with pytest.raises(sn.NonFiniteStateError) as info:
        net.run(2 * ms, engine="reference")
    msg = str(info.value)
    assert re.search(r"population 'cond': (v|g_e) of neuron 2 is nan after steps 10 to 29 "
                     r"\(t = 0.001 s to 0.003 s\) on engine 'reference'", msg), msg
    assert info.value.result.n_steps == 20 and s in info.value.result
    assert net.t == pytest.approx(3 * ms)


def test_finite_state_check_is_cheap():
    net = sn.Network(dt=0.5 * ms, seed=0)
    net.add(sn.LIF(5000))
    net.compile()
    t0 = time.perf_counter()
    for _ in range(200):
        net._check_finite(0, 1, "numba")
    assert (time.perf_counter() - t0) / 200 < 2e-4


# -- chunks, progress and Ctrl-C -----------------------------------------------------------------

def _chunk_net(seed=3):
    net = sn.Network(dt=0.1 * ms, seed=seed)
    inp = net.add(sn.PoissonInput(60, rate=40 * Hz), name="inp")
    src = net.add(sn.SpikeSource(3, times=[1 * ms, 2 * ms, 17.3 * ms], indices=[0, 1, 2]),
                  name="src")
    exc = net.add(sn.AdaptiveLIF(30, v_rest=-65 * mV, v_reset=-65 * mV, v_th=-55 * mV,
                                 theta_plus=0.2 * mV, tau_theta=50 * ms,
                                 synapses=sn.Conductance()), name="exc")
    net.connect(inp, exc, sn.FixedProbability(0.4), weight=sn.Uniform(0.0, 0.3),
                delay=sn.Uniform(0.1 * ms, 3 * ms), plasticity=sn.PairSTDP(w_max=0.5),
                normalization=sn.WeightNormalization(3.0, every=7 * ms))
    net.connect(src, exc, weight=2.0)
    h = (net.record_spikes(exc), net.record_state(exc, ["v", "theta"], [0, 3], every=0.3 * ms),
         net.population_rate(inp))
    return net, h


@pytest.mark.parametrize("engine", ["numba", "reference"])
def test_chunked_runs_are_bitwise_one_run(engine, monkeypatch):
    a, ha = _chunk_net()
    b, hb = _chunk_net()
    rb = b.run(30 * ms, engine=engine)  # one chunk (300 steps < the first chunk)
    monkeypatch.setattr(snn_run, "_FIRST_CHUNK_STEPS", 7, raising=False)
    monkeypatch.setattr(snn_run, "_CHUNK_S", 1e-12, raising=False)  # then chunks of one step
    calls = []
    a.compile()
    sim_run = a._simulation(engine, {}).__class__.run
    monkeypatch.setattr(a._sim.__class__, "run", lambda self, k, rec: (calls.append(k),
                                                                       sim_run(self, k, rec))[1])
    ra = a.run(30 * ms, engine=engine)
    assert calls[0] == 7 and len(calls) == 1 + 293
    for x, y in ((ra[ha[0]].times, rb[hb[0]].times), (ra[ha[0]].indices, rb[hb[0]].indices),
                 (ra[ha[1]]["v"], rb[hb[1]]["v"]), (ra[ha[1]]["theta"], rb[hb[1]]["theta"]),
                 (ra[ha[2]].counts, rb[hb[2]].counts),
                 (a.projections[0].get_weights("sparse")[2], b.projections[0].get_weights("sparse")[2]),
                 (a["exc"].get_state("v"), b["exc"].get_state("v"))):
        np.testing.assert_array_equal(x, y)
    assert len(rb[hb[0]]) > 10


def test_progress_bar_only_for_long_runs(monkeypatch, capsys):
    net, _ = _chunk_net()
    net.run(5 * ms)
    assert "simulating" not in capsys.readouterr().err  # short: no bar by default
    net.run(5 * ms, progress=True)
    assert "simulating" in capsys.readouterr().err
    monkeypatch.setattr(snn_run, "_FIRST_CHUNK_STEPS", 10, raising=False)
    monkeypatch.setattr(snn_run, "_CHUNK_S", 1e-12, raising=False)
    monkeypatch.setattr(snn_run, "_BAR_AFTER_S", 0.0, raising=False)  # every run is "long" now
    net.run(5 * ms)
    assert "simulating" in capsys.readouterr().err
    net.run(5 * ms, progress=False)
    assert "simulating" not in capsys.readouterr().err


def test_a_slow_first_chunk_alone_shows_no_bar(monkeypatch, capsys):
    """The first chunk of a process includes loading the compiled kernels: a run that looks
    long only from that chunk shows no bar (the decision waits for a second chunk)."""
    net, _ = _chunk_net()
    net.run(1 * ms)
    cls = net._sim.__class__
    sim_run, calls = cls.run, []

    def run(self, k, rec):
        if not calls:
            time.sleep(0.3)  # as if loading the kernels
        calls.append(k)
        sim_run(self, k, rec)
    monkeypatch.setattr(cls, "run", run)
    monkeypatch.setattr(snn_run, "_BAR_AFTER_S", 1.0, raising=False)
    # 1000 steps in 0.3 s: 4000 more would take 1.2 s by the first chunk; really ~0.05 s
    net.run(500 * ms)
    assert len(calls) >= 2 and "simulating" not in capsys.readouterr().err


_SIGINT_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import snnsim as sn
    import snnsim.network.running as snn_run
    from snnsim.units import Hz, mV, ms
    snn_run._CHUNK_S = 0.02

    def build():
        net = sn.Network(dt=0.1 * ms, seed=4)
        inp = net.add(sn.PoissonInput(200, rate=20 * Hz), name="inp")
        exc = net.add(sn.LIF(200, v_rest=-65 * mV, v_reset=-65 * mV, v_th=-55 * mV), name="exc")
        net.connect(inp, exc, sn.FixedProbability(0.2), weight=sn.Uniform(0, 6 * mV),
                    delay=sn.Uniform(0.1 * ms, 3 * ms))
        return net, net.record_spikes(exc), net.record_state(exc, "v", [0, 7], every=1 * ms)

    net, s, v = build()
    net.run(1 * ms)
    print("running", flush=True)
    try:
        net.run(10_000.0)
        print(json.dumps({"interrupted": False}), flush=True)
        sys.exit(3)
    except KeyboardInterrupt as exc:
        part = exc.result
        t_stop = net.t
        kept = net.interrupted_result is part
    rest = net.run(5 * ms)
    ref, s2, v2 = build()
    ref.run(1 * ms)
    whole = ref.run(part.duration + 5 * ms)
    same = lambda a, b: bool(np.array_equal(a, b))
    print(json.dumps({
        "interrupted": True, "t": t_stop, "steps": part.n_steps, "t_stop": part.t_stop,
        "kept": kept, "cleared": net.interrupted_result is None, "n_spikes": len(part[s]),
        "n_samples": int(part[v]["v"].shape[0]),
        "spikes": same(np.concatenate([part[s].times, rest[s].times]), whole[s2].times),
        "ids": same(np.concatenate([part[s].indices, rest[s].indices]), whole[s2].indices),
        "v": same(part[v]["v"], whole[v2]["v"][:len(part[v].times)]),
        "state": same(net["exc"].get_state("v"), ref["exc"].get_state("v"))}), flush=True)
""")


def test_sigint_stops_a_long_run_at_a_completed_step():
    """A real SIGINT during a run of hours: the child stops within a chunk, the network sits
    at the last completed step (continuing it equals a straight run) and the steps done are
    in ``exc.result`` and ``network.interrupted_result``."""
    child = subprocess.Popen([sys.executable, "-c", _SIGINT_CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "running"
        time.sleep(0.5)
        t_sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["interrupted"]
    assert time.perf_counter() - t_sent < 120
    assert 0 < res["steps"] < 10_000 / 1e-4
    assert res["t"] == pytest.approx(res["t_stop"]) and res["t"] == pytest.approx(
        (10 + res["steps"]) * 1e-4)
    assert res["kept"] and res["cleared"] and res["n_samples"] == -(-res["steps"] // 10) and res["n_spikes"] > 0
    assert res["spikes"] and res["ids"] and res["v"] and res["state"], res


def test_interrupted_result_is_the_prefix_of_a_straight_run(monkeypatch):
    """SIGINT (sent to this process in the 4th chunk): the partial result of every recorder
    (spikes, state at two sampling periods, rates) equals the start of an uninterrupted run,
    and the network stands at the last completed chunk."""
    a, ha = _chunk_net()
    extra = a.record_state(a["exc"], "v", [1, 2, 29], every=0.7 * ms)
    b, hb = _chunk_net()
    extra_b = b.record_state(b["exc"], "v", [1, 2, 29], every=0.7 * ms)
    monkeypatch.setattr(snn_run, "_FIRST_CHUNK_STEPS", 23, raising=False)
    monkeypatch.setattr(snn_run, "_CHUNK_S", 1e-12, raising=False)
    a.compile()
    cls = a._simulation("numba", {}).__class__
    sim_run, calls = cls.run, []

    def run(self, k, rec):
        calls.append(k)
        sim_run(self, k, rec)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(cls, "run", run)
    with pytest.raises(KeyboardInterrupt, match="after 26 of 400 steps") as info:
        a.run(40 * ms)
    monkeypatch.setattr(cls, "run", sim_run)
    part = info.value.result
    assert part is a.interrupted_result and part.n_steps == 26 and a.t == pytest.approx(2.6 * ms)
    whole = b.run(2.6 * ms)
    for h, g in zip((*ha, extra), (*hb, extra_b)):
        x, y = part[h], whole[g]
        for name in ("times", "indices", "counts"):
            if hasattr(x, name):
                xv, yv = getattr(x, name), getattr(y, name)
                xv, yv = (xv(), yv()) if callable(xv) else (xv, yv)
                np.testing.assert_array_equal(xv, yv)
        for var in getattr(x, "variables", ()):
            np.testing.assert_array_equal(x[var], y[var])
    assert part[extra]["v"].shape == (4, 3) and part[ha[1]]["v"].shape == (9, 2)
    np.testing.assert_array_equal(a["exc"].get_state("v"), b["exc"].get_state("v"))


def test_negative_conductances_only_on_request():
    """The Vogels & Abbott benchmark starts from unclipped N(20, 12) conductances: negative
    values are refused unless asked for, and then kept as given."""
    net = _small()
    cond = net["cond"]
    with pytest.raises(sn.ParameterError, match="allow_negative=True"):
        cond.set_initial(g_i=[-1.0, 0.0, 2.0])
    cond.set_initial(g_i=[-1.0, 0.0, 2.0], allow_negative=True)
    net.compile()
    cond.set_state(g_e=[0.5, -0.25, 0.0], allow_negative=True)
    assert cond.get_state("g_i").tolist() == [-1.0, 0.0, 2.0]
    assert cond.get_state("g_e").tolist() == [0.5, -0.25, 0.0]
