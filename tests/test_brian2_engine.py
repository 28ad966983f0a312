"""The ``brian2`` engine against the ``numba`` engine (docs/semantics.md), target by target.

The engine-parametrised tests (tests/test_lif.py, test_stdp.py, ...) run on ``brian2`` too
once Brian2 is installed; this module adds the cross-engine checks: identical spikes and
weights for the same input spikes, the same trained weights for every STDP rule, training on
one engine and continuing on the other, Brian2's own Poisson generators, the code-generation
targets, and the errors.  Tests without an explicit target run on $SNNSIM_BRIAN2_TARGET
(numpy, set in conftest.py): Brian2's cython target compiles every new code object, which
with a cold cache (``~/.cython/brian_extensions``) costs seconds per object.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pytest

import snnsim as sn
from snnsim.units import Hz, mV, ms

with warnings.catch_warnings():   # Brian2 2.9 warns about pyparsing's deprecated names
    warnings.simplefilter("ignore", DeprecationWarning)
    pytest.importorskip("brian2", reason='the brian2 engine needs Brian2: pip install "snnsim[brian2]"')

pytestmark = pytest.mark.brian2

DT = 0.1 * ms


def _source(rng, n, rate, duration, dt=DT, start=0.0):
    """Poisson-like spike trains as a SpikeSource (at most one spike per neuron and step)."""
    steps = int(round(duration / dt))
    hit = rng.random((steps, n)) < rate * dt
    s, i = np.nonzero(hit)
    return sn.SpikeSource(n, times=start + s * dt, indices=i)


def _spikes(res, handle):
    return res[handle].times, res[handle].indices


def _assert_same_spikes(a, b):
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-12)


# --- the same network, the same spikes ----------------------------------------------------

def _cuba_like(seed=1, n=400, duration=0.2):
    """Brette et al. (2007) CUBA parameters, 400 neurons, heterogeneous delays, driven by a
    SpikeSource."""
    rng = np.random.default_rng(seed)
    net = sn.Network(dt=DT, seed=seed)
    inp = net.add(_source(rng, 100, 20 * Hz, duration), name="inp")
    model = sn.LIF(1, tau_m=20 * ms, v_rest=-49 * mV, v_reset=-60 * mV, v_th=-50 * mV,
                   t_ref=5 * ms, synapses=sn.Current(tau_e=5 * ms, tau_i=10 * ms))
    exc = net.add(model.replace(n=int(0.8 * n)), name="exc")
    inh = net.add(model.replace(n=n - int(0.8 * n)), name="inh")
    for pop in (exc, inh):
        pop.set_initial(v=sn.Uniform(-60 * mV, -50 * mV))
        net.connect(inp, pop, sn.FixedProbability(0.1), weight=2 * mV,
                    delay=sn.Uniform(0.1 * ms, 2 * ms))
        net.connect(exc, pop, sn.FixedProbability(0.1), weight=1.62 * mV,
                    delay=sn.Uniform(0.1 * ms, 3 * ms))
        net.connect(inh, pop, sn.FixedProbability(0.1), weight=-9 * mV, receptor="inh",
                    delay=sn.Uniform(0.1 * ms, 3 * ms))
    h = {"exc": net.record_spikes(exc), "inh": net.record_spikes(inh),
         "v": net.record_state(exc, ["v", "i_e", "i_i"], [0, 7, 100], every=0.3 * ms),
         "rate": net.population_rate(inh)}
    return net, h


def test_cuba_like_network_spikes_identical_to_numba():
    results = {}
    for engine in ("numba", "brian2"):
        net, h = _cuba_like()
        # brian2 on its default target, cython (the other tests use $SNNSIM_BRIAN2_TARGET)
        opts = {"target": "cython"} if engine == "brian2" else {}
        res = net.run(200 * ms, engine=engine, **opts)
        results[engine] = (res, h, net)
    (ra, ha, na), (rb, hb, nb) = results["numba"], results["brian2"]
    for key in ("exc", "inh"):
        _assert_same_spikes(_spikes(ra, ha[key]), _spikes(rb, hb[key]))
    assert len(ra[ha["exc"]]) > 500            # the network is active
    np.testing.assert_array_equal(ra[ha["rate"]].counts, rb[hb["rate"]].counts)
    for var in ("v", "i_e", "i_i"):
        np.testing.assert_allclose(ra[ha["v"]][var], rb[hb["v"]][var], rtol=0, atol=1e-12)
    for var in ("v", "i_e", "i_i"):
        np.testing.assert_allclose(na["exc"].get_state(var), nb["exc"].get_state(var),
                                   rtol=0, atol=1e-12)


# --- STDP rules ------------------------------------------------------------------------------

_RULES = {
    "pair-all-additive": sn.PairSTDP(a_plus=0.02, a_minus=0.021, w_max=1.0),
    "pair-nearest-additive": sn.PairSTDP(a_plus=0.02, a_minus=0.021, w_max=1.0,
                                         interaction="nearest"),
    "pair-all-multiplicative": sn.PairSTDP(a_plus=0.05, a_minus=0.05, w_max=1.0,
                                           weight_dependence="multiplicative"),
    "pair-nearest-multiplicative-mu": sn.PairSTDP(a_plus=0.05, a_minus=0.05, w_max=1.0,
                                                  interaction="nearest", mu=0.6,
                                                  weight_dependence="multiplicative"),
    "triplet-all": sn.TripletSTDP.visual_cortex("all", w_max=1.0, a3_plus=0.05),
    "triplet-nearest-minimal": sn.TripletSTDP.visual_cortex("nearest", minimal=True, w_max=1.0),
    "diehl-cook": sn.DiehlCookSTDP(nu_pre=0.002, nu_post=0.05),
}


def _plastic_net(rule, seed=2, delay=sn.Uniform(0.1 * ms, 4 * ms), duration=0.5):
    rng = np.random.default_rng(seed)
    net = sn.Network(dt=DT, seed=seed)
    inp = net.add(_source(rng, 60, 25 * Hz, duration), name="inp")
    post = net.add(sn.LIF(12, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV,
                          t_ref=2 * ms, synapses=sn.Conductance(tau_e=5 * ms)), name="post")
    proj = net.connect(inp, post, weight=sn.Uniform(0.0, 0.12), delay=delay, plasticity=rule)
    proj.plasticity_gain = sn.Uniform(0.5, 1.5)
    return net, proj, net.record_spikes(post)


@pytest.mark.parametrize("timing", ["arrival", "emission"])
@pytest.mark.parametrize("name", list(_RULES))
def test_stdp_rule_weights_agree_with_numba(name, timing):
    rule = _RULES[name].replace(timing=timing)
    out = {}
    for engine in ("numba", "brian2"):
        net, proj, s = _plastic_net(rule)
        w0 = proj.get_weights("sparse")[2].copy()
        res = net.run(500 * ms, engine=engine)
        out[engine] = (_spikes(res, s), proj.get_weights("sparse")[2])
    _assert_same_spikes(out["numba"][0], out["brian2"][0])
    assert out["numba"][0][0].size > 100
    w_nb, w_b2 = out["numba"][1], out["brian2"][1]
    assert np.abs(w_nb - w0).max() > 0.01        # learning happened
    np.testing.assert_allclose(w_b2, w_nb, rtol=1e-6, atol=1e-12)


def test_stdp_single_delay_and_switching_plasticity_agree_with_numba():
    """One delay (the numba engine's shifted-trace mode), automatic normalisation, plasticity
    switched off and back on while spikes are in flight (those must not take part)."""
    rule = sn.PairSTDP(a_plus=0.02, a_minus=0.021, w_max=1.0)
    out = {}
    for engine in ("numba", "brian2"):
        net, proj, s = _plastic_net(rule, delay=2 * ms, duration=0.4)
        static = net.connect(net["inp"], net["post"], sn.FixedProbability(0.3),
                             weight=sn.Uniform(0.0, 0.05), delay=1.5 * ms,
                             normalization=sn.WeightNormalization(0.4, every=7 * ms))
        trains, weights = [], []
        for plastic, duration in ((True, 100.3 * ms), (False, 50 * ms), (True, 150 * ms)):
            proj.plastic = plastic
            res = net.run(duration, engine=engine)
            trains.append(_spikes(res, s))
            weights.append((proj.get_weights("sparse")[2], static.get_weights("sparse")[2]))
        out[engine] = trains, weights
    for (ta, tb) in zip(out["numba"][0], out["brian2"][0]):
        _assert_same_spikes(ta, tb)
    for (wa, wb) in zip(out["numba"][1], out["brian2"][1]):
        for a, b in zip(wa, wb):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-12)
    # frozen while off, learning again after
    np.testing.assert_array_equal(out["brian2"][1][0][0], out["brian2"][1][1][0])
    assert np.abs(out["brian2"][1][2][0] - out["brian2"][1][1][0]).max() > 0.01


# --- train on one engine, continue on the other ---------------------------------------------

def _mixed_net(seed=5):
    """Adaptive neurons, triplet STDP with heterogeneous delays (arrival), pair STDP at
    emission, Diehl & Cook with one delay, normalisation, inhibition, inputs all along."""
    rng = np.random.default_rng(seed)
    net = sn.Network(dt=DT, seed=seed)
    inp = net.add(_source(rng, 50, 30 * Hz, 0.4), name="inp")
    exc = net.add(sn.AdaptiveLIF(16, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-56 * mV, t_ref=3 * ms, theta_plus=0.5 * mV,
                                 tau_theta=80 * ms, synapses=sn.Conductance(tau_e=2 * ms,
                                                                           tau_i=4 * ms)),
                  name="exc")
    inh = net.add(sn.LIF(6, tau_m=10 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-52 * mV,
                         t_ref=1 * ms, synapses=sn.Current(tau_e=3 * ms, tau_i=3 * ms)),
                  name="inh")
    p1 = net.connect(inp, exc, sn.FixedProbability(0.6), weight=sn.Uniform(0.05, 0.3),
                     delay=sn.Uniform(0.1 * ms, 6 * ms),
                     plasticity=sn.TripletSTDP.visual_cortex("all", w_max=0.5, a3_plus=0.05),
                     normalization=sn.WeightNormalization(4.0, every=33 * ms))
    p2 = net.connect(exc, inh, sn.FixedProbability(0.5), weight=sn.Uniform(1 * mV, 4 * mV),
                     delay=sn.Uniform(0.5 * ms, 3 * ms),
                     plasticity=sn.PairSTDP(a_plus=0.2 * mV, a_minus=0.25 * mV, w_max=6 * mV,
                                            timing="emission"))
    p3 = net.connect(inp, inh, sn.FixedProbability(0.5), weight=sn.Uniform(2 * mV, 6 * mV),
                     delay=1 * ms, plasticity=sn.DiehlCookSTDP(nu_pre=2e-6, nu_post=2e-4,
                                                               w_max=8 * mV))
    net.connect(inh, exc, sn.FixedProbability(0.5), weight=0.1, receptor="inh",
                delay=sn.Uniform(0.1 * ms, 2 * ms))
    h = {"exc": net.record_spikes(exc), "inh": net.record_spikes(inh), "prj": (p1, p2, p3)}
    return net, h


def _continue(first, second):
    net, h = _mixed_net()
    r1 = net.run(200 * ms, engine=first)
    r2 = net.run(200 * ms, engine=second)
    spikes = {k: (np.concatenate([r1[h[k]].times, r2[h[k]].times]),
                  np.concatenate([r1[h[k]].indices, r2[h[k]].indices])) for k in ("exc", "inh")}
    return spikes, [p.get_weights("sparse")[2] for p in h["prj"]], net


@pytest.mark.parametrize("first,second", [("numba", "brian2"), ("brian2", "numba")])
def test_train_on_one_engine_continue_on_the_other(first, second):
    mixed, w_mixed, net_m = _continue(first, second)
    whole, w_whole, net_w = _continue(second, second)
    for k in ("exc", "inh"):
        _assert_same_spikes(mixed[k], whole[k])
    assert mixed["exc"][0].size > 100 and mixed["inh"][0].size > 100
    for a, b in zip(w_mixed, w_whole):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-15)
    for var in ("v", "g_e", "theta"):
        np.testing.assert_allclose(net_m["exc"].get_state(var), net_w["exc"].get_state(var),
                                   rtol=1e-9, atol=1e-15)


# --- Poisson inputs -----------------------------------------------------------------------------

def _driven(builder, seed, n=4000):
    net, h = builder(n, seed=seed)
    inp = net.add(sn.PoissonInput(400, rate=10 * Hz), name="drive")
    w = 0.5 * mV if builder is sn.reference_networks.brette2007_cuba else 0.1
    for pop in ("exc", "inh"):
        net.connect(inp, h[pop], sn.FixedProbability(0.05), weight=w)
    return net, h


def _rate(res, h, n=4000, duration=1.0):
    return (len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])) / (n * duration)


@pytest.mark.parametrize("builder", [sn.reference_networks.brette2007_cuba,
                                     sn.reference_networks.vogels_abbott2005_coba],
                         ids=["cuba", "coba"])
def test_poisson_inputs_exact_by_default_and_statistical_with_poissongroup(builder):
    rates = {"numba": [], "brian2": []}
    for seed in (1, 2, 3):
        net, h = _driven(builder, seed)
        rates["numba"].append(_rate(net.run(1.0), h))
        net, h = _driven(builder, seed)
        rates["brian2"].append(_rate(net.run(1.0, engine="brian2", poisson="brian2"), h))
    mean_nb, mean_b2 = np.mean(rates["numba"]), np.mean(rates["brian2"])
    assert mean_nb > 1.0
    assert abs(mean_b2 - mean_nb) <= 0.05 * mean_nb, rates
    # the default draws the numba engine's Poisson spikes: the very same spikes
    out = []
    for engine in ("numba", "brian2"):
        net, h = _driven(builder, 1)
        res = net.run(300 * ms, engine=engine)
        out.append((_spikes(res, h["spikes_exc"]), _spikes(res, h["spikes_inh"]),
                    net["drive"]._plan.nxt.copy(), net["drive"]._plan.rng.copy()))
    for a, b in zip(out[0][:2], out[1][:2]):
        _assert_same_spikes(a, b)
    np.testing.assert_array_equal(out[0][2], out[1][2])   # generators left where numba leaves them
    np.testing.assert_array_equal(out[0][3], out[1][3])


# --- targets -------------------------------------------------------------------------------------

def _tiny(seed=3):
    rng = np.random.default_rng(seed)
    net = sn.Network(dt=DT, seed=seed)
    # silent for the first 15 ms: nothing is in flight there
    src = net.add(_source(rng, 20, 40 * Hz, 30 * ms, start=16 * ms), name="src")
    pop = net.add(sn.AdaptiveLIF(25, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV,
                                 v_th=-55 * mV, t_ref=2 * ms, theta_plus=1 * mV,
                                 tau_theta=50 * ms, synapses=sn.Conductance()), name="pop")
    prj = net.connect(src, pop, sn.FixedProbability(0.5), weight=sn.Uniform(0.2, 0.8),
                      delay=sn.Uniform(0.1 * ms, 3 * ms),
                      plasticity=sn.PairSTDP(a_plus=0.05, a_minus=0.05, w_max=1.0),
                      normalization=sn.WeightNormalization(8.0, every=2 * ms))
    net.connect(pop, pop, sn.FixedProbability(0.2), weight=0.5, receptor="inh", delay=1 * ms)
    return net, net.record_spikes(pop), net.record_state(pop, "v", [0, 3]), prj


def test_targets_give_the_same_spikes():
    """cython, numpy and cpp_standalone (which starts at t = 15 ms, where no spike is in
    flight, off the normalisation grid) all match the numba engine."""
    out = {}
    for engine, opts in (("numba", {}), ("brian2", {"target": "cython"}),
                         ("brian2", {"target": "numpy"}),
                         ("brian2", {"target": "cpp_standalone"})):
        net, s, r, prj = _tiny()
        if opts.get("target") == "cpp_standalone":
            first = net.run(15 * ms)
            assert len(first[s]) == 0
            res = net.run(30 * ms, engine=engine, **opts)
        else:
            net.run(15 * ms, engine=engine, **opts)
            res = net.run(30 * ms, engine=engine, **opts)
        out[opts.get("target", engine)] = (_spikes(res, s), res[r]["v"], prj.get_weights("sparse")[2])
    ref = out["numba"]
    assert ref[0][0].size > 20
    for target in ("cython", "numpy", "cpp_standalone"):
        _assert_same_spikes(out[target][0], ref[0])
        np.testing.assert_allclose(out[target][1], ref[1], rtol=0, atol=1e-12)
        np.testing.assert_allclose(out[target][2], ref[2], rtol=1e-9)


def test_cpp_standalone_refuses_to_drop_spikes_in_flight():
    net, s, r, prj = _tiny()
    net.run(20 * ms)                      # inputs started at 16 ms: spikes are in flight
    with pytest.raises(sn.EngineError, match="in flight"):
        net.run(5 * ms, engine="brian2", target="cpp_standalone")
    assert net.t == pytest.approx(20 * ms)   # nothing happened
    # ... not even to the inputs: the continuation equals one that never tried
    after_failure = net.run(10 * ms, engine="brian2")    # the runtime device carries them over
    ref, s_ref, _, _ = _tiny()
    ref.run(20 * ms)
    straight = ref.run(10 * ms)
    assert len(straight[s_ref]) > 10
    _assert_same_spikes(_spikes(after_failure, s), _spikes(straight, s_ref))


# --- options, availability, imports ---------------------------------------------------------------

def test_bad_options_are_rejected(monkeypatch):
    net, s, r, prj = _tiny()
    for opts, match in (({"target": "gpu"}, "target"), ({"poisson": "numpy"}, "poisson"),
                        ({"threads": 2}, "unknown option")):
        with pytest.raises(sn.ParameterError, match=match):
            net.run(1 * ms, engine="brian2", **opts)
    monkeypatch.setenv("SNNSIM_BRIAN2_TARGET", "cuda")
    with pytest.raises(sn.ParameterError, match=r"'cuda' \(from \$SNNSIM_BRIAN2_TARGET\)"):
        net.run(1 * ms, engine="brian2")
    assert net.t == 0.0


def test_missing_brian2_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "brian2" else real(name, *a, **k))
    assert 'pip install "snnsim[brian2]"' in sn.available_engines()["brian2"]
    net, s, r, prj = _tiny()
    with pytest.raises(sn.EngineUnavailableError, match=r'pip install "snnsim\[brian2\]"'):
        net.run(1 * ms, engine="brian2")
    # and when the import itself fails
    monkeypatch.setattr(importlib.util, "find_spec", real)
    monkeypatch.setitem(sys.modules, "brian2", None)
    from snnsim.engines.brian2 import Brian2Engine
    with pytest.raises(sn.EngineUnavailableError, match=r'pip install "snnsim\[brian2\]"'):
        Brian2Engine().prepare(net.compile())


def test_importing_snnsim_does_not_import_brian2():
    code = ("import sys, snnsim\n"
            "net = snnsim.Network(seed=0)\n"
            "net.add(snnsim.LIF(2))\n"
            "net.run(0.001)\n"
            "assert snnsim.available_engines()['brian2'] == 'available'\n"
            "assert 'brian2' not in sys.modules, 'brian2 imported'\n")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_brian2_global_state_is_restored_after_runs_and_failures():
    """The engine borrows Brian2's device, its codegen preference and (poisson='brian2')
    NumPy's global generator; each is as it was after a run, and after a failed one."""
    import brian2
    from brian2.devices.device import RuntimeDevice
    np.random.seed(12345)
    rng_before = np.random.get_state()
    pref_before = brian2.prefs["codegen.target"]
    net, h = _driven(sn.reference_networks.brette2007_cuba, 1, n=400)
    res = net.run(20 * ms, engine="brian2", poisson="brian2")
    assert len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]]) > 0
    rng_after = np.random.get_state()
    np.testing.assert_array_equal(rng_after[1], rng_before[1])
    assert rng_after[2] == rng_before[2]
    assert brian2.prefs["codegen.target"] == pref_before
    assert isinstance(brian2.get_device(), RuntimeDevice)
    net2, s, r, prj = _tiny()
    net2.run(20 * ms)
    with pytest.raises(sn.EngineError, match="in flight"):
        net2.run(5 * ms, engine="brian2", target="cpp_standalone")
    assert isinstance(brian2.get_device(), RuntimeDevice)
    assert brian2.prefs["codegen.target"] == pref_before
