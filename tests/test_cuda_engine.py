"""The ``cuda`` engine: on a GPU when one is present, else on Numba's CUDA simulator.

Without a GPU this module switches numba-cuda to its simulator (``NUMBA_ENABLE_CUDASIM=1``
while ``numba.cuda`` and the engine's kernels are first imported, then the variable is
restored so that no other test or subprocess sees it).  The simulator runs every device
thread as a Python thread, so the networks here are small and short.

What is shown: the LIF mathematics (analytic subthreshold trajectory, closed-form rate,
delays, refractoriness, adaptive threshold) on the cuda engine; identical spikes and state
to float tolerance against the ``numba`` engine for deterministic input; STDP weights within
1e-5 relative of ``numba`` for every rule, timing and delay structure; host changes between
runs; batched inference equal to separate runs; the missing-GPU error; and that importing
snnsim does not import numba-cuda.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import snnsim as sn
from snnsim.units import Hz, Mohm, mV, ms, nA

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lif as lif_tests  # noqa: E402  (the engine-parametrised LIF tests, reused)
import test_reference_engine as ref_tests  # noqa: E402

HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None


def _driver_present() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def _prepare() -> str | None:
    """Import numba.cuda (on the simulator when there is no GPU driver); None if it works,
    else the reason to skip."""
    if not HAVE_NUMBA_CUDA:
        return "numba-cuda is not installed (pip install \"snnsim[cuda]\")"
    if "numba.cuda" not in sys.modules and "NUMBA_ENABLE_CUDASIM" not in os.environ \
            and not _driver_present():
        from numba.core import config
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        try:
            config.reload_config()
            import numba.cuda  # noqa: F401  (the simulator, from now on in this process)
            from snnsim.engines import cuda as cuda_engine
            cuda_engine._kernels()          # the kernels are decorated for the simulator
        finally:
            del os.environ["NUMBA_ENABLE_CUDASIM"]
            config.reload_config()
    from snnsim.engines.cuda import _cuda
    try:
        _cuda()
    except sn.EngineUnavailableError as exc:
        return str(exc)
    return None


SKIP = _prepare()
needs_cuda = pytest.mark.skipif(SKIP is not None, reason=str(SKIP))
CUDA = "cuda"


def _steps(times, dt):
    return np.rint(np.asarray(times) / dt).astype(np.int64)


# --- importing and availability ------------------------------------------------------------------

def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=300)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def test_import_snnsim_does_not_import_numba_cuda():
    out = _python("""
        import sys
        import snnsim as sn
        sn.available_engines()
        sn.get_engine("cuda")          # the engine module itself imports no numba-cuda
        bad = sorted(m for m in sys.modules if m.startswith(("numba.cuda", "numba_cuda")))
        print("IMPORTED", bad)
        """, _clean_env())
    assert out.returncode == 0, out.stderr
    assert "IMPORTED []" in out.stdout


@pytest.mark.skipif(_driver_present(), reason="a CUDA driver is present")
def test_missing_gpu_raises_engine_unavailable_with_simulator_hint():
    out = _python("""
        import snnsim as sn
        net = sn.Network(seed=0)
        net.add(sn.LIF(2))
        try:
            net.run(1e-3, engine="cuda")
        except sn.EngineUnavailableError as exc:
            print("ERROR", exc)
        """, _clean_env())
    assert out.returncode == 0, out.stderr
    assert "ERROR" in out.stdout
    if HAVE_NUMBA_CUDA:
        assert "no CUDA GPU" in out.stdout and "NUMBA_ENABLE_CUDASIM=1" in out.stdout
    else:
        assert 'pip install "snnsim[cuda]"' in out.stdout


@needs_cuda
def test_unknown_option_is_rejected():
    net = sn.Network(dt=0.1 * ms, seed=0)
    net.add(sn.LIF(1))
    with pytest.raises(sn.ParameterError, match="threads_per_block"):
        net.run(1 * ms, engine=CUDA, threads_per_blok=8)
    with pytest.raises(sn.ParameterError, match="multiple of team"):
        net.run(1 * ms, engine=CUDA, threads_per_block=6, team=4)


_PTX_CODE = """
import sys
try:
    from cuda.pathfinder import load_nvidia_dynamic_lib
    for lib in ("nvvm", "nvrtc"):
        load_nvidia_dynamic_lib(lib)
