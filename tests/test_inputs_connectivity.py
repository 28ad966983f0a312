"""Poisson inputs, spike sources and connectivity rules against theory (within 4 sigma)."""

from __future__ import annotations

import numpy as np
import pytest

import snnsim as sn
from snnsim.units import Hz, ms, second


def test_poisson_rate_and_isi_statistics(engine):
    dt = 0.1 * ms
    n, rate, dur = 500, 20 * Hz, 1 * second
    net = sn.Network(dt=dt, seed=3)
    inp = net.add(sn.PoissonInput(n, rate=rate))
    spikes = net.record_spikes(inp)
    res = net.run(dur, engine=engine)
    st = res[spikes]
    steps = int(round(dur / dt))
    p = rate * dt
    mean, sd = n * steps * p, np.sqrt(n * steps * p * (1 - p))
    assert abs(len(st) - mean) < 4 * sd
    # intervals are geometric in steps: mean 1/p steps, sd sqrt(1-p)/p
    isis = np.concatenate([np.diff(t) for t in st.trains()]) / dt
    m, s = 1 / p, np.sqrt(1 - p) / p
    assert abs(isis.mean() - m) < 4 * s / np.sqrt(isis.size)
    assert abs(isis.std() - s) < 0.05 * s
    # each neuron's count is binomial: the spread across neurons matches
    counts = st.counts()
    assert abs(counts.var() / (steps * p * (1 - p)) - 1) < 4 * np.sqrt(2 / n)


def test_poisson_heterogeneous_rates_and_set_rates(engine):
    dt = 0.5 * ms
    rates = np.linspace(0, 80, 400) * Hz
    net = sn.Network(dt=dt, seed=4)
    inp = net.add(sn.PoissonInput(400, rate=rates))
    spikes = net.record_spikes(inp)
    res = net.run(2 * second, engine=engine)
    c = res[spikes].counts()
    assert c[0] == 0
    low, high = c[:200].sum(), c[200:].sum()
    steps = 4000
    for part, r in ((low, rates[:200]), (high, rates[200:])):
        p = r * dt
        mean, sd = steps * p.sum(), np.sqrt(steps * (p * (1 - p)).sum())
        assert abs(part - mean) < 4 * sd
    inp.set_rates(0.0)
    assert len(net.run(200 * ms, engine=engine)[spikes]) == 0
    inp.set_rates(100 * Hz)
    n2 = len(net.run(1 * second, engine=engine)[spikes])
    p = 100 * Hz * dt
    assert abs(n2 - 400 * 2000 * p) < 4 * np.sqrt(400 * 2000 * p * (1 - p))


def test_poisson_rate_above_one_per_step_is_rejected():
    net = sn.Network(dt=1 * ms, seed=0)
    with pytest.raises(sn.ParameterError, match="1/dt"):
        net.add(sn.PoissonInput(3, rate=2000 * Hz))
    inp = net.add(sn.PoissonInput(3, rate=10 * Hz))
    with pytest.raises(sn.ParameterError, match="1/dt"):
        inp.set_rates([1, 2, 1001])


def test_spike_source_emits_exactly_its_spikes(engine):
    dt = 0.1 * ms
    rng = np.random.default_rng(0)
    steps = rng.choice(2000, size=300, replace=False)
    idx = rng.integers(0, 7, size=300)
    net = sn.Network(dt=dt, seed=0)
    src = net.add(sn.SpikeSource(7, times=steps * dt, indices=idx))
    spikes = net.record_spikes(src)
    res = net.run(200 * ms, engine=engine)
    got = sorted(zip(np.rint(res[spikes].times / dt).astype(int).tolist(), res[spikes].indices.tolist()))
    assert got == sorted(zip(steps.tolist(), idx.tolist()))
    # replayed after reset_state
    net.reset_state()
    assert len(net.run(200 * ms, engine=engine)[spikes]) == 300


def test_spike_source_duplicate_in_one_step_is_an_error():
    net = sn.Network(dt=1 * ms, seed=0)
    net.add(sn.SpikeSource(2, times=[1.0 * ms, 1.2 * ms], indices=[1, 1]), name="src")
    with pytest.raises(sn.ParameterError, match="two spikes"):
        net.compile()


