"""Network API: reproducibility, continuation, reset, weights, recorders, threads."""

from __future__ import annotations

import numpy as np
import pytest

import snnsim as sn
from snnsim.units import Hz, mV, ms


def _build(seed: int, plastic: bool = True) -> tuple[sn.Network, dict]:
    net = sn.Network(dt=0.1 * ms, seed=seed)
    inp = net.add(sn.PoissonInput(80, rate=30 * Hz), name="inp")
    exc = net.add(sn.AdaptiveLIF(60, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-55 * mV, t_ref=2 * ms, theta_plus=0.5 * mV,
                                 tau_theta=200 * ms, synapses=sn.Conductance()), name="exc")
    inh = net.add(sn.LIF(20, tau_m=10 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-50 * mV,
                         synapses=sn.Conductance(e_i=-80 * mV)), name="inh")
    exc.set_initial(v=sn.Uniform(-65 * mV, -55 * mV))
    p_in = net.connect(inp, exc, sn.FixedProbability(0.3), weight=sn.Uniform(0.05, 0.25),
                       delay=sn.Uniform(0.1 * ms, 3 * ms),
                       plasticity=sn.PairSTDP(a_plus=0.005, a_minus=0.006, w_max=0.5) if plastic else None)
    net.connect(exc, inh, sn.FixedProbability(0.2), weight=0.5)
    net.connect(inh, exc, sn.FixedProbability(0.3), weight=1.0, receptor="inh")
    h = {"proj": p_in, "s_exc": net.record_spikes(exc), "s_inh": net.record_spikes(inh),
         "v": net.record_state(exc, ["v", "g_e", "theta"], [0, 5, 7], every=0.5 * ms),
         "rate": net.population_rate(exc)}
    return net, h


def _spikes(res, h):
    return [(res[h[k]].times.tolist(), res[h[k]].indices.tolist()) for k in ("s_exc", "s_inh")]


def test_same_seed_bitwise_identical(engine):
    a, ha = _build(7)
    b, hb = _build(7)
    ra, rb = a.run(150 * ms, engine=engine), b.run(150 * ms, engine=engine)
    assert _spikes(ra, ha) == _spikes(rb, hb)
    assert len(ra[ha["s_exc"]]) > 20
    np.testing.assert_array_equal(ra[ha["v"]]["v"], rb[hb["v"]]["v"])
    np.testing.assert_array_equal(ha["proj"].get_weights("sparse")[2], hb["proj"].get_weights("sparse")[2])


def test_different_seeds_differ():
    a, ha = _build(1)
    b, hb = _build(2)
    assert _spikes(a.run(100 * ms), ha) != _spikes(b.run(100 * ms), hb)


def test_run_in_pieces_equals_one_run(engine):
    a, ha = _build(11)
    b, hb = _build(11)
    r1 = a.run(70 * ms, engine=engine)
    r2 = a.run(30 * ms, engine=engine)
    r3 = a.run(50.3 * ms, engine=engine)
    whole = b.run(150.3 * ms, engine=engine)
    for key in ("s_exc", "s_inh"):
        t = np.concatenate([r[ha[key]].times for r in (r1, r2, r3)])
        i = np.concatenate([r[ha[key]].indices for r in (r1, r2, r3)])
        np.testing.assert_array_equal(t, whole[hb[key]].times)
        np.testing.assert_array_equal(i, whole[hb[key]].indices)
    np.testing.assert_array_equal(ha["proj"].get_weights("sparse")[2], hb["proj"].get_weights("sparse")[2])
    for var in ("v", "g_e", "theta"):
        np.testing.assert_array_equal(a["exc"].get_state(var), b["exc"].get_state(var))
    assert a.t == pytest.approx(150.3 * ms)
    rates = np.concatenate([r[ha["rate"]].counts for r in (r1, r2, r3)])
    np.testing.assert_array_equal(rates, whole[hb["rate"]].counts)


def test_progress_bar_run_is_identical():
    a, ha = _build(5)
    b, hb = _build(5)
    ra = a.run(40 * ms, progress=True)
    rb = b.run(40 * ms)
    assert _spikes(ra, ha) == _spikes(rb, hb)
    np.testing.assert_array_equal(ra[ha["v"]]["v"], rb[hb["v"]]["v"])


def _thread_fingerprint(threads: int) -> dict:
    net, h = _build(9)
    res = net.run(100 * ms, engine="numba", threads=threads)
    return {"spikes": _spikes(res, h), "v": res[h["v"]]["v"].tolist(),
            "w": h["proj"].get_weights("sparse")[2].tolist()}


def test_threads_give_the_same_result_as_one_thread():
    """Two threads give bitwise the one-thread result.  Where this process has fewer than two
    Numba threads (NUMBA_NUM_THREADS=1, as on many clusters) the two-thread run happens in a
    subprocess with NUMBA_NUM_THREADS=2."""
    import json
    import os
    import subprocess
    import sys

    import numba
    one = _thread_fingerprint(1)
    assert len(one["spikes"][0][0]) > 20
    if numba.config.NUMBA_NUM_THREADS >= 2:
        two = _thread_fingerprint(2)
    else:
        code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import test_network as t; "
                "print(json.dumps(t._thread_fingerprint(2)))")
        env = dict(os.environ, NUMBA_NUM_THREADS="2")
        out = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        two = json.loads(out.stdout.strip().splitlines()[-1])
        one = json.loads(json.dumps(one))  # tuples -> lists, as in the subprocess
    assert one == two


