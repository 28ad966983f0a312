"""STDP rules against their mathematics: pairing windows, interactions, bounds, triplets."""

from __future__ import annotations

import numpy as np
import pytest

import snnsim as sn
from snnsim.units import Hz, mV, ms

DT = 0.1 * ms


def _pairing_net(pre_times, post_times, rule, *, w0=0.5, delay=DT, n_pairs=None,
                 pre_idx=None, post_idx=None):
    """Pairs (pre_k -> post_k), one-to-one plastic synapses.

    pre_times/post_times: lists (one per pair) of spike times.  The postsynaptic neurons are
    forced to fire exactly at post_times by a strong drive (one-step delay) and have
    refractory periods short enough not to swallow forced spikes.  The plastic weights are
    shunting, so they never cause spikes themselves.
    """
    n = len(pre_times)
    net = sn.Network(dt=DT, seed=0)
    pt = np.concatenate([np.asarray(t, float) for t in pre_times]) if n else np.zeros(0)
    pi = np.concatenate([[k] * len(t) for k, t in enumerate(pre_times)]).astype(int)
    pre = net.add(sn.SpikeSource(n, times=pt, indices=pi), name="pre")
    dt_ = np.concatenate([np.asarray(t, float) - DT for t in post_times])
    di = np.concatenate([[k] * len(t) for k, t in enumerate(post_times)]).astype(int)
    drive = net.add(sn.SpikeSource(n, times=dt_, indices=di), name="drive")
    # the plastic synapses are shunting (inhibitory reversal = rest = reset): they never move v
    post = net.add(sn.LIF(n, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV,
                          t_ref=1 * ms, synapses=sn.Conductance(tau_e=0.1 * ms, tau_i=5 * ms,
                                                                e_e=0 * mV, e_i=-70 * mV)),
                   name="post")
    net.connect(drive, post, sn.OneToOne(), weight=1000.0, delay=DT)
    proj = net.connect(pre, post, sn.OneToOne(), weight=w0, delay=delay, receptor="inh",
                       plasticity=rule)
    spikes = net.record_spikes(post)
    return net, proj, spikes


def _window_check(rule, a_plus, a_minus, tau_plus, tau_minus, *, delay=DT, timing="arrival",
                  engine="numba"):
    dts = np.arange(-100, 101, 2.5) * ms
    t0 = 150 * ms
    pre_times, post_times = [], []
    for d in dts:
        t_event = t0  # the presynaptic event (arrival or emission)
        t_pre = t_event - (delay if timing == "arrival" else 0.0)
        pre_times.append([t_pre])
        post_times.append([t_event + d])
    net, proj, spikes = _pairing_net(pre_times, post_times, rule, delay=delay)
    res = net.run(300 * ms, engine=engine)
    # every postsynaptic neuron fired exactly once, where it was told to
    st = res[spikes]
    assert np.array_equal(np.sort(st.indices), np.arange(dts.size))
    order = np.argsort(st.indices)
    np.testing.assert_allclose(st.times[order], t0 + dts, atol=1e-12)
    pre, post, w = proj.get_weights("sparse")
    dw = np.empty(dts.size)
    dw[post] = w - 0.5
    expected = np.where(dts >= 0, a_plus * np.exp(-dts / tau_plus), -a_minus * np.exp(dts / tau_minus))
    np.testing.assert_allclose(dw, expected, rtol=1e-6, atol=0)
    return dts, dw


@pytest.mark.parametrize("interaction", ["all", "nearest"])
@pytest.mark.parametrize("timing,delay", [("arrival", DT), ("arrival", 3 * ms), ("emission", 3 * ms)])
def test_pair_stdp_window(engine, interaction, timing, delay):
    rule = sn.PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=17 * ms, tau_minus=34 * ms,
                       interaction=interaction, timing=timing)
    dts, dw = _window_check(rule, 0.01, 0.012, 17 * ms, 34 * ms, delay=delay, timing=timing,
                            engine=engine)
    # coincident pre event and post spike: LTP of exactly a_plus, no LTD
    assert dw[dts == 0][0] == pytest.approx(0.01, rel=1e-12)


