"""A file written by snnsim 0.1.0 still loads: ``tests/data/v010_small.h5`` was written by
commit b8be68c (0.1.0) with the network of ``_build`` below after a 50 ms run
(``tests/data/make_v010_small.py``, which holds the same network code).  Loaded with
today's code, it must hold bitwise the state and weights that today's code produces for the
same network and seed, and continue bitwise as that network does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import snnsim as sn
from snnsim import io
from snnsim.units import Hz, ms, mV

FILE = Path(__file__).parent / "data" / "v010_small.h5"


def _build():
    """The network the 0.1.0 file holds (same code as its maker)."""
    net = sn.Network(dt=0.1 * ms, seed=7)
    inp = net.add(sn.PoissonInput(30, rate=40 * Hz), "inp")
    exc = net.add(sn.AdaptiveLIF(8, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-52 * mV, theta_plus=0.5 * mV, tau_theta=200 * ms,
                                 synapses=sn.Conductance(tau_e=2 * ms, tau_i=5 * ms)), "exc")
    inh = net.add(sn.LIF(4, tau_m=10 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-50 * mV,
                         synapses=sn.Current()), "inh")
    net.connect(inp, exc, sn.FixedProbability(0.5), weight=sn.Uniform(0.0, 0.3),
                delay=sn.Uniform(1 * ms, 3 * ms), plasticity=sn.PairSTDP(w_max=0.3), name="ff")
    net.connect(exc, inh, sn.AllToAll(), weight=4 * mV, delay=1 * ms, name="ei")
    net.connect(inh, exc, sn.AllToAll(), weight=2.0, delay=1 * ms, receptor="inh", name="ie")
    return net


def _state(net):
    out = {"t": net.t}
    for pop in net.populations:
        for v in pop.variables:
            out[f"{pop.name}.{v}"] = pop.get_state(v)
    for pr in net.projections:
        out[pr.name] = pr.get_weights("sparse")[2]
    return out


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_a_file_of_010_loads_with_the_state_of_todays_run():
    loaded, result = io.load(FILE)
    fresh = _build()
    fresh.run(50 * ms)
    assert [p.name for p in loaded.populations] == ["inp", "exc", "inh"]
    assert loaded.populations[1].model == fresh.populations[1].model
    _same(_state(loaded), _state(fresh))
    assert result is not None and result.n_steps == 500
    # and both go on identically (spikes in flight, traces and random streams included)
    ma, mb = loaded.record_spikes(loaded["exc"]), fresh.record_spikes(fresh["exc"])
    ra, rb = loaded.run(30 * ms), fresh.run(30 * ms)
    np.testing.assert_array_equal(ra[ma].times, rb[mb].times)
    _same(_state(loaded), _state(fresh))
    assert not np.array_equal(_state(loaded)["ff"], _build().projections[0].get_weights("sparse")[2])
