"""The numba engine stops at the first non-finite state it produces and names it.

The public API refuses values that could overflow (parameter and state bounds), so these
tests put huge values straight into the plan's arrays (what a corrupt file or a bug would
do) and predict, by an independent computation in Python floats, in which step, for which
neuron and which variable the first NaN or infinity appears.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import snnsim as sn
from snnsim.errors import NonFiniteStateError, SnnsimError
from snnsim.plan import PF_BIAS, PF_KE, PF_THPLUS, PI_OFF, S_BIAS, S_THETA, S_V
from snnsim.units import ms, mV

DT = 0.1 * ms
BIG = 1.7976931348623157e308  # the largest double

THREADS = [1, pytest.param(2, marks=pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2,
    reason=f"threads=2 needs NUMBA_NUM_THREADS >= 2, have {numba.config.NUMBA_NUM_THREADS}"))]
FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _check_error(exc: NonFiniteStateError, population: str, variable: str, index: int,
                 step: int) -> None:
    assert isinstance(exc, SnnsimError) and isinstance(exc, ArithmeticError)
    assert (exc.population, exc.variable, exc.index, exc.step) == (population, variable, index,
                                                                    step)
    assert exc.time == pytest.approx(step * DT)
    msg = str(exc)
    assert f"population {population!r}" in msg and f"{variable} of neuron {index}" in msg
    assert f"at step {step} " in msg


# --- channels overflowing from huge weights ---------------------------------------------------

@st.composite
def _drive(draw):
    n_pre = draw(st.integers(1, 4))
    n_post = draw(st.integers(1, 3))
    spikes = sorted({(draw(st.integers(0, 19)), i) for i in range(n_pre)
                     for _ in range(draw(st.integers(0, 3)))})
    weight = st.one_of(st.floats(1e306, BIG), st.floats(0.0, 1.0))
    w = draw(st.lists(weight, min_size=n_pre * n_post, max_size=n_pre * n_post))
    return n_pre, n_post, spikes, w, draw(st.integers(1, 3))


def _predict_current(n_pre, n_post, spikes, w, delay, n_steps, tau_e):
    """i_e of every neuron after each step, by the arrival rule: at step n every spike emitted
    at n - delay adds its weights (presynaptic neurons in index order), then i_e decays."""
    pe = math.exp(-DT / tau_e)
    g = [0.0] * n_post
    for n in range(n_steps):
        for s, i in spikes:
            if s == n - delay:
                for j in range(n_post):
                    g[j] += w[i * n_post + j]   # AllToAll storage order: (pre, post)
        bad = [j for j in range(n_post) if not math.isfinite(g[j])]
        g = [x * pe for x in g]
        if bad:
            return n, bad[0], g
    return None, None, g


@pytest.mark.parametrize("threads", THREADS)
@FAST
@given(_drive())
def test_weight_overflow_names_channel_neuron_and_step(threads, case):
    n_pre, n_post, spikes, w, delay = case
    net = sn.Network(dt=DT, seed=0)
    src = net.add(sn.SpikeSource(n_pre, times=[s * DT for s, _ in spikes],
                                 indices=[i for _, i in spikes]), name="src")
    cell = net.add(sn.LIF(n_post), name="cell")
    net.connect(src, cell, sn.AllToAll(), weight=0.0, delay=delay * DT)
    plan = net.compile()
    plan.w[:] = w
    n_steps = 30
    step, index, g = _predict_current(n_pre, n_post, spikes, w, delay, n_steps,
                                      cell.model.synapses.tau_e)
    event("overflows" if step is not None else "stays finite")
    if step is None:  # huge but finite everywhere: no false alarm, the same channel values
        net.run(n_steps * DT, threads=threads)
        assert np.array_equal(cell.get_state("i_e"), g)
        return
    with pytest.raises(NonFiniteStateError) as info:
        net.run(n_steps * DT, threads=threads)
    _check_error(info.value, "cell", "i_e", index, step)
    # the plan is left at the end of the step that overflowed
    assert int(plan.step[0]) == step + 1
    assert np.array_equal(cell.get_state("i_e"), g)


@pytest.mark.parametrize("threads", THREADS)
def test_conductance_overflow_names_g_e_and_the_run_can_go_on(threads):
    net = sn.Network(dt=DT, seed=0)
    src = net.add(sn.SpikeSource(2, times=[1 * ms, 1 * ms], indices=[0, 1]), name="src")
    cell = net.add(sn.LIF(3, synapses=sn.Conductance()), name="coba")
    pr = net.connect(src, cell, sn.FromArrays([0, 1], [2, 2]), weight=0.0, delay=0.3 * ms)
    net.compile().w[:] = 1e308  # 1e308 + 1e308 overflows; one alone would not
    with pytest.raises(NonFiniteStateError) as info:
        net.run(3 * ms, threads=threads)
    _check_error(info.value, "coba", "g_e", 2, 13)  # emitted at step 10, delay 3 steps
    assert net.t == pytest.approx(14 * DT)
    assert cell.get_state("g_e")[2] == np.inf
    # repaired, the same network runs on from where it stopped
    pr.set_weights(0.0)
    cell.set_state(g_e=0.0, v=-65 * mV)
    net.run(1 * ms, threads=threads)
    assert np.isfinite(cell.get_state("v")).all()


# --- the membrane potential and the adaptive threshold ----------------------------------------

# values near the largest double of either sign, or ordinary ones
finite_big = st.one_of(st.floats(-BIG, -1e307), st.floats(1e307, BIG), st.floats(-1.0, 1.0))


def _set_param(plan, p, name, col, value):
    """Set a lowered parameter of population p beyond the records' bounds: in the flat columns
    (engines other than numba) and by name (the numba engine's generated loop)."""
    plan.pop_f[p, col] = value
    plan.lowered[p][name] = value
    plan.version += 1


@pytest.mark.parametrize("bias_array", [False, True])
@FAST
@given(v0=finite_big, b=finite_big)
@example(v0=-1e308, b=1e308)
@example(v0=1e308, b=-1e308)
@example(v0=-70 * mV, b=20 * mV)
def test_bias_and_v_overflow_names_v(bias_array, v0, b):
    model = sn.LIF(2, i_bias=np.zeros(2) if bias_array else 0.0, r_m=1e8)
    net = sn.Network(dt=DT, seed=0)
    cell = net.add(model, name="cell")
    plan = net.compile()
    lo = int(plan.pop_i[0, PI_OFF])
    plan.st[S_V, lo + 1] = v0
    if bias_array:  # the general loop (per-neuron bias)
        plan.st[S_BIAS, lo + 1] = b
    else:           # the simple loop (bias of the population; neuron 0 starts at v_rest)
        _set_param(plan, 0, "bias", PF_BIAS, b)
    vinf = model.v_rest + b  # finite: |v_rest| is tiny
    vn = vinf + (v0 - vinf) * math.exp(-DT / model.tau_m) + 0.0 + 0.0
    event("overflows" if not math.isfinite(vn) else "stays finite")
    if not math.isfinite(vn):
        with pytest.raises(NonFiniteStateError) as info:
            net.run(DT)
        _check_error(info.value, "cell", "v", 1, 0)
    else:
        net.run(DT)
        assert cell.get_state("v")[1] == (model.v_reset if vn >= model.v_th else vn)


def test_refractory_neuron_reports_when_the_value_is_stored():
    net = sn.Network(dt=DT, seed=0)
    cell = net.add(sn.LIF(1, i_bias=np.zeros(1), r_m=1e8), name="cell")
    plan = net.compile()
    plan.st[S_V, 0] = -1e308
    plan.st[S_BIAS, 0] = 1e308  # v - v_inf = -2e308 overflows; discarded while refractory
    plan.ref[0] = 3
    with pytest.raises(NonFiniteStateError) as info:
        net.run(1 * ms)
    _check_error(info.value, "cell", "v", 0, 3)
    assert cell.get_state("v")[0] == -np.inf


@pytest.mark.parametrize("threads", THREADS)
def test_theta_non_finite_in_state_and_after_its_jump(threads):
    net = sn.Network(dt=DT, seed=0)
    a = net.add(sn.AdaptiveLIF(2), name="a")
    b = net.add(sn.AdaptiveLIF(3), name="b")
    plan = net.compile()
    lo_b = int(plan.pop_i[1, PI_OFF])
    # theta of b[1] is infinite already: found in the first step
    plan.st[S_THETA, lo_b + 1] = np.inf
    with pytest.raises(NonFiniteStateError) as info:
        net.run(1 * ms, threads=threads)
    _check_error(info.value, "b", "theta", 1, 0)
    # a[0] spikes with theta near the largest double and a jump as large: theta + jump
    # overflows at that spike (the threshold itself, v_th + theta, is still finite)
    plan.st[S_THETA, lo_b + 1] = 0.0
    plan.st[S_THETA, 0] = 1e308
    plan.st[S_V, 0] = 1.7e308
    _set_param(plan, 0, "theta_plus", PF_THPLUS, 1e308)
    m = a.model
    t = 1e308 * math.exp(-DT / m.tau_theta)
    vn = m.v_rest + (1.7e308 - m.v_rest) * math.exp(-DT / m.tau_m)
    assert vn >= m.v_th + t and not math.isfinite(t + 1e308)  # the prediction: spike, overflow
    with pytest.raises(NonFiniteStateError) as info:
        net.run(1 * ms, threads=threads)
    _check_error(info.value, "a", "theta", 0, 1)
    assert a.get_state("v")[0] == m.v_reset and a.get_state("theta")[0] == np.inf


# --- plastic weights ----------------------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("side, timing, dependence", [
    ("pre", "arrival", "additive"), ("pre", "arrival", "multiplicative"),
    ("pre", "emission", "additive"), ("post", "arrival", "additive"),
    ("post", "emission", "multiplicative")])
