"""LIF dynamics against closed-form mathematics, on every available engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snnsim as sn
from snnsim.units import mV, ms, nA, Mohm, second


def _analytic_v(t, v0, v_inf, tau_m, arrivals):
    """Membrane potential of a current-based LIF below threshold (no spikes).

    arrivals: list of (t_arrival, w, tau_s): an exponential current R*I = w exp(-(t-ta)/tau_s).
    """
    v = v_inf + (v0 - v_inf) * np.exp(-t / tau_m)
    for ta, w, tau_s in arrivals:
        s = np.clip(t - ta, 0.0, None)
        v = v + np.where(t >= ta - 1e-15,
                         w * tau_s / (tau_s - tau_m) * (np.exp(-s / tau_s) - np.exp(-s / tau_m)),
                         0.0)
    return v


def test_subthreshold_trajectory_is_analytic(engine):
    dt = 0.1 * ms
    net = sn.Network(dt=dt, seed=0)
    src = net.add(sn.SpikeSource(2, times=[2 * ms, 7.5 * ms], indices=[0, 1]), name="src")
    lif = sn.LIF(1, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-75 * mV, v_th=0 * mV, t_ref=2 * ms,
                 r_m=100 * Mohm, i_bias=0.05 * nA,
                 synapses=sn.Current(tau_e=5 * ms, tau_i=10 * ms))
    post = net.add(lif, name="post")
    post.set_initial(v=-60 * mV)
    net.connect(src, post, sn.FromArrays([0], [0]), weight=3 * mV, delay=1 * ms, receptor="exc")
    net.connect(src, post, sn.FromArrays([1], [0]), weight=-2 * mV, delay=0.5 * ms, receptor="inh")
    rec = net.record_state(post, ["v", "i_e", "i_i"], [0])
    res = net.run(60 * ms, engine=engine)
    tr = res[rec]
    t = tr.times
    v_inf = -70 * mV + 100 * Mohm * 0.05 * nA
    expected = _analytic_v(t, -60 * mV, v_inf, 20 * ms,
                           [(3 * ms, 3 * mV, 5 * ms), (8 * ms, -2 * mV, 10 * ms)])
    rel = np.abs(tr["v"][:, 0] - expected) / np.abs(expected)
    assert rel.max() <= 1e-9
    # the channel variables are pure exponentials starting at the arrival times
    ie = np.where(t >= 3 * ms - 1e-12, 3 * mV * np.exp(-(t - 3 * ms) / (5 * ms)), 0.0)
    np.testing.assert_allclose(tr["i_e"][:, 0], ie, rtol=1e-12, atol=1e-18)


def test_equal_time_constants_use_the_limit_propagator(engine):
    dt = 0.1 * ms
    net = sn.Network(dt=dt, seed=0)
    src = net.add(sn.SpikeSource(1, times=[0.0], indices=[0]))
    post = net.add(sn.LIF(1, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-80 * mV, v_th=0 * mV,
                          synapses=sn.Current(tau_e=10 * ms)))
    net.connect(src, post, weight=4 * mV, delay=dt)
    rec = net.record_state(post, "v", [0])
    tr = net.run(50 * ms, engine=engine)[rec]
    s = np.clip(tr.times - dt, 0, None)
    expected = -70 * mV + np.where(tr.times >= dt, 4 * mV * s / (10 * ms) * np.exp(-s / (10 * ms)), 0)
    np.testing.assert_allclose(tr["v"][:, 0], expected, rtol=1e-9)


def _closed_form_isi(r_i, tau_m, v_rest, v_reset, v_th, t_ref):
    return t_ref + tau_m * math.log((r_i - (v_reset - v_rest)) / (r_i - (v_th - v_rest)))


@pytest.mark.parametrize("synapses", [sn.Current(), sn.Conductance()])
def test_constant_current_rate_matches_closed_form(engine, synapses):
    dt = 0.1 * ms
    currents = np.array([0.21, 0.25, 0.3, 0.4, 0.6, 1.0]) * nA
    net = sn.Network(dt=dt, seed=0)
    pop = net.add(sn.LIF(currents.size, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-65 * mV,
                         v_th=-50 * mV, t_ref=2 * ms, r_m=100 * Mohm, i_bias=currents,
                         synapses=synapses))
    pop.set_initial(v=-65 * mV)
    spikes = net.record_spikes(pop)
    res = net.run(1 * second, engine=engine)
    trains = res[spikes].trains()
    for k, i in enumerate(currents):
        isi_theory = _closed_form_isi(100 * Mohm * i, 20 * ms, -70 * mV, -65 * mV, -50 * mV, 2 * ms)
        isis = np.diff(trains[k])
        assert isis.size >= 3
        # the discrete-time interval is the closed-form one rounded up to a whole step
        assert np.all(isis >= isi_theory - 1e-12)
        assert np.all(isis <= isi_theory + dt + 1e-12)
        rate = 1.0 / isis.mean()
        assert abs(rate - 1.0 / isi_theory) <= (1.0 / isi_theory - 1.0 / (isi_theory + dt)) + 1e-9
    # below rheobase (R I = 20 mV) the neuron never fires
    assert currents[0] * 100 * Mohm > 20 * mV


def test_below_rheobase_no_spikes(engine):
    net = sn.Network(dt=0.1 * ms, seed=0)
    pop = net.add(sn.LIF(1, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV,
                         r_m=100 * Mohm, i_bias=0.199 * nA))
    spikes = net.record_spikes(pop)
    rec = net.record_state(pop, "v", [0])
    res = net.run(500 * ms, engine=engine)
    assert len(res[spikes]) == 0
    assert res[rec]["v"][-1, 0] == pytest.approx(-70 * mV + 19.9 * mV, abs=1e-6)


@pytest.mark.parametrize("delay_ms", [0.1, 0.3, 1.0, 2.5, 7.0])
def test_spike_arrives_exactly_delay_later(engine, delay_ms):
    dt = 0.1 * ms
    t0 = 1.2 * ms
    net = sn.Network(dt=dt, seed=0)
    src = net.add(sn.SpikeSource(1, times=[t0], indices=[0]))
    post = net.add(sn.LIF(2, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV,
                          t_ref=20 * ms))
    # neuron 0: a small weight to watch the channel; neuron 1: a huge one makes it fire
    net.connect(src, post, sn.FromArrays([0, 0], [0, 1]), weight=np.array([1 * mV, 10.0]),
                delay=delay_ms * ms)
    rec = net.record_state(post, "i_e", [0])
    spikes = net.record_spikes(post)
    res = net.run(15 * ms, engine=engine)
    tr = res[rec]
    first = tr.times[np.flatnonzero(tr["i_e"][:, 0] != 0)[0]]
    assert first == pytest.approx(t0 + delay_ms * ms, abs=1e-12)
    st = res[spikes]
    assert st.indices.tolist() == [1]
    assert st.times[0] == pytest.approx(t0 + delay_ms * ms, abs=1e-12)


def test_heterogeneous_delays_each_synapse_its_own(engine):
    dt = 0.5 * ms
    delays = np.array([0.5, 1.0, 3.0, 4.5, 10.0]) * ms
    net = sn.Network(dt=dt, seed=0)
    src = net.add(sn.SpikeSource(1, times=[2 * ms], indices=[0]))
    post = net.add(sn.LIF(5, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV,
                          t_ref=50 * ms))
    proj = net.connect(src, post, sn.FromArrays([0] * 5, list(range(5))), weight=1.0, delay=delays)
    spikes = net.record_spikes(post)
    res = net.run(20 * ms, engine=engine)
    st = res[spikes]
    order = np.argsort(st.indices)
    np.testing.assert_allclose(st.times[order], 2 * ms + delays, atol=1e-12)
    np.testing.assert_allclose(np.sort(proj.delays), delays, atol=1e-15)


def test_delay_below_one_step_becomes_one_step():
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.SpikeSource(1, times=[0.0], indices=[0]))
    b = net.add(sn.LIF(1))
    with pytest.warns(sn.SnnsimWarning, match="becomes 1 step"):
        proj = net.connect(a, b, delay=0.01 * ms)
    assert proj.delays[0] == pytest.approx(0.1 * ms)


def test_refractory_neurons_do_not_integrate(engine):
    dt = 0.1 * ms
    net = sn.Network(dt=dt, seed=0)
    pop = net.add(sn.LIF(1, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-72 * mV, v_th=-60 * mV,
                         t_ref=3 * ms, r_m=100 * Mohm, i_bias=0.5 * nA,
                         synapses=sn.Conductance(tau_e=2 * ms)))
    pop.set_initial(v=-60.5 * mV)
    # a strong excitatory input arriving during the refractory period
    src = net.add(sn.SpikeSource(1, times=[1 * ms], indices=[0]))
    net.connect(src, pop, weight=5.0, delay=dt)
    rec = net.record_state(pop, ["v", "g_e"], [0])
    spikes = net.record_spikes(pop)
    res = net.run(10 * ms, engine=engine)
    t_spike = res[spikes].times[0]
    tr = res[rec]
    n_ref = 30
    k = int(round(t_spike / dt))
    # samples at steps k+1 .. k+n_ref show v held at v_reset, although g_e jumped meanwhile
    np.testing.assert_array_equal(tr["v"][k + 1:k + 1 + n_ref, 0], -72 * mV)
    assert np.any(tr["g_e"][k + 1:k + 1 + n_ref, 0] > 1.0)
    assert tr["v"][k + 2 + n_ref, 0] > -72 * mV  # integrating again
    assert np.all(np.diff(res[spikes].times) >= 3 * ms - 1e-12)


def test_conductance_scheme_is_second_order():
    """Exponential Euler with step-averaged conductances (docs/semantics.md) converges to the
    exact solution at second order in dt: halving dt quarters the error."""
    def v_at(dt):
        net = sn.Network(dt=dt, seed=0)
        src = net.add(sn.SpikeSource(1, times=[1 * ms], indices=[0]))
        post = net.add(sn.LIF(1, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-80 * mV, v_th=0 * mV,
                              synapses=sn.Conductance(tau_e=5 * ms, e_e=0 * mV)))
        net.connect(src, post, weight=2.0, delay=1 * ms)  # arrives at 2 ms for every dt
        rec = net.record_state(post, "v", [0])
        tr = net.run(22 * ms + dt, engine="numba")[rec]
        assert tr.times[-1] == pytest.approx(22 * ms)
        return tr["v"][-1, 0]

    ref = v_at(0.1 * ms / 64)
    errors = [abs(v_at(dt) - ref) for dt in (0.2 * ms, 0.1 * ms, 0.05 * ms)]
    assert errors[0] > errors[1] > errors[2]
    assert 3.4 < errors[0] / errors[1] < 4.6 and 3.4 < errors[1] / errors[2] < 4.6
    assert errors[1] < 1e-3 * mV  # at dt = 0.1 ms the error is under a microvolt


def test_adaptive_threshold_grows_decays_and_freezes(engine):
    dt = 0.5 * ms
    net = sn.Network(dt=dt, seed=0)
    pop = net.add(sn.AdaptiveLIF(1, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-52 * mV, t_ref=5 * ms, r_m=100 * Mohm, i_bias=0.3 * nA,
                                 theta_plus=1 * mV, tau_theta=100 * ms), name="a")
    spikes = net.record_spikes(pop)
    rec = net.record_state(pop, "theta", [0])
    res = net.run(200 * ms, engine=engine)
    times = res[spikes].times
    assert len(times) >= 3
    # theta = sum over past spikes of theta_plus exp(-(t - t_k)/tau_theta), sampled after each step
    tr = res[rec]
    t = tr.times
    expected = np.zeros_like(t)
    for tk in times:
        expected += np.where(t > tk + 1e-12, 1 * mV * np.exp(-(t - tk - dt) / (100 * ms)), 0.0)
    np.testing.assert_allclose(tr["theta"][:, 0], expected, rtol=1e-9, atol=1e-15)
    # rising threshold: intervals grow
    assert np.all(np.diff(np.diff(times)) >= -1e-12)
    pop.theta_frozen = True
    before = pop.get_state("theta")[0]
    res2 = net.run(100 * ms, engine=engine)
    assert len(res2[spikes]) > 0
    assert pop.get_state("theta")[0] == before