def test_triplet_rule_pair_window(engine):
    rule = sn.TripletSTDP(a2_plus=0.005, a3_plus=0.02, a2_minus=0.007, a3_minus=0.003,
                          tau_plus=16.8 * ms, tau_minus=33.7 * ms, tau_x=101 * ms, tau_y=125 * ms)
    # isolated pairs: the triplet terms see empty slow traces, so the window is the pair one
    _window_check(rule, 0.005, 0.007, 16.8 * ms, 33.7 * ms, engine=engine)


def test_diehl_cook_window(engine):
    rule = sn.DiehlCookSTDP(nu_pre=0.0001, nu_post=0.01)
    # depression half: -nu_pre * post1 at the presynaptic event
    dts = np.arange(-80, 0, 5) * ms
    t0 = 120 * ms
    net, proj, _ = _pairing_net([[t0 - DT]] * dts.size, [[t0 + d] for d in dts], rule)
    net.run(200 * ms, engine=engine)
    _, post, w = proj.get_weights("sparse")
    dw = np.empty(dts.size)
    dw[post] = w - 0.5
    np.testing.assert_allclose(dw, -0.0001 * np.exp(dts / (20 * ms)), rtol=1e-6)
    # potentiation half needs an earlier postsynaptic spike (post2 before the spike):
    # post at t1, pre event at t0, post at t2 = t0 + d:  dw = nu_post exp(-d/20ms) exp(-(t2-t1)/40ms)
    # minus the depression of the pre event, nu_pre exp(-(t0-t1)/20 ms)
    t1 = 50 * ms
    ds = np.arange(0, 60, 5) * ms
    net, proj, _ = _pairing_net([[t0 - DT]] * ds.size, [[t1, t0 + d] for d in ds], rule)
    net.run(250 * ms, engine=engine)
    _, post, w = proj.get_weights("sparse")
    dw = np.empty(ds.size)
    dw[post] = w - 0.5
    expected = (0.01 * np.exp(-ds / (20 * ms)) * np.exp(-(t0 + ds - t1) / (40 * ms))
                - 0.0001 * np.exp(-(t0 - t1) / (20 * ms)))
    np.testing.assert_allclose(dw, expected, rtol=1e-6)


def test_nearest_and_all_differ_as_theory_says(engine):
    tp, tm, ap, am = 20 * ms, 20 * ms, 0.01, 0.012
    # pre, pre, post: LTP sums both pre spikes (all) or takes the nearest one only
    # then post, pre, ... handled by the LTD half: post, post, pre
    pre_times = [[10 * ms, 20 * ms], [60 * ms]]
    post_times = [[30 * ms], [40 * ms, 50 * ms]]
    results = {}
    for inter in ("all", "nearest"):
        rule = sn.PairSTDP(a_plus=ap, a_minus=am, tau_plus=tp, tau_minus=tm, interaction=inter)
        # events at arrival: pre spikes are sent one step early
        net, proj, _ = _pairing_net([[t - DT for t in ts] for ts in pre_times], post_times, rule)
        net.run(100 * ms, engine=engine)
        _, post, w = proj.get_weights("sparse")
        dw = np.empty(2)
        dw[post] = w - 0.5
        results[inter] = dw
    e = np.exp
    # pair 0: pre at 10 and 20, post at 30 (no LTD: no post before the pre spikes)
    assert results["all"][0] == pytest.approx(ap * (e(-20 / 20) + e(-10 / 20)), rel=1e-9)
    assert results["nearest"][0] == pytest.approx(ap * e(-10 / 20), rel=1e-9)
    # pair 1: post at 40 and 50, pre at 60 (no LTP: no pre before the post spikes)
    assert results["all"][1] == pytest.approx(-am * (e(-20 / 20) + e(-10 / 20)), rel=1e-9)
    assert results["nearest"][1] == pytest.approx(-am * e(-10 / 20), rel=1e-9)


def _random_run(rule, engine, seed=0, duration=2.0):
    net = sn.Network(dt=0.5 * ms, seed=seed)
    inp = net.add(sn.PoissonInput(60, rate=40 * Hz))
    post = net.add(sn.LIF(8, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV,
                          t_ref=2 * ms, synapses=sn.Conductance(tau_e=5 * ms)))
    proj = net.connect(inp, post, weight=sn.Uniform(rule.w_min, rule.w_max),
                       delay=sn.Uniform(0.5 * ms, 5 * ms), plasticity=rule)
    s = net.record_spikes(post)
    res = net.run(duration, engine=engine)
    assert len(res[s]) > 50  # the neurons fired: plasticity had something to do
    return proj.get_weights("sparse")[2]