def test_nan_weight_names_projection_synapse_and_step(threads, side, timing, dependence):
    """An infinite plasticity gain (not settable through the API) times a zero trace is NaN;
    the clip to [w_min, w_max] lets NaN through, so the weight update notes it."""
    net = sn.Network(dt=DT, seed=0)
    pre = net.add(sn.SpikeSource(3, times=[2 * ms] if side == "pre" else [],
                                 indices=[1] if side == "pre" else []), name="pre")
    drive = net.add(sn.SpikeSource(1, times=[1 * ms], indices=[0]), name="drive")
    post = net.add(sn.LIF(2), name="post")
    rule = sn.PairSTDP(timing=timing, weight_dependence=dependence)
    prj = net.connect(pre, post, sn.AllToAll(), weight=0.5, delay=0.4 * ms, plasticity=rule,
                      name="plastic")
    kick = 10.0 if side == "post" else 0.0  # makes post[1] spike at the arrival, step 11
    net.connect(drive, post, sn.FromArrays([0], [1]), weight=kick, delay=DT, name="kick")
    plan = net.compile()
    plan.gain[:] = np.inf
    if side == "post":
        m = post.model
        assert m.v_rest + kick * float(plan.pop_f[2, PF_KE]) >= m.v_th  # it does spike
        step, pre_i, post_j = 11, 0, 1          # x1 = 0 for every synapse onto post[1]
    else:
        step = 20 if timing == "emission" else 24  # emission at 2 ms; arrival 0.4 ms later
        pre_i, post_j = 1, 0                      # y1 = 0 for every synapse of pre[1]
    with pytest.raises(NonFiniteStateError) as info:
        net.run(5 * ms, threads=threads)
    exc = info.value
    k = int(np.flatnonzero((prj.pre_indices == pre_i) & (prj.post_indices == post_j))[0])
    assert (exc.projection, exc.variable, exc.index, exc.step) == ("plastic", "w", k, step)
    assert f"projection 'plastic': plastic weight of synapse {k}" in str(exc)
    assert f"at step {step} " in str(exc)
    assert net.t == pytest.approx((step + 1) * DT)
    assert np.isnan(prj.get_weights("sparse")[2][k])


# --- normalisation of tiny weights ----------------------------------------------------------------

def test_normalising_subnormal_weights_stays_finite():
    """target / sum overflows when the weights are subnormal; normalising must still give
    weights summing to the target (it used to give inf)."""
    net = sn.Network(dt=DT, seed=0)
    pre = net.add(sn.PoissonInput(4, rate=0.0), name="pre")
    post = net.add(sn.LIF(2), name="post")
    prj = net.connect(pre, post, sn.AllToAll(), weight=1e-320,
                      normalization=sn.WeightNormalization(3.0, every=1 * ms))
    net.normalize_weights(prj)
    w = prj.get_weights()
    assert np.array_equal(w, np.full((4, 2), 0.75))  # 1e-320 is an integer number of ulps
    prj.set_weights(np.full(prj.n_synapses, 5e-321))
    net.run(1 * ms)  # the automatic normalisation, in the kernel
    assert np.array_equal(prj.get_weights(), np.full((4, 2), 0.75))