def test_fixed_probability_counts():
    n_pre, n_post, p = 400, 300, 0.05
    pre, post = sn.FixedProbability(p).build(n_pre, n_post, np.random.default_rng(1), False)
    total = n_pre * n_post
    assert abs(pre.size - total * p) < 4 * np.sqrt(total * p * (1 - p))
    assert np.unique(pre * n_post + post).size == pre.size  # no duplicate pairs
    # in-degrees are binomial(n_pre, p)
    indeg = np.bincount(post, minlength=n_post)
    assert abs(indeg.var() / (n_pre * p * (1 - p)) - 1) < 4 * np.sqrt(2 / n_post)
    # no self connections when asked
    pre, post = sn.FixedProbability(0.5, allow_self=False).build(50, 50, np.random.default_rng(1), True)
    assert not np.any(pre == post)
    assert abs(pre.size - 50 * 49 * 0.5) < 4 * np.sqrt(50 * 49 * 0.25)


def test_fixed_in_degree_counts():
    n_pre, n_post, k = 200, 500, 30
    pre, post = sn.FixedInDegree(k).build(n_pre, n_post, np.random.default_rng(2), False)
    assert np.all(np.bincount(post, minlength=n_post) == k)
    for j in range(n_post):
        assert np.unique(pre[post == j]).size == k
    # synapses from the first half of the presynaptic neurons: hypergeometric per post neuron
    half = np.sum(pre < n_pre // 2)
    var = n_post * k * 0.5 * 0.5 * (n_pre - k) / (n_pre - 1)
    assert abs(half - n_post * k / 2) < 4 * np.sqrt(var)
    pre, post = sn.FixedInDegree(10, allow_self=False).build(20, 20, np.random.default_rng(0), True)
    assert not np.any(pre == post)


def test_all_to_all_one_to_one_from_arrays():
    pre, post = sn.AllToAll().build(3, 4, np.random.default_rng(0), False)
    assert set(zip(pre.tolist(), post.tolist())) == {(i, j) for i in range(3) for j in range(4)}
    pre, post = sn.AllToAll(allow_self=False).build(4, 4, np.random.default_rng(0), True)
    assert pre.size == 12 and not np.any(pre == post)
    pre, post = sn.OneToOne().build(5, 5, np.random.default_rng(0), False)
    assert pre.tolist() == post.tolist() == list(range(5))
    with pytest.raises(sn.ParameterError):
        sn.OneToOne().build(5, 4, np.random.default_rng(0), False)
    with pytest.raises(sn.ParameterError, match=r"\[0, 3\)"):
        sn.FromArrays([0, 3], [0, 1]).build(3, 3, np.random.default_rng(0), False)


def test_weights_and_delays_from_distributions():
    net = sn.Network(dt=0.5 * ms, seed=5)
    a = net.add(sn.PoissonInput(100))
    b = net.add(sn.LIF(100))
    proj = net.connect(a, b, weight=sn.Uniform(0.0, 0.3), delay=sn.Uniform(0 * ms, 10 * ms))
    _, _, w = proj.get_weights("sparse")
    assert w.min() >= 0 and w.max() < 0.3
    assert abs(w.mean() - 0.15) < 4 * 0.3 / np.sqrt(12) / np.sqrt(w.size)
    steps = np.rint(proj.delays / (0.5 * ms)).astype(int)
    assert steps.min() == 1 and steps.max() == 20
    # rounding: step 0 collects [0, 0.25 ms) which becomes 1 step, so P(1 step) = 0.075
    frac1 = np.mean(steps == 1)
    assert abs(frac1 - 0.075) < 4 * np.sqrt(0.075 * 0.925 / w.size)
    m = proj.get_weights("dense")
    assert m.shape == (100, 100)
    pre, post, w2 = proj.get_weights("sparse")
    np.testing.assert_array_equal(m[pre, post], w2)
    x = sn.Normal(1.0, 2.0, low=0.0, high=2.5).sample(np.random.default_rng(0), 10000)
    assert x.min() == 0.0 and x.max() == 2.5