def test_reset_state_restores_initial_values_and_keeps_weights(engine):
    net, h = _build(3)
    first = net.run(50 * ms, engine=engine)
    w_after = h["proj"].get_weights("sparse")[2].copy()
    theta = net["exc"].get_state("theta")
    assert theta.max() > 0
    net.reset_state(keep=("theta",))
    assert net.t == 0.0
    np.testing.assert_array_equal(net["exc"].get_state("theta"), theta)
    np.testing.assert_array_equal(h["proj"].get_weights("sparse")[2], w_after)
    net.reset_state()
    assert net["exc"].get_state("theta").max() == 0.0
    v0 = net["exc"].get_state("v")
    fresh, hf = _build(3)
    np.testing.assert_array_equal(v0, fresh["exc"].get_state("v"))
    second = net.run(50 * ms, engine=engine)
    assert second[h["s_exc"]].t_start == 0.0
    assert len(first[h["s_exc"]]) > 0 and len(second[h["s_exc"]]) > 0


def test_weight_views_round_trip():
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(4))
    b = net.add(sn.LIF(3))
    proj = net.connect(a, b, sn.FromArrays([0, 1, 3, 3], [2, 0, 0, 1]), weight=[1., 2., 3., 4.])
    m = proj.get_weights()
    expected = np.zeros((4, 3))
    expected[[0, 1, 3, 3], [2, 0, 0, 1]] = [1, 2, 3, 4]
    np.testing.assert_array_equal(m, expected)
    m[3, 1] = 9.0
    proj.set_weights(m)
    assert proj.get_weights()[3, 1] == 9.0
    net.compile()
    proj.weights = m * 2
    np.testing.assert_array_equal(proj.weights, m * 2)
    pre, post, w = proj.get_weights("sparse")
    np.testing.assert_array_equal(proj.get_weights()[pre, post], w)
    bad = m.copy()
    bad[2, 2] = 1.0  # no synapse there
    with pytest.raises(sn.ParameterError, match="no synapse"):
        proj.set_weights(bad)
    with pytest.raises(sn.ParameterError, match="shape"):
        proj.set_weights(np.zeros((3, 3)))


def test_set_weights_changes_the_dynamics(engine):
    def run(w):
        net = sn.Network(dt=0.1 * ms, seed=0)
        src = net.add(sn.SpikeSource(1, times=[1 * ms], indices=[0]))
        post = net.add(sn.LIF(1, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV))
        proj = net.connect(src, post, weight=0.0)
        net.compile()
        proj.set_weights(w)
        s = net.record_spikes(post)
        return len(net.run(5 * ms, engine=engine)[s])
    assert run(0.0) == 0 and run(10.0) >= 1


def test_adding_after_a_run_keeps_state():
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(50, rate=50 * Hz))
    b = net.add(sn.LIF(10, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV))
    net.connect(a, b, weight=3 * mV)
    net.run(20 * ms)
    v = b.get_state("v")
    c = net.add(sn.LIF(5))
    net.connect(b, c, weight=1 * mV, delay=5 * ms)
    s = net.record_spikes(c)
    np.testing.assert_array_equal(b.get_state("v"), v)
    net.run(10 * ms)
    assert net.t == pytest.approx(30 * ms)


def test_record_subset_and_result_lookup():
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(20, rate=200 * Hz))
    all_ = net.record_spikes(a)
    some = net.record_spikes(a, indices=[3, 5])
    res = net.run(100 * ms)
    assert set(res[some].indices.tolist()) <= {3, 5}
    full = res[all_]
    mask = np.isin(full.indices, [3, 5])
    np.testing.assert_array_equal(res[some].times, full.times[mask])
    late = net.record_spikes(a)
    with pytest.raises(sn.RecordingError, match="after the run"):
        res[late]
    rr = net.population_rate(a)
    r2 = net.run(1.0)
    assert abs(r2[rr].mean() - 200) < 4 * np.sqrt(200 / (20 * 1.0))


def test_result_lookup_returns_read_only_views_not_copies():
    """result[handle] of state and rate recorders are views into the run's buffers (the
    documented memory, not 2-3x), read-only, the same object on every lookup."""
    net, h = _build(2)
    res = net.run(20 * ms)
    tr = res[h["v"]]
    assert tr["v"].shape == (40, 3)
    for arr, raw in ((tr["v"], res._raw["srec_out"]), (tr["theta"], res._raw["srec_out"]),
                     (res[h["rate"]].counts, res._raw["rrec_out"])):
        assert np.shares_memory(arr, raw) and not arr.flags.writeable
    with pytest.raises(ValueError):
        tr["v"][0, 0] = 1.0
    assert res[h["v"]] is tr
    # the values themselves: those of an identical run
    net3, h3 = _build(2)
    np.testing.assert_array_equal(net3.run(20 * ms)[h3["v"]]["v"], tr["v"])
