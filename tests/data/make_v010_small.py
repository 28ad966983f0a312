"""Writes tests/data/v010_small.h5 with snnsim 0.1.0 (commit b8be68c): a small network and
its result, for tests/test_io_v010.py's check that files of 0.1 still load.  Run it with 0.1.0
on the path:

    git worktree add --detach /tmp/wt010 b8be68c
    PYTHONPATH=/tmp/wt010 python tests/data/make_v010_small.py tests/data/v010_small.h5
"""
import sys
import numpy as np
import snnsim as sn
from snnsim import io
from snnsim.units import ms, mV, Hz
assert sn.__version__ == "0.1.0", sn.__file__

def build():
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
    m = net.record_spikes(exc)
    return net, m

net, m = build()
res = net.run(50 * ms)
io.save(sys.argv[1], net, res)
print(int(res[m].counts().sum()), "spikes")