except Exception as exc:      # no libNVVM / NVRTC: nothing to check here
    print("NO-TOOLKIT", exc)
    sys.exit(3)
from numba import cuda, types
import numba.cuda.dispatcher as dispatcher

class _Device:                    # device functions ask the current device for its cc
    compute_capability = (9, 0)

dispatcher.get_current_device = lambda: _Device()
from numba.cuda.random import xoroshiro128p_type
from snnsim.engines import _cuda_kernels as K

i64, f64, i32, u8 = types.int64, types.float64, types.int32, types.uint8
A = lambda t, nd: types.Array(t, nd, "C")
sig = ((i64,) * 17 + (A(i64, 1), A(i64, 2), A(f64, 2), A(f64, 2), A(i32, 1), A(i64, 1),
       A(xoroshiro128p_type, 1)) + (A(i64, 1),) * 5 + (A(i32, 2), A(i32, 2), A(i64, 2), A(f64, 2),
       A(i64, 1), A(i64, 1), A(i32, 1), A(i32, 1), A(i32, 1), A(f64, 1), A(i64, 1), A(i64, 1),
       A(f64, 2), A(f64, 2), A(f64, 2), A(f64, 1), A(f64, 1), A(f64, 1), A(u8, 1), A(i32, 1),
       A(i32, 1)) + (A(i64, 1),) * 5 + (A(f64, 1), A(i64, 1), A(i64, 2), A(i32, 1), A(i32, 1),
       A(i64, 1)))
cuda.compile_ptx(K.step_kernel.py_func, sig, cc=(9, 0))
cuda.compile_ptx(K.init_states.py_func, (A(xoroshiro128p_type, 1), types.uint64), cc=(9, 0))
cuda.compile_ptx(K.normalize_kernel.py_func, (A(f64, 1), A(i64, 1), A(i64, 1), i64, i64, f64),
                 cc=(9, 0))