def test_multiplicative_keeps_weights_strictly_inside(engine):
    # mu = 1: w -> w + a (w_max - w) x and w -> w - a (w - w_min) y stay strictly inside as
    # long as a x, a y < 1.  (For mu < 1 a step near a bound can overshoot it; the weight is
    # then clipped like an additive one.)
    rule = sn.PairSTDP(a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=0.3,
                       weight_dependence="multiplicative", mu=1.0)
    w = _random_run(rule, engine)
    assert np.all(w > 0.0) and np.all(w < 0.3)
    rule = rule.replace(mu=0.5)
    w = _random_run(rule, engine)
    assert np.all(w >= 0.0) and np.all(w <= 0.3)


def test_additive_clips_at_bounds_and_never_leaves_them(engine):
    rule = sn.PairSTDP(a_plus=0.05, a_minus=0.07, w_min=0.02, w_max=0.3)
    w = _random_run(rule, engine)
    assert np.all(w >= 0.02) and np.all(w <= 0.3)
    assert np.any(w == 0.02) and np.any(w == 0.3)  # large steps pile weights at the bounds
    for rule in (sn.TripletSTDP.visual_cortex("all", w_max=0.3, a3_plus=0.5),
                 sn.TripletSTDP.visual_cortex("nearest", minimal=True, w_max=0.3),
                 sn.DiehlCookSTDP(nu_pre=0.01, nu_post=0.2, w_max=0.3)):
        w = _random_run(rule, engine, seed=1)
        assert np.all(w >= 0.0) and np.all(w <= 0.3)


def _pfister_protocol(rule, freq, delta, engine="numba", n_pairs=60):
    period = 1.0 / freq
    t_start = 100 * ms
    pre = [t_start + k * period for k in range(n_pairs)]
    post = [t + delta for t in pre]
    net, proj, spikes = _pairing_net([[t - DT for t in pre]], [post], rule)
    res = net.run(t_start + n_pairs * period + 200 * ms, engine=engine)
    assert len(res[spikes]) == n_pairs
    return proj.get_weights("sparse")[2][0] - 0.5


@pytest.mark.parametrize("minimal", [False, True])
def test_triplet_frequency_dependence_pfister_gerstner(minimal):
    """Pfister & Gerstner (2006), Fig. 4 (visual cortex, all-to-all): 60 pairings at 1-50 Hz.

    Post-before-pre (Δt = -10 ms) depresses at low frequency and potentiates at high
    frequency; pre-before-post (+10 ms) potentiates more the higher the frequency."""
    rule = sn.TripletSTDP.visual_cortex("all", minimal=minimal, w_min=-10.0, w_max=10.0)
    freqs = [1, 5, 10, 20, 40, 50]
    neg = [_pfister_protocol(rule, f, -10 * ms) for f in freqs]
    pos = [_pfister_protocol(rule, f, +10 * ms) for f in freqs]
    assert neg[0] < 0 and neg[1] < 0  # LTD at 1 and 5 Hz
    assert neg[-1] > 0 and neg[-2] > 0  # LTP at 40 and 50 Hz
    assert all(b > a for a, b in zip(pos, pos[1:]))  # LTP grows with frequency
    assert pos[-1] > 0
    # against the closed form of the all-to-all minimal model at 1 Hz (pairs do not interact
    # through the fast traces, the slow traces add a little): dw = 60 * (-A2m e^{-10/33.7})
    if minimal:
        y_slow = sum(np.exp(-k * 1.0 / 0.125) for k in range(1, 60))  # negligible at 1 Hz
        assert neg[0] == pytest.approx(-60 * 7.1e-3 * np.exp(-10 / 33.7), rel=1e-3)
        assert y_slow < 1e-3


