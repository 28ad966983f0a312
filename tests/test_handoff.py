"""A run continued on another engine equals a straight run, at any step boundary.

The plan (snnsim/plan.py) is the whole state of a network, in one layout that every engine
reads at the start of a run and leaves behind at its end: neuron state, weights, the spike
history ring (spikes in flight), the plasticity traces ``xtr``/``ytr`` and, for
``timing='arrival'`` with several delays, the ring ``hx`` of past presynaptic traces (with one
delay, ``xtr`` holds the traces seen through the delay).  Issue 14, failure 1: the reference
engine kept its arrival-timing traces privately, so numba -> reference and reference ->
numba lost the potentiation of presynaptic spikes that arrived shortly before the switch or
were in flight across it (dw = 0 instead of about +2.5e-3 in a 6-pair protocol).

What is shown:

* the 6-pair protocol (pairs before, across and after the switch: arrival before the
  switch and postsynaptic spike after it, spikes in flight, an arrival in the first step
  after the switch, a pre event and a post spike in the same step) gives every pair the
  closed-form ``a_plus exp(-lag / tau_plus)`` on every ordered pair of installed engines,
  for several delays, one delay and ``timing='emission'``;
* numba <-> reference, both directions, switching at every step boundary of a 40-step run
  of deterministic and Poisson-driven networks (PairSTDP / TripletSTDP, all / nearest,
  additive / multiplicative, one or several delays, arrival or emission timing): spikes,
  weights, neuron state and the traces the plan defines are bitwise those of a straight
  run; hypothesis draws schedules of engines, run lengths and plasticity switches;
* brian2 (numpy target) and cuda (Numba's CUDA simulator without a GPU) against numba and
  reference at a few switch points (every boundary with ``-m slow``): brian2 within 1e-12
  (its arithmetic differs), cuda bitwise for spikes, weights and traces (its channel sums
  are atomic additions: neuron state to 1e-12).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnsim as sn
from snnsim import plan as P
from snnsim.units import Hz, mV, ms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import ENGINES  # noqa: E402

try:  # switches numba-cuda to its simulator where there is no GPU (see that module)
    import test_cuda_engine as _cuda_tests  # noqa: E402
    HAVE_CUDA = _cuda_tests.SKIP is None
except ImportError:  # pragma: no cover
    HAVE_CUDA = False

DT = 0.5 * ms
K = 40                                    # steps of the short runs
EXACT = ("numba", "reference", "cuda")    # same arithmetic: bitwise
CPU = [e for e in ("numba", "reference") if e in ENGINES]
ALL = ENGINES + (["cuda"] if HAVE_CUDA else [])
needs_brian2 = pytest.mark.skipif("brian2" not in ENGINES, reason="brian2 is not installed")
needs_cuda = pytest.mark.skipif(not HAVE_CUDA, reason="numba-cuda (or its simulator) unavailable")


# --- networks --------------------------------------------------------------------------------

# the 6-pair protocol: (presynaptic spike step, delay in steps, postsynaptic spike step); the
# run is switched at step 20
PAIRS = [(2, 3, 9),      # all before the switch
         (10, 6, 24),    # arrives at 16, before the switch; post spike after it
         (15, 7, 26),    # in flight across the switch (arrives at 22)
         (17, 3, 23),    # arrives at 20, the first step after the switch
         (19, 4, 23),    # emitted in the last step before; arrives with the post spike
         (25, 5, 33)]    # all after
ONE_DELAY = 4
A_PLUS, TAU_PLUS = 2.6e-3, 20 * ms
W0 = 5e-3


def _pairs(delays: str = "several", timing: str = "arrival", triplet: bool = False):
    """Pre neuron k spikes once, post neuron k is forced (teacher) to spike once."""
    def build():
        net = sn.Network(dt=DT, seed=0)
        s = np.array([e for e, _, _ in PAIRS])
        t = np.array([p for _, _, p in PAIRS])
        d = np.array([d if delays == "several" else ONE_DELAY for _, d, _ in PAIRS])
        pre = net.add(sn.SpikeSource(6, times=s * DT, indices=range(6)), name="pre")
        tch = net.add(sn.SpikeSource(6, times=(t - 1) * DT, indices=range(6)), name="tch")
        post = net.add(sn.LIF(6, tau_m=10 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                              v_th=-55 * mV, t_ref=2.5 * ms,
                              synapses=sn.Current(tau_e=0.5 * ms, tau_i=0.5 * ms)), name="post")
        net.connect(tch, post, sn.OneToOne(), weight=50.0)        # post spikes at arrival
        if triplet:
            rule = sn.TripletSTDP(a2_plus=A_PLUS, a3_plus=1e-3, a2_minus=3e-3, a3_minus=1e-3,
                                  tau_plus=TAU_PLUS, w_max=1e-2, timing=timing)
        else:
            rule = sn.PairSTDP(a_plus=A_PLUS, a_minus=3e-3, tau_plus=TAU_PLUS,
                               tau_minus=20 * ms, w_max=1e-2, timing=timing)
        proj = net.connect(pre, post, sn.OneToOne(), weight=W0, delay=d * DT, plasticity=rule)
        return net, {"spikes": [net.record_spikes(post)], "proj": [proj], "pops": [post]}
    return build


def _expected_pairs(delays: str, timing: str) -> np.ndarray:
    """dw of each pair (storage order) from the pair window: a single pre event and a single
    post spike after it, no earlier post spike (so no depression, and y2 = 0)."""
    d = [d if delays == "several" else ONE_DELAY for _, d, _ in PAIRS]
    event = [e + (dk if timing == "arrival" else 0) for (e, _, _), dk in zip(PAIRS, d)]
    dw = [A_PLUS * np.exp(-(p - ev) * DT / TAU_PLUS) for (_, _, p), ev in zip(PAIRS, event)]
    order = np.lexsort((np.arange(6), d))           # synapses are stored by (delay, pre)
    return np.array(dw)[order]


def _random(rule, delays: str = "several", poisson: bool = True, seed: int = 3):
    """12 inputs (Poisson, or SpikeSource trains drawn here) -> 4 LIF, all-to-all plastic,
    plus a recurrent plastic projection among the 4; driven to fire several times in K steps."""
    def build():
        net = sn.Network(dt=DT, seed=seed)
        if poisson:
            inp = net.add(sn.PoissonInput(12, rate=400 * Hz), name="inp")
        else:
            spk = np.random.default_rng(seed).random((K, 12)) < 400 * Hz * DT
            steps, idx = np.nonzero(spk)
            inp = net.add(sn.SpikeSource(12, times=steps * DT, indices=idx), name="inp")
        post = net.add(sn.LIF(4, tau_m=10 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                              v_th=-55 * mV, t_ref=1 * ms,
                              synapses=sn.Current(tau_e=2 * ms, tau_i=2 * ms)), name="post")
        post.set_initial(v=sn.Uniform(-60 * mV, -55 * mV))
        delay = sn.Uniform(0.5 * ms, 3 * ms) if delays == "several" else 1.5 * ms
        pr = net.connect(inp, post, sn.AllToAll(), weight=sn.Uniform(2 * mV, 8 * mV),
                         delay=delay, plasticity=rule)
        rec = net.connect(post, post, sn.AllToAll(allow_self=False),
                          weight=sn.Uniform(0.0, 4 * mV), delay=delay, plasticity=rule)
        return net, {"spikes": [net.record_spikes(inp), net.record_spikes(post)],
                     "proj": [pr, rec], "pops": [post]}
    return build


def _pair_rule(**kw):
    return sn.PairSTDP(a_plus=0.5 * mV, a_minus=0.6 * mV, w_max=10 * mV, **kw)


def _triplet_rule(**kw):
    return sn.TripletSTDP(a2_plus=0.4 * mV, a3_plus=0.4 * mV, a2_minus=0.5 * mV,
                          a3_minus=0.2 * mV, w_max=10 * mV, **kw)


VARIANTS = {
    "pairs-several-delays": _pairs("several"),
    "pairs-one-delay": _pairs("one"),
    "pairs-emission": _pairs("several", "emission"),
    "pairs-triplet": _pairs("several", triplet=True),
    "poisson-pair": _random(_pair_rule()),
    "poisson-pair-one-delay": _random(_pair_rule(interaction="nearest"), "one"),
    "poisson-triplet-mult": _random(_triplet_rule(weight_dependence="multiplicative", mu=0.5)),
    "poisson-triplet-nearest-emission": _random(_triplet_rule(interaction="nearest",
                                                              timing="emission")),
}


# --- running and comparing -----------------------------------------------------------------

def _run(build, schedule) -> dict:
    """Run ``schedule`` [(engine, steps), ...] on a fresh network; what it leaves behind."""
    net, h = build()
    spikes = [[] for _ in h["spikes"]]
    for engine, n in schedule:
        res = net.run(n * DT, engine=engine)
        for k, m in enumerate(h["spikes"]):
            spikes[k].append((np.rint(res[m].times / DT).astype(np.int64), res[m].indices))
    out = {"spikes": [(np.concatenate([t for t, _ in s]), np.concatenate([i for _, i in s]))
                      for s in spikes],
           "w": [pr.get_weights("sparse")[2] for pr in h["proj"]],    # (syncs the engine)
           "v": [pop.get_state("v") for pop in h["pops"]]}
    out.update(_plan_state(net.compile()))
    return out


def _plan_state(p) -> dict:
    """The plan's neuron state and the parts of its traces that the engines maintain: x1/y1,
    x2/y2 where the rule uses them (A3- / A3+ != 0), and the ring slots still to be read."""
    n = int(p.step[0])
    traces = []
    for q in range(p.prj_i.shape[0]):
        row, f = p.prj_i[q], p.prj_f[q]
        if row[P.QI_RULE] == 0:
            continue
        npre = int(p.pop_i[row[P.QI_PRE], P.PI_N])
        npost = int(p.pop_i[row[P.QI_POST], P.PI_N])
        xo, yo, ho = (int(row[c]) for c in (P.QI_XOFF, P.QI_YOFF, P.QI_HOFF))
        rx = [0, 1] if f[P.QF_A3M] != 0 else [0]
        ry = [0, 1] if f[P.QF_A3P] != 0 else [0]
        traces.append(p.xtr[rx, xo:xo + npre].copy())
        traces.append(p.ytr[ry, yo:yo + npost].copy())
        if row[P.QI_TMODE] == P.TM_HET:
            ring = p.hx[:, ho:ho + p.R * npre].reshape(2, p.R, npre)
            slots = [s % p.R for s in range(n - p.R + 1, n - 1)]
            traces.append(ring[np.ix_(rx, slots)].copy())
    return {"traces": traces, "st": p.st[[P.S_V, P.S_GE, P.S_GI, P.S_THETA]].copy(),
            "ref": p.ref.copy(), "step": n}


def _same(a: dict, b: dict, engines, what: str = "") -> None:
    """Spikes identical; weights and traces bitwise if only EXACT engines took part (else
    1e-12); neuron state bitwise between numba and reference only."""
    exact = all(e in EXACT for e in engines)
    exact_state = all(e in ("numba", "reference") for e in engines)
    assert a["step"] == b["step"]
    for k, ((ta, ia), (tb, ib)) in enumerate(zip(a["spikes"], b["spikes"])):
        np.testing.assert_array_equal(tb, ta, err_msg=f"{what}: spike steps, monitor {k}")
        np.testing.assert_array_equal(ib, ia, err_msg=f"{what}: spiking neurons, monitor {k}")
    np.testing.assert_array_equal(b["ref"], a["ref"], err_msg=f"{what}: refractory counters")

    def close(x, y, bitwise, name):
        if bitwise:
            np.testing.assert_array_equal(y, x, err_msg=f"{what}: {name}")
        else:
            scale = max(float(np.abs(x).max(initial=0.0)), 1e-300)
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12 * scale,
                                       err_msg=f"{what}: {name}")
    for k, (x, y) in enumerate(zip(a["w"], b["w"])):
        close(x, y, exact, f"weights of projection {k}")
    for k, (x, y) in enumerate(zip(a["traces"], b["traces"])):
        close(x, y, exact, f"trace block {k}")
    close(a["st"], b["st"], exact_state, "neuron state")
    for k, (x, y) in enumerate(zip(a["v"], b["v"])):
        close(x, y, exact_state, f"v of population {k}")


def _switched_everywhere(build, first: str, second: str, points) -> None:
    straight = _run(build, [(first, K)])
    for k in points:
        _same(straight, _run(build, [(first, k), (second, K - k)]), (first, second),
              f"{first} for {k} steps, then {second}")


def _ordered_pairs(engines):
    return [(a, b) for a in engines for b in engines if a != b]


# brian2 <-> cuda only in the slow run (each of them is checked against numba and reference)
SIX_PAIRS = [(a, b) for a, b in _ordered_pairs(ALL) if {a, b} & {"numba", "reference"}]


# --- the 6-pair protocol -----------------------------------------------------------------------

@pytest.mark.parametrize("delays,timing", [("several", "arrival"), ("one", "arrival"),
                                           ("several", "emission")],
                         ids=["several-delays", "one-delay", "emission"])
@pytest.mark.parametrize("first,second", SIX_PAIRS, ids=[f"{a}-{b}" for a, b in SIX_PAIRS])
def test_six_pairs_keep_their_potentiation_across_the_switch(first, second, delays, timing):
    """Every pair's dw is the pair window's a_plus exp(-lag / tau_plus) (1.8e-3 to 2.6e-3),
    switching at step 20; before the fix numba <-> reference gave dw = 0 to the
    pairs whose arrival came shortly before the switch or whose spike was in flight."""
    build = _pairs(delays, timing)
    out = _run(build, [(first, 20), (second, K - 20)])
    np.testing.assert_array_equal(out["spikes"][0][0], np.sort([p for _, _, p in PAIRS]))
    dw = out["w"][0] - W0
    np.testing.assert_allclose(dw, _expected_pairs(delays, timing), rtol=1e-9, atol=0)
    assert dw.min() > 1.5e-3


# --- numba <-> reference at every step boundary ----------------------------------------------

@pytest.mark.skipif(len(CPU) < 2, reason="needs the numba and reference engines")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_numba_reference_switch_at_every_step(variant):
    build = VARIANTS[variant]
    numba, ref = _run(build, [("numba", K)]), _run(build, [("reference", K)])
    _same(numba, ref, CPU, "straight runs")          # one arithmetic: bitwise
    assert sum(t.size for t, _ in numba["spikes"]) >= 6
    assert all(np.abs(w - w0).max() > 0 for w, w0 in
               zip(numba["w"], _run(build, [("numba", 0)])["w"]))   # plasticity did act
    for first, second in _ordered_pairs(CPU):
        _switched_everywhere(build, first, second, range(1, K))


@pytest.mark.skipif(len(CPU) < 2, reason="needs the numba and reference engines")
def test_alternating_engines_every_step():
    """numba, reference, numba, ... one step each: every boundary is a switch."""
    for variant in ("pairs-several-delays", "pairs-one-delay", "poisson-triplet-mult"):
        build = VARIANTS[variant]
        straight = _run(build, [("numba", K)])
        for start in range(2):
            schedule = [(CPU[(n + start) % 2], 1) for n in range(K)]
            _same(straight, _run(build, schedule), CPU, f"{variant}, alternating from {start}")


@pytest.mark.skipif(len(CPU) < 2, reason="needs the numba and reference engines")
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["numba", "reference"]), st.integers(0, 9),
                          st.booleans()), min_size=1, max_size=8),
       st.sampled_from(["pairs-one-delay", "poisson-pair", "poisson-pair-one-delay",
                        "poisson-triplet-mult"]))
def test_random_schedules_equal_numba_alone(schedule, variant):
    """Random schedules of engines, run lengths (0 to 9 steps) and plasticity switched off or
    back on between runs (a switch-on clears the traces, and only spikes emitted from then on
    take part): the same schedule on numba alone gives bitwise the same spikes, weights and
    traces."""
    build = VARIANTS[variant]

    def run(engines):
        net, h = build()
        spikes = []
        for (_, n, plastic), engine in zip(schedule, engines):
            for pr in h["proj"]:
                pr.plastic = plastic
            res = net.run(n * DT, engine=engine)
            spikes.append([np.rint(res[m].times / DT) for m in h["spikes"]])
        return ([pr.get_weights("sparse")[2] for pr in h["proj"]], _plan_state(net.compile()),
                spikes)

    w_a, s_a, sp_a = run(["numba"] * len(schedule))
    w_b, s_b, sp_b = run([e for e, _, _ in schedule])
    for x, y in zip(sp_a, sp_b):
        for tx, ty in zip(x, y):
            np.testing.assert_array_equal(ty, tx)
    for x, y in zip(w_a, w_b):
        np.testing.assert_array_equal(y, x)
    for x, y in zip(s_a["traces"], s_b["traces"]):
        np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(s_b["st"], s_a["st"])


@pytest.mark.skipif(len(CPU) < 2, reason="needs the numba and reference engines")
@pytest.mark.parametrize("delays", ["several", "one"])
def test_plastic_projection_without_synapses(delays):
    """A plastic projection that drew no synapse beside one that did: the plan's traces of
    both (one delay: the traces seen through it, which no spike reaches without a synapse)
    stay those of a straight run when the engines alternate."""
    def build():
        net = sn.Network(dt=DT, seed=1)
        inp = net.add(sn.PoissonInput(5, rate=400 * Hz), name="inp")
        post = net.add(sn.LIF(3, tau_m=10 * ms, v_rest=-65 * mV, v_th=-60 * mV,
                              synapses=sn.Current(tau_e=2 * ms, tau_i=2 * ms)), name="post")
        delay = sn.Uniform(0.5 * ms, 2 * ms) if delays == "several" else 1 * ms
        rule = _pair_rule()
        projs = [net.connect(inp, post, sn.FixedProbability(p), weight=6 * mV, delay=delay,
                             plasticity=rule) for p in (0.0, 1.0)]
        assert projs[0].n_synapses == 0
        return net, {"spikes": [net.record_spikes(post)], "proj": projs, "pops": [post]}
    straight = _run(build, [("numba", 20)])
    assert straight["spikes"][0][0].size > 0
    _same(straight, _run(build, [(CPU[n % 2], 5) for n in range(4)]), CPU, "alternating")
    _same(straight, _run(build, [(CPU[(n + 1) % 2], 5) for n in range(4)]), CPU, "alternating")


# --- brian2 and cuda ---------------------------------------------------------------------------

FEW = (3, 13, 22)    # after the first arrivals; arrivals/spikes in flight across the switch


@needs_brian2
@pytest.mark.brian2
@pytest.mark.parametrize("variant,points", [("pairs-one-delay", FEW[1:]),
                                            ("poisson-triplet-mult", FEW[1:2])])
def test_brian2_switch_points(variant, points):
    """brian2 <-> numba (reference <-> brian2: the 6-pair test, and the slow run)."""
    build = VARIANTS[variant]
    for first, second in (("numba", "brian2"), ("brian2", "numba")):
        _switched_everywhere(build, first, second, points)


@needs_cuda
@pytest.mark.parametrize("variant", ["pairs-several-delays", "pairs-one-delay",
                                     "sources-triplet"])
def test_cuda_switch_points(variant):
    build = (_random(_triplet_rule(), poisson=False) if variant == "sources-triplet"
             else VARIANTS[variant])
    for first, second in _ordered_pairs(CPU + ["cuda"]):
        if "cuda" in (first, second):
            _switched_everywhere(build, first, second, FEW[::2])


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS) + ["sources-triplet"])
def test_every_engine_pair_switch_at_every_step(variant):
    """The exhaustive version of the two tests above (minutes: brian2 builds its network for
    every run)."""
    build = (_random(_triplet_rule(), poisson=False) if variant == "sources-triplet"
             else VARIANTS[variant])
    engines = [e for e in ALL if e != "cuda" or not variant.startswith("poisson")]
    for first, second in _ordered_pairs(engines):
        _switched_everywhere(build, first, second, range(1, K))