print("COMPILED")
"""


@pytest.mark.skipif(not HAVE_NUMBA_CUDA, reason="numba-cuda is not installed")
def test_kernels_compile_to_ptx_for_sm90():
    """The simulator does not type the kernels; NVVM does (no GPU needed, but libNVVM and
    NVRTC: pip install "cuda-toolkit[nvvm,nvrtc]==13.*").  Signature: the types cuda.py
    passes."""
    out = _python(_PTX_CODE, _clean_env())
    if out.returncode == 3:
        pytest.skip("CUDA compiler libraries not found: " + out.stdout.strip()[:200])
    assert out.returncode == 0 and "COMPILED" in out.stdout, out.stderr[-3000:]


# --- the LIF mathematics on the cuda engine ------------------------------------------------------

@needs_cuda
def test_subthreshold_trajectory_is_analytic():
    lif_tests.test_subthreshold_trajectory_is_analytic(CUDA)


@needs_cuda
def test_equal_time_constants_use_the_limit_propagator():
    lif_tests.test_equal_time_constants_use_the_limit_propagator(CUDA)


@needs_cuda
@pytest.mark.parametrize("synapses", [sn.Current(), sn.Conductance()], ids=["current", "conductance"])
def test_constant_current_rate_matches_closed_form(synapses):
    dt = 0.1 * ms
    currents = np.array([0.25, 0.4, 1.0]) * nA
    net = sn.Network(dt=dt, seed=0)
    pop = net.add(sn.LIF(currents.size, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-65 * mV,
                         v_th=-50 * mV, t_ref=2 * ms, r_m=100 * Mohm, i_bias=currents,
                         synapses=synapses))
    pop.set_initial(v=-65 * mV)
    spikes = net.record_spikes(pop)
    trains = net.run(200 * ms, engine=CUDA)[spikes].trains()
    for k, i in enumerate(currents):
        isi = lif_tests._closed_form_isi(100 * Mohm * i, 20 * ms, -70 * mV, -65 * mV, -50 * mV,
                                         2 * ms)
        isis = np.diff(trains[k])
        assert isis.size >= 3
        # the discrete-time interval is the closed-form one rounded up to a whole step
        assert np.all(isis >= isi - 1e-12) and np.all(isis <= isi + dt + 1e-12)


@needs_cuda
@pytest.mark.parametrize("delay_ms", [0.1, 2.5, 7.0])
def test_spike_arrives_exactly_delay_later(delay_ms):
    lif_tests.test_spike_arrives_exactly_delay_later(CUDA, delay_ms)


@needs_cuda
def test_heterogeneous_delays_each_synapse_its_own():
    lif_tests.test_heterogeneous_delays_each_synapse_its_own(CUDA)


@needs_cuda
def test_refractory_neurons_do_not_integrate():
    lif_tests.test_refractory_neurons_do_not_integrate(CUDA)


@needs_cuda
def test_adaptive_threshold_grows_decays_and_freezes():
    lif_tests.test_adaptive_threshold_grows_decays_and_freezes(CUDA)


@needs_cuda
def test_spike_source_emits_exactly_its_spikes_and_replays_after_reset():
    dt = 0.1 * ms
    rng = np.random.default_rng(0)
    steps = rng.choice(300, size=80, replace=False)
    idx = rng.integers(0, 5, size=80)
    net = sn.Network(dt=dt, seed=0)
    src = net.add(sn.SpikeSource(5, times=steps * dt, indices=idx))
    spikes = net.record_spikes(src)
    res = net.run(30 * ms, engine=CUDA)
    got = sorted(zip(_steps(res[spikes].times, dt).tolist(), res[spikes].indices.tolist()))
    assert got == sorted(zip(steps.tolist(), idx.tolist()))
    net.reset_state()
    assert len(net.run(30 * ms, engine=CUDA)[spikes]) == 80


@needs_cuda
def test_poisson_rate_and_interval_statistics():
    dt = 0.5 * ms
    n, rate, n_steps = 60, 40 * Hz, 1000
    net = sn.Network(dt=dt, seed=3)
    inp = net.add(sn.PoissonInput(n, rate=rate))
    spikes = net.record_spikes(inp)
    st = net.run(n_steps * dt, engine=CUDA)[spikes]
    p = rate * dt
    mean, sd = n * n_steps * p, np.sqrt(n * n_steps * p * (1 - p))
    assert abs(len(st) - mean) < 4 * sd
    isis = np.concatenate([np.diff(t) for t in st.trains()]) / dt
    m, s = 1 / p, np.sqrt(1 - p) / p
    assert abs(isis.mean() - m) < 4 * s / np.sqrt(isis.size)
    # set_rates takes effect at the next run
    inp.set_rates(0.0)
    assert len(net.run(20 * ms, engine=CUDA)[spikes]) == 0
    inp.set_rates(np.where(np.arange(n) < n // 2, 0.0, 80 * Hz))
    st = net.run(200 * ms, engine=CUDA)[spikes]
    assert len(st) > 0 and st.indices.min() >= n // 2


# --- agreement with the numba engine -------------------------------------------------------------

def _trains(rng, n, rate, n_steps, dt):
    steps, idx = np.nonzero(rng.random((n_steps, n)) < rate * dt)
    return steps * dt, idx


def _recurrent(conductance: bool, seed: int = 4):
    """SpikeSource(30) -> exc(30, adaptive, per-neuron bias) <-> inh(8), delays 0.1-3 ms."""
    def build():
        dt = 0.1 * ms
        net = sn.Network(dt=dt, seed=seed)
        t, i = _trains(np.random.default_rng(seed), 30, 60 * Hz, 1000, dt)
        src = net.add(sn.SpikeSource(30, times=t, indices=i), name="src")
        if conductance:
            syn = sn.Conductance(tau_e=5 * ms, tau_i=10 * ms, e_e=0 * mV, e_i=-80 * mV)
            w_in, w_ee, w_ei, w_ie = sn.Uniform(0.1, 0.4), 0.05, 0.15, 0.3
        else:
            syn = sn.Current(tau_e=5 * ms, tau_i=10 * ms)
            w_in, w_ee, w_ei, w_ie = sn.Uniform(2 * mV, 6 * mV), 1.0 * mV, 8 * mV, -3 * mV
        exc = net.add(sn.AdaptiveLIF(30, tau_m=20 * ms, v_rest=-60 * mV, v_reset=-65 * mV,
                                     v_th=-50 * mV, t_ref=2 * ms, theta_plus=0.5 * mV,
                                     tau_theta=50 * ms, r_m=100 * Mohm,
                                     i_bias=np.linspace(0, 0.05, 30) * nA, synapses=syn),
                      name="exc")
        inh = net.add(sn.LIF(8, tau_m=10 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-50 * mV,
                             t_ref=1 * ms, synapses=syn), name="inh")
        exc.set_initial(v=sn.Uniform(-65 * mV, -50 * mV))
        net.connect(src, exc, sn.FixedProbability(0.3), weight=w_in,
                    delay=sn.Uniform(0.1 * ms, 3 * ms))
        net.connect(exc, exc, sn.FixedProbability(0.2), weight=w_ee,
                    delay=sn.Uniform(1 * ms, 3 * ms))
        net.connect(exc, inh, sn.FixedProbability(0.4), weight=w_ei)
        net.connect(inh, exc, sn.FixedProbability(0.5), weight=w_ie, receptor="inh",
                    delay=sn.Uniform(0.5 * ms, 2 * ms))
        ch = ("g_e", "g_i") if conductance else ("i_e", "i_i")
        h = {"spikes": [net.record_spikes(p) for p in (src, exc, inh)],
             "state": [net.record_state(exc, ["v", *ch, "theta"], [0, 1, 2, 29]),
                       net.record_state(inh, "v", range(8), every=0.3 * ms)],
             "rate": [net.population_rate(exc), net.population_rate(inh)],
             "pops": [exc, inh]}
        return net, h
    return build


def _compare(build, steps, between=None, w_rtol=1e-5):
    a = ref_tests._run(build, "numba", steps, between)
    b = ref_tests._run(build, CUDA, steps, between)
    for r, (x, y) in enumerate(zip(a, b)):
        for k, ((tx, ix), (ty, iy)) in enumerate(zip(x["spikes"], y["spikes"])):
            np.testing.assert_array_equal(ty, tx, err_msg=f"run {r}, spike monitor {k}: steps")
            np.testing.assert_array_equal(iy, ix, err_msg=f"run {r}, spike monitor {k}: neurons")
        for k, (sx, sy) in enumerate(zip(x["state"], y["state"])):
            for var in sx:
                scale = max(np.abs(sx[var]).max(initial=0.0), 1e-300)
                np.testing.assert_allclose(sy[var], sx[var], rtol=1e-12, atol=1e-12 * scale,
                                           err_msg=f"run {r}, state monitor {k}, {var}")
        for k, (cx, cy) in enumerate(zip(x["rate"], y["rate"])):
            np.testing.assert_array_equal(cy, cx)
        for k, (wx, wy) in enumerate(zip(x["w"], y["w"])):
            np.testing.assert_allclose(wy, wx, rtol=w_rtol, atol=1e-12,
                                       err_msg=f"run {r}, weights of projection {k}")
        for k, (vx, vy) in enumerate(zip(x["v"], y["v"])):
            np.testing.assert_allclose(vy, vx, rtol=1e-12, atol=0)
    return a


def _n(snaps, monitor: int) -> int:
    return sum(s["spikes"][monitor][0].size for s in snaps)


@needs_cuda
@pytest.mark.parametrize("conductance", [False, True], ids=["current", "conductance"])
def test_recurrent_network_same_spikes_as_numba_for_100_ms(conductance):
    snaps = _compare(_recurrent(conductance), [1000])
    assert _n(snaps, 0) > 150      # input spikes
    assert _n(snaps, 1) > 40       # exc
    assert _n(snaps, 2) > 10       # inh


@needs_cuda
def test_runs_in_pieces_with_host_changes_agree_with_numba():
    """State stays on the device between runs; host changes are pushed before the next run
    and device state pulled before the host reads it."""
    def between(r, net, h):
        exc, inh = h["pops"]
        if r == 1:
            exc.set_state(v=-55 * mV)
        if r == 2:
            proj = net.projections[2]
            proj.set_weights(proj.get_weights("sparse")[2] * 1.5)
            exc.theta_frozen = True
        if r == 3:
            net.reset_state(keep=("theta",))
    _compare(_recurrent(True), [200, 1, 150, 120], between)


@needs_cuda
def test_engines_can_be_switched_mid_simulation():
    """numba, then cuda, then numba again equals numba throughout (spikes in flight, traces
    and their history travel in the plan)."""
    build = _plastic(RULES["triplet-all"], "arrival", True)
    net_a, ha = build()
    net_b, hb = build()
    ra = [net_a.run(k * net_a.dt, engine=e) for k, e in ((90, "numba"), (70, CUDA), (80, "numba"))]
    rb = net_b.run(240 * net_b.dt, engine="numba")
    for m in range(2):
        t = np.concatenate([r[ha["spikes"][m]].times for r in ra])
        np.testing.assert_allclose(t, rb[hb["spikes"][m]].times, atol=1e-12)
    wa = ha["proj"][0].get_weights("sparse")[2]
    wb = hb["proj"][0].get_weights("sparse")[2]
    np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-12)
    assert np.abs(wb - _initial_weights(build)).mean() > 1e-3


@needs_cuda
def test_progress_bar_run_is_identical():
    build = _recurrent(False)
    net_a, ha = build()
    net_b, hb = build()
    # 40 steps, one launch per step (tqdm warns for durations whose float sum of chunks
    # exceeds the total, e.g. 60 steps: a network.py issue, avoided here)
    ra = net_a.run(4 * ms, engine=CUDA, progress=True)
    rb = net_b.run(4 * ms, engine=CUDA)
    for m in ha["spikes"]:
        np.testing.assert_array_equal(ra[m].times, rb[m].times)
    np.testing.assert_allclose(ra[ha["state"][0]]["v"], rb[hb["state"][0]]["v"], rtol=1e-12)


# --- plasticity ----------------------------------------------------------------------------------

_AMPLITUDES = ("a_plus", "a_minus", "a2_plus", "a3_plus", "a2_minus", "a3_minus", "nu_pre",
               "nu_post")


def _gentle(rule, factor: float = 0.25):
    """``rule`` with its amplitudes scaled: the taught neurons fire often, and the weights
    should move without all reaching a bound."""
    return rule.replace(**{k: getattr(rule, k) * factor for k in _AMPLITUDES if hasattr(rule, k)})


RULES = {name: _gentle(rule, 0.05 if name.startswith("triplet-all") else 0.25)
         for name, rule in ref_tests.RULES.items()}


def _plastic(rule, timing: str, het: bool, seed: int = 8, recurrent: bool = False,
             normalization=None):
    """SpikeSource(16) -> LIF(3), taught to fire by a teacher source; plastic synapses with
    one delay (1.5 ms) or several (0.5-5 ms).  With ``recurrent``, the LIF layer is also
    connected to itself by a plastic projection."""
    def build():
        dt = 0.5 * ms
        rng = np.random.default_rng(seed)
        net = sn.Network(dt=dt, seed=seed)
        t_pre, i_pre = _trains(rng, 16, 40 * Hz, 300, dt)
        t_tch, i_tch = _trains(rng, 3, 40 * Hz, 300, dt)
        pre = net.add(sn.SpikeSource(16, times=t_pre, indices=i_pre), name="pre")
        teacher = net.add(sn.SpikeSource(3, times=t_tch, indices=i_tch), name="teacher")
        post = net.add(sn.LIF(3, tau_m=10 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                              v_th=-55 * mV, t_ref=0 * ms,
                              synapses=sn.Current(tau_e=0.5 * ms, tau_i=0.5 * ms)), name="post")
        net.connect(teacher, post, sn.OneToOne(), weight=20.0)
        r = rule.replace(timing=timing)
        proj = net.connect(pre, post, sn.AllToAll(), weight=sn.Uniform(0.05, 0.25),
                           delay=sn.Uniform(0.5 * ms, 5 * ms) if het else 1.5 * ms, plasticity=r,
                           normalization=normalization)
        projs = [proj]
        if recurrent:
            projs.append(net.connect(post, post, sn.AllToAll(allow_self=False),
                                     weight=sn.Uniform(0.05, 0.25),
                                     delay=sn.Uniform(0.5 * ms, 2 * ms) if het else 1 * ms,
                                     plasticity=r))
        h = {"spikes": [net.record_spikes(pre), net.record_spikes(post)], "proj": projs}
        return net, h
    return build


def _initial_weights(build) -> np.ndarray:
    net, h = build()
    return h["proj"][0].get_weights("sparse")[2]


@needs_cuda
@pytest.mark.parametrize("delays", ["one", "het"])
@pytest.mark.parametrize("timing", ["arrival", "emission"])
@pytest.mark.parametrize("rule", list(RULES))
def test_stdp_weights_agree_with_numba(rule, timing, delays):
    build = _plastic(RULES[rule], timing, delays == "het")
    snaps = _compare(build, [300])
    assert _n(snaps, 1) > 30                      # the teacher made the post neurons fire
    w, w0 = snaps[0]["w"][0], _initial_weights(build)
    assert np.abs(w - w0).mean() > 1e-3           # plasticity had something to do
    assert np.mean((w > 0) & (w < 0.3)) > 0.3     # ... and not everything sits at a bound


@needs_cuda
@pytest.mark.parametrize("timing", ["arrival", "emission"])
def test_recurrent_plastic_projection_agrees_with_numba(timing):
    """Pre and post the same population: presynaptic side first, then postsynaptic."""
    build = _plastic(RULES["triplet-nearest"], timing, True, recurrent=True)
    snaps = _compare(build, [300])
    assert np.abs(snaps[0]["w"][1] - build()[1]["proj"][1].get_weights("sparse")[2]).mean() > 1e-4


@needs_cuda
def test_switching_plasticity_gain_and_normalisation_between_runs_agree_with_numba():
    build = _plastic(RULES["diehl-cook"], "arrival", True,
                     normalization=sn.WeightNormalization(target_sum=2.0, every=10 * ms))

    def between(r, net, h):
        proj = h["proj"][0]
        if r == 1:
            proj.plastic = False
        if r == 2:
            proj.plastic = True
            proj.plasticity_gain = np.array([1.0, 0.0, 2.0])
        if r == 3:
            net.normalize_weights(proj, 1.5)
    snaps = _compare(build, [100, 60, 100, 40], between)
    w2, w3 = snaps[1]["w"][0], snaps[2]["w"][0]
    pre, post, _ = build()[1]["proj"][0].get_weights("sparse")
    # gain 0 froze neuron 1's learning: only normalisation scaled its column, uniformly
    ratio = w3 / w2
    np.testing.assert_allclose(ratio[post == 1], ratio[post == 1][0], rtol=1e-12)
    assert np.ptp(ratio[post == 0]) > 1e-3 and np.ptp(ratio[post == 2]) > 1e-3


@needs_cuda
@pytest.mark.parametrize("timing", ["arrival", "emission"])
def test_pair_window_by_hand(timing):
    ref_tests.test_pair_window(CUDA, timing)


@needs_cuda
@pytest.mark.parametrize("delays", [(3, 3), (3, 4)], ids=["one-delay", "two-delays"])
def test_spike_emitted_while_off_arriving_after_switch_on(delays):
    ref_tests.test_spike_emitted_while_off_arriving_after_switch_on(CUDA, delays)


@needs_cuda
def test_normalisation_paused_while_plasticity_off_and_static_projection_normalised():
    ref_tests.test_normalization_paused_while_plasticity_off(CUDA)
    ref_tests.test_normalization_of_static_projection(CUDA)


@needs_cuda
def test_device_side_normalisation_equals_host_normalisation():
    build = _plastic(RULES["pair-all-add"], "arrival", True)
    net_a, ha = build()
    net_b, hb = build()
    for net in (net_a, net_b):
        net.run(20 * ms, engine=CUDA)
    net_a._sim.normalize_weights(ha["proj"][0].index, 1.7)
    net_b.normalize_weights(hb["proj"][0], 1.7)
    wa = ha["proj"][0].get_weights("sparse")[2]
    np.testing.assert_allclose(wa, hb["proj"][0].get_weights("sparse")[2], rtol=1e-12)
    _, post, _ = ha["proj"][0].get_weights("sparse")
    np.testing.assert_allclose(np.bincount(post, wa), 1.7, rtol=1e-12)


# --- batched inference ---------------------------------------------------------------------------

def _classifier_like(seed: int = 1, source_times=((), ())):
    """Input SpikeSource(12) -> adaptive conductance exc(6) <-> inh(6) (soft winner-take-all)."""
    dt = 0.5 * ms
    net = sn.Network(dt=dt, seed=seed)
    inp = net.add(sn.SpikeSource(12, times=source_times[0], indices=source_times[1]), name="inp")
    exc = net.add(sn.AdaptiveLIF(6, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-52 * mV, t_ref=2 * ms, theta_plus=0.2 * mV,
                                 tau_theta=100 * ms, synapses=sn.Conductance()), name="exc")
    inh = net.add(sn.LIF(6, tau_m=10 * ms, v_rest=-60 * mV, v_reset=-45 * mV, v_th=-40 * mV,
                         synapses=sn.Conductance(e_i=-85 * mV)), name="inh")
    net.connect(inp, exc, sn.AllToAll(), weight=sn.Uniform(0.0, 0.6),
                delay=sn.Uniform(0 * ms, 4 * ms), plasticity=sn.DiehlCookSTDP(w_max=1.0))
    net.connect(exc, inh, sn.OneToOne(), weight=10.0)
    net.connect(inh, exc, sn.AllToAll(allow_self=False), weight=2.0, receptor="inh")
    return net, inp, exc, inh


@needs_cuda
def test_batched_inference_equals_separate_runs():
    rng = np.random.default_rng(5)
    B, n_steps = 3, 200
    inputs = [_trains(rng, 12, (40 + 40 * b) * Hz, n_steps, 0.5 * ms) for b in range(B)]
    net, inp, exc, inh = _classifier_like()
    v0 = exc.get_state("v")
    from snnsim.engines.cuda import run_batched
    counts, spikes = run_batched(net, inputs, n_steps * net.dt, input=inp,
                                                 count=[exc, inh], return_spikes=True)
    assert net.t == 0.0 and np.array_equal(exc.get_state("v"), v0)   # the network is untouched
    assert counts[0].shape == (B, 6) and counts[1].shape == (B, 6)
    for engine in ("numba", CUDA):
        for b in range(B):
            one, _, e1, i1 = _classifier_like(source_times=inputs[b])
            one.projections[0].plastic = False      # batched copies share frozen weights
            s_e, s_i = one.record_spikes(e1), one.record_spikes(i1)
            res = one.run(n_steps * one.dt, engine=engine)
            for k, (pop_counts, mon) in enumerate(((counts[0], s_e), (counts[1], s_i))):
                np.testing.assert_array_equal(pop_counts[b], res[mon].counts())
                t, i = spikes[b][k]
                np.testing.assert_allclose(t, res[mon].times, atol=1e-12)
                np.testing.assert_array_equal(i, res[mon].indices)
    assert counts[0].sum() > 20 and len({tuple(c) for c in counts[0]}) > 1


@needs_cuda
def test_batched_poisson_rates_give_independent_copies_at_their_rates():
    dt = 0.5 * ms
    net = sn.Network(dt=dt, seed=2)
    inp = net.add(sn.PoissonInput(30, rate=0.0), name="inp")
    exc = net.add(sn.LIF(4, tau_m=10 * ms, v_rest=-65 * mV, v_reset=-65 * mV, v_th=-55 * mV,
                         synapses=sn.Conductance()), name="exc")
    net.connect(inp, exc, sn.AllToAll(), weight=0.1, delay=1 * ms)
    rates = np.array([0.0, 50.0, 50.0, 150.0])[:, None] * np.ones(30) * Hz
    n_steps = 400
    from snnsim.engines.cuda import run_batched
    c_in, c_exc = run_batched(net, rates, n_steps * dt, count=["inp", "exc"])
    assert c_in[0].sum() == 0 and c_exc[0].sum() == 0
    for b in (1, 2, 3):
        p = rates[b, 0] * dt
        mean, sd = 30 * n_steps * p, np.sqrt(30 * n_steps * p * (1 - p))
        assert abs(c_in[b].sum() - mean) < 4 * sd
    assert not np.array_equal(c_in[1], c_in[2])     # same rates, independent streams
    assert c_exc[3].sum() > c_exc[1].sum() > 0


@needs_cuda
def test_batched_input_errors():
    net, inp, exc, inh = _classifier_like()
    from snnsim.engines.cuda import run_batched
    with pytest.raises(sn.NetworkError, match="PoissonInput"):
        run_batched(net, np.zeros((2, 12)), 1 * ms, input=inp)
    with pytest.raises(sn.ParameterError, match="two spikes"):
        run_batched(net, [([0.0, 0.0001], [3, 3])], 1 * ms)
    with pytest.raises(sn.ParameterError, match="indices"):
        run_batched(net, [([0.0], [12])], 1 * ms)


# --- the benchmark script --------------------------------------------------------------------------

@needs_cuda
def test_gpu_benchmark_script_runs_in_smoke_mode():
    import json
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks",
                          "bench_gpu.py")
    out = subprocess.run([sys.executable, script, "--smoke"], capture_output=True, text=True,
                         env=_clean_env(), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    kinds = {r["benchmark"] for r in records}
    assert kinds == {"overhead", "cuba", "coba", "song_load", "diehl_cook_train",
                     "diehl_cook_infer", "diehl_cook_infer_batched"}
    assert all(r["device"] for r in records)
