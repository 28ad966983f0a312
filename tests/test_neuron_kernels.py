"""Neuron models own their maths: lowering against closed forms, the generated numba loop and
its disk cache (a second process loads it; a changed step function compiles afresh)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import snnsim
from snnsim.engines import _codegen, _numba_gen
from snnsim.errors import UnsupportedModelError
from snnsim.units import mV, ms

from test_param_bounds import _k_exact  # the 80-digit propagator

DT = 0.1 * ms


@pytest.mark.parametrize("dt", [0.05 * ms, 0.1 * ms, 1 * ms])
def test_lif_lowering_matches_closed_forms(dt):
    cur = snnsim.LIF(3, tau_m=20 * ms, v_rest=-49 * mV, v_reset=-60 * mV, v_th=-50 * mV,
                     t_ref=5 * ms, synapses=snnsim.Current(tau_e=5 * ms, tau_i=10 * ms))
    low = cur.lower(dt)
    assert low["pm"] == pytest.approx(math.exp(-dt / (20 * ms)), rel=1e-15)
    assert low["pe"] == pytest.approx(math.exp(-dt / (5 * ms)), rel=1e-15)
    assert low["pi"] == pytest.approx(math.exp(-dt / (10 * ms)), rel=1e-15)
    assert low["ke"] == pytest.approx(_k_exact(5 * ms, 20 * ms, dt), rel=1e-13)
    assert low["ki"] == pytest.approx(_k_exact(10 * ms, 20 * ms, dt), rel=1e-13)
    assert low["ref_steps"] == round(5 * ms / dt)
    assert (low["v_rest"], low["v_reset"], low["v_th"]) == (-49 * mV, -60 * mV, -50 * mV)
    assert low["p_theta"] == 1.0 and low["theta_plus"] == 0.0

    cond = snnsim.AdaptiveLIF(2, tau_m=100 * ms, theta_plus=0.05 * mV, tau_theta=1e4 * ms,
                              synapses=snnsim.Conductance(tau_e=1 * ms, tau_i=2 * ms,
                                                          e_e=0 * mV, e_i=-100 * mV))
    low = cond.lower(dt)
    # the mean of exp(-t/tau) over one step
    for key, tau in (("ce", 1 * ms), ("ci", 2 * ms)):
        mean = tau / dt * (1 - math.exp(-dt / tau))
        assert low[key] == pytest.approx(mean, rel=1e-14)
    assert low["dttau"] == pytest.approx(dt / (100 * ms), rel=1e-15)
    assert low["p_theta"] == pytest.approx(math.exp(-dt / (1e4 * ms)), rel=1e-15)
    assert low["theta_plus"] == 0.05 * mV
    assert (low["e_e"], low["e_i"]) == (0.0, -100 * mV)


def test_bias_lowers_to_a_scalar_or_a_per_neuron_array():
    model = snnsim.LIF(3, r_m=100e6, i_bias=np.array([0.0, 1e-10, 2e-10]))
    low = model.lower(DT)
    np.testing.assert_array_equal(low["bias"], np.array([0.0, 1e-10, 2e-10]) * 100e6)
    assert snnsim.LIF(3, r_m=100e6, i_bias=1e-10).lower(DT)["bias"] == pytest.approx(1e-2)


def _variants(net):
    plan = net.compile()
    return _numba_gen.variants_of(plan)


def test_one_variant_per_distinct_model_and_per_neuron_parameters():
    net = snnsim.Network(dt=DT, seed=1)
    a = net.add(snnsim.LIF(4), "a")
    net.add(snnsim.LIF(5, tau_m=10 * ms), "b")            # same kernel, other values
    net.add(snnsim.LIF(3, r_m=1e8, i_bias=np.ones(3) * 1e-11), "c")  # per-neuron bias
    net.add(snnsim.PoissonInput(2, rate=5.0), "in")
    net.add(snnsim.AdaptiveLIF(2, synapses=snnsim.Conductance()), "d")
    variants, pvar = _variants(net)
    names = [(v.kernel.name, v.per_neuron) for v in variants]
    assert sorted(names) == sorted([("LIF/Current", ()), ("LIF/Current", ("bias",)),
                                    ("AdaptiveLIF/Conductance", ())])
    assert pvar[0] == pvar[1] and pvar[0] != pvar[2] and pvar[3] == -1
    assert a.index == 0


def test_generated_source_holds_the_models_step_functions():
    net = snnsim.Network(dt=DT)
    net.add(snnsim.AdaptiveLIF(2, synapses=snnsim.Conductance()), "d")
    variants, _ = _variants(net)
    src = _numba_gen.source(variants)
    compile(src, "<generated>", "exec")  # valid Python
    # the model's own expression, copied, with vexp bound to the engine's vectorisable one
    assert "vinf + (v - vinf) * " in src and "from snnsim.engines._fastmath import vexp" in src
    # one update loop per variant and thread mode, no hand-written LIF loop left in the engine
    assert src.count("def _update0(") == 1 and src.count("def _update0_par(") == 1
    kernels = (Path(_numba_gen.__file__).parent / "_numba_kernels.py").read_text()
    assert "(v - vinf)" not in kernels and "vexp(" not in kernels


def test_copy_functions_refuses_what_cannot_be_compiled():
    table = [1.0, 2.0]

    def uses_list(v, p):
        return v * table[0]

    with pytest.raises(UnsupportedModelError, match=r"model 'X'.*uses_list.*'table'"):
        _codegen.copy_functions({"f": uses_list}, "model 'X'")
    with pytest.raises(UnsupportedModelError, match="lambda"):
        _codegen.copy_functions({"f": lambda v, p: v}, "model 'X'")
    with pytest.raises(UnsupportedModelError, match="plain Python function"):
        _codegen.copy_functions({"f": print}, "model 'X'")


_SCRIPT = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np, snnsim
    from snnsim.units import ms, mV
    import usermodel
    net = snnsim.Network(dt=0.1 * ms, seed=3)
    pop = net.add(usermodel.Leaky(20), "p")
    pop.set_state(v=np.linspace(-70e-3, -40e-3, 20))
    mon = net.record_spikes(pop)
    net.run(0.0)
    res = net.run(20 * ms)
    from snnsim.engines import _numba_gen
    mods = [m for n, m in sys.modules.items() if n.startswith("snnsim_kernels_numba_")]
    stats = mods[0].run_loop.stats
    print(json.dumps({"spikes": int(res[mon].counts().sum()), "v": pop.get_state("v").tolist(),
                      "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}))
''')

_MODEL = textwrap.dedent('''
    import snnsim
    from snnsim._params import params
    from snnsim.neurons.lif import lif_reset, lif_threshold

    def update(v, i_e, i_i, p):
        vinf = p.v_rest + p.bias
        return vinf + (v - vinf) * p.pm + i_e * p.ke + i_i * p.ki {EXTRA}, i_e * p.pe, i_i * p.pi

    @params
    class Leaky(snnsim.LIF):
        def kernel(self):
            k = super().kernel()
            return snnsim.neurons.NeuronKernel("Leaky", k.state, k.params, update,
                                               lif_threshold, lif_reset)
''')


def _run_user(tmp_path, extra: str) -> dict:
    (tmp_path / "usermodel.py").write_text(_MODEL.replace("{EXTRA}", extra))
    (tmp_path / "run.py").write_text(_SCRIPT)
    # a fresh kernel cache; the engine's shared phases stay in Numba's usual cache (they are
    # not what this test is about, and compiling them again would take most of its time)
    env = dict(os.environ, SNNSIM_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_generated_kernel_is_cached_across_processes_and_invalidated_by_a_change(tmp_path):
    first = _run_user(tmp_path, "")
    second = _run_user(tmp_path, "")
    assert first["misses"] >= 1 and first["hits"] == 0        # compiled in the first process
    assert second["hits"] >= 1 and second["misses"] == 0      # loaded in the second
    assert second["v"] == first["v"] and second["spikes"] == first["spikes"]
    # a change in the user's step function (in another file) must not load the old kernel
    changed = _run_user(tmp_path, "+ 1e-3")
    assert changed["misses"] >= 1
    assert changed["v"] != first["v"]
    n_files = len(list((tmp_path / "cache" / "kernels").glob("numba_*.py")))
    assert n_files == 2


def test_engines_without_compiled_models_refuse_a_user_step(tmp_path):
    sys.path.insert(0, str(tmp_path))
    try:
        (tmp_path / "usermodel2.py").write_text(_MODEL.replace("{EXTRA}", ""))
        import usermodel2
        net = snnsim.Network(dt=DT)
        net.add(usermodel2.Leaky(3), "mine")
        with pytest.raises(UnsupportedModelError,
                           match=r"engine 'reference' cannot run neuron model 'Leaky'.*'mine'"):
            net.run(1 * ms, engine="reference")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("usermodel2", None)


def test_helpers_of_the_same_name_from_two_models_stay_apart():
    """Two models whose step functions call different helpers that share a name."""
    src = "def helper(x):\n    return x * {k}\n\ndef update(v, i_e, i_i, p):\n    return helper(v), i_e, i_i\n"
    import importlib.util
    import tempfile
    out = []
    with tempfile.TemporaryDirectory() as d:
        for name, k in (("mod_a", 2.0), ("mod_b", 3.0)):
            path = Path(d) / f"{name}.py"
            path.write_text(src.format(k=k))
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            out.append(_codegen.copy_functions({f"_upd{len(out)}": mod.update}, name,
                                               prefix=f"n{len(out)}"))
    text = "\n".join(out[0][1] + out[1][1])
    assert "x * 2.0" in text and "x * 3.0" in text
    helpers = [line.split("(")[0][4:] for line in text.splitlines() if line.startswith("def _n")]
    assert len(helpers) == 2 and len(set(helpers)) == 2, helpers