def test_plasticity_can_be_frozen_and_unfrozen():
    rule = sn.PairSTDP(a_plus=0.05, a_minus=0.06, w_max=0.3)
    net = sn.Network(dt=0.5 * ms, seed=0)
    inp = net.add(sn.PoissonInput(60, rate=40 * Hz))
    post = net.add(sn.LIF(8, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV,
                          synapses=sn.Conductance()))
    proj = net.connect(inp, post, weight=sn.Uniform(0, 0.3), plasticity=rule)
    s = net.record_spikes(post)
    w0 = proj.get_weights("sparse")[2].copy()
    proj.plastic = False
    res = net.run(1.0)
    assert len(res[s]) > 10
    np.testing.assert_array_equal(proj.get_weights("sparse")[2], w0)
    proj.plastic = True
    net.run(1.0)
    assert not np.array_equal(proj.get_weights("sparse")[2], w0)
    with pytest.raises(sn.NetworkError):
        net.connect(inp, post).plastic = True


def test_weight_normalization_on_demand_and_periodic():
    net = sn.Network(dt=0.5 * ms, seed=0)
    inp = net.add(sn.PoissonInput(30, rate=40 * Hz))
    post = net.add(sn.LIF(5, synapses=sn.Conductance()))
    proj = net.connect(inp, post, weight=sn.Uniform(0, 1),
                       plasticity=sn.PairSTDP(a_plus=0.01, a_minus=0.01),
                       normalization=sn.WeightNormalization(7.8, every=10 * ms))
    net.normalize_weights(proj)
    np.testing.assert_allclose(proj.get_weights().sum(axis=0), 7.8, rtol=1e-12)
    net.normalize_weights(proj, target_sum=3.0)
    np.testing.assert_allclose(proj.get_weights().sum(axis=0), 3.0, rtol=1e-12)
    net.run(20 * ms)  # normalised at t = 0 and t = 10 ms, then 10 ms of learning
    sums = proj.get_weights().sum(axis=0)
    assert not np.allclose(sums, 7.8, rtol=1e-9)
    assert np.all(np.abs(sums - 7.8) < 0.5)
    # a projection without a learning rule is normalised exactly at multiples of `every`
    static = net.connect(inp, post, weight=sn.Uniform(0, 1),
                         normalization=sn.WeightNormalization(2.0, every=10 * ms))
    t0 = net.t  # 20 ms
    net.run(0.5 * ms)
    np.testing.assert_allclose(static.get_weights().sum(axis=0), 2.0, rtol=1e-12)
    static.set_weights(static.get_weights() * 3)
    net.run(9 * ms)
    np.testing.assert_allclose(static.get_weights().sum(axis=0), 6.0, rtol=1e-12)
    net.run(1 * ms)  # crosses t = 30 ms
    np.testing.assert_allclose(static.get_weights().sum(axis=0), 2.0, rtol=1e-12)
    assert net.t == pytest.approx(t0 + 10.5 * ms)
    # with its plasticity switched off, the learning projection is not normalised either
    proj.set_weights(proj.get_weights() * 2)
    before = proj.get_weights().sum(axis=0)
    proj.plastic = False
    net.run(20 * ms)
    np.testing.assert_allclose(proj.get_weights().sum(axis=0), before, rtol=1e-12)


def test_plasticity_gain_scales_each_neurons_learning(engine):
    """Each postsynaptic neuron's weight changes are multiplied by its gain (0 freezes it)."""
    rule = sn.PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=20 * ms, tau_minus=20 * ms)
    # three independent pairs with the same timing (pre 5 ms before post, then post 5 ms
    # before a second pre): dw = a_plus e^{-1/4} - a_minus e^{-1/4}
    pre = [[10 * ms - DT, 30 * ms - DT]] * 3
    post = [[15 * ms, 25 * ms]] * 3
    net, proj, _ = _pairing_net(pre, post, rule)
    proj.plasticity_gain = [1.0, 0.5, 0.0]
    net.run(60 * ms, engine=engine)
    _, post_idx, w = proj.get_weights("sparse")
    dw = np.empty(3)
    dw[post_idx] = w - 0.5
    e = np.exp(-5 / 20)
    full = 0.01 * e + 0.01 * np.exp(-15 / 20) - 0.012 * e - 0.012 * np.exp(-15 / 20)
    np.testing.assert_allclose(dw, [full, 0.5 * full, 0.0], rtol=1e-9, atol=1e-18)
    with pytest.raises(sn.ParameterError, match=">= 0"):
        proj.plasticity_gain = [-1.0, 1.0, 1.0]
