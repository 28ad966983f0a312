"""Ready-made reference networks from the literature, as builder functions.

Each builder returns ``(network, handles)`` where ``handles`` is a dict of the populations,
projections and recorders a script or test needs.  The command-line scripts in the
repository's ``models/`` folder call these builders.

References
----------
Brette, R. et al. (2007) Simulation of networks of spiking neurons: a review of tools and
strategies. J Comput Neurosci 23:349-398 (benchmarks 1 and 2).
Vogels, T. P. & Abbott, L. F. (2005) Signal propagation and logic gating in networks of
integrate-and-fire neurons. J Neurosci 25:10786-10795.
Song, S., Miller, K. D. & Abbott, L. F. (2000) Competitive Hebbian learning through
spike-timing-dependent synaptic plasticity. Nat Neurosci 3:919-926.
"""

from __future__ import annotations

from .connectivity import AllToAll, FixedProbability
from .distributions import Normal, Uniform
from .inputs import PoissonInput
from .network import Network
from .neurons import LIF
from .plasticity import PairSTDP
from .synapses import Conductance, Current
from .units import Hz, mV, ms, nS, pF

__all__ = ["brette2007_cuba", "vogels_abbott2005_coba", "song_miller_abbott2000"]


def _balanced_network(net: Network, model: LIF, n: int, syn_per_neuron: int, w_e: float,
                      w_i: float, record: bool) -> dict:
    n_e = int(round(0.8 * n))
    exc = net.add(model.replace(n=n_e), name="exc")
    inh = net.add(model.replace(n=n - n_e), name="inh")
    p = min(1.0, syn_per_neuron / n)
    h = {"exc": exc, "inh": inh}
    for src, w, rec in ((exc, w_e, "exc"), (inh, w_i, "inh")):
        for dst in (exc, inh):
            h[f"{src.name}->{dst.name}"] = net.connect(src, dst, FixedProbability(p), weight=w,
                                                      receptor=rec)
    for pop in (exc, inh):
        pop.set_initial(v=Uniform(model.v_reset, model.v_th))
    if record:
        h["spikes_exc"] = net.record_spikes(exc)
        h["spikes_inh"] = net.record_spikes(inh)
    return h


def brette2007_cuba(n: int = 4000, *, dt: float = 0.1 * ms, seed: int = 0,
                    syn_per_neuron: int = 80, record: bool = True) -> tuple[Network, dict]:
    """Brette et al. (2007) benchmark 1: current-based (CUBA) balanced network.

    80 % excitatory, 20 % inhibitory LIF neurons (tau_m 20 ms, E_L -49 mV, V_th -50 mV,
    V_reset -60 mV, refractory 5 ms), exponential currents (tau_e 5 ms, tau_i 10 ms),
    weights 1.62 mV and -9 mV, connection probability ``syn_per_neuron / n`` (0.02 at 4000),
    initial V uniform in [V_reset, V_th], one-step delays.  About 5.5 Hz in Brian2.
    """
    net = Network(dt=dt, seed=seed)
    model = LIF(1, tau_m=20 * ms, v_rest=-49 * mV, v_reset=-60 * mV, v_th=-50 * mV, t_ref=5 * ms,
                synapses=Current(tau_e=5 * ms, tau_i=10 * ms))
    return net, _balanced_network(net, model, n, syn_per_neuron, 1.62 * mV, -9 * mV, record)


def vogels_abbott2005_coba(n: int = 4000, *, dt: float = 0.1 * ms, seed: int = 0,
                           syn_per_neuron: int = 80, record: bool = True) -> tuple[Network, dict]:
    """Brette et al. (2007) benchmark 2 (Vogels & Abbott 2005): conductance-based (COBA).

    E_L -60 mV, g_L 10 nS, C 200 pF (tau_m 20 ms), V_th -50 mV, V_reset -60 mV,
    refractory 5 ms; E_e 0 mV, E_i -80 mV, tau_e 5 ms, tau_i 10 ms; conductance jumps 6 nS
    and 67 nS (0.6 and 6.7 in units of g_L).  Initial V uniform in [V_reset, V_th], g_e ~
    N(4, 1.5) and g_i ~ N(20, 12) in units of g_L, not clipped, as in the benchmark code:
    the few neurons that start with a negative (depolarising) g_i fire at once and ignite
    the self-sustained activity (clipped at 0, the network falls silent).  About 18-20 Hz
    in Brian2.
    """
    net = Network(dt=dt, seed=seed)
    g_l = 10 * nS
    model = LIF(1, tau_m=20 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-50 * mV, t_ref=5 * ms,
                c_m=200 * pF, synapses=Conductance(tau_e=5 * ms, tau_i=10 * ms, e_e=0 * mV,
                                                   e_i=-80 * mV))
    h = _balanced_network(net, model, n, syn_per_neuron, 6 * nS / g_l, 67 * nS / g_l, record)
    for pop in (h["exc"], h["inh"]):
        pop.set_initial(g_e=Normal(4.0, 1.5), g_i=Normal(20.0, 12.0), allow_negative=True)
    return net, h


def song_miller_abbott2000(n_inputs: int = 1000, n_post: int = 1, *, dt: float = 0.1 * ms,
                           seed: int = 0, rate: float = 15 * Hz, record: bool = True
                           ) -> tuple[Network, dict]:
    """Song, Miller & Abbott (2000): Poisson inputs onto a conductance LIF with additive STDP.

    ``n_inputs`` Poisson inputs at ``rate`` drive ``n_post`` neurons (tau_m 10 ms, E_L -74 mV,
    V_th -54 mV, V_reset -60 mV, E_e 0 mV, tau_e 5 ms) through all-to-all plastic synapses
    with g_max 0.01 (units of the leak), initial weights uniform in [0, g_max], additive
    pair STDP with tau_plus = tau_minus = 20 ms, a_plus = 0.01 g_max, a_minus = 1.05 a_plus.
    After 100 s the weights are bimodal (Brian2: ~23 % below 0.1 g_max, ~18 % above 0.9).
    """
    net = Network(dt=dt, seed=seed)
    g_max = 0.01
    inp = net.add(PoissonInput(n_inputs, rate=rate), name="input")
    post = net.add(LIF(n_post, tau_m=10 * ms, v_rest=-74 * mV, v_reset=-60 * mV, v_th=-54 * mV,
                       t_ref=0 * ms, synapses=Conductance(tau_e=5 * ms, tau_i=5 * ms, e_e=0 * mV,
                                                          e_i=-70 * mV)), name="post")
    a_plus = 0.01 * g_max
    rule = PairSTDP(a_plus=a_plus, a_minus=1.05 * a_plus, tau_plus=20 * ms, tau_minus=20 * ms,
                    w_min=0.0, w_max=g_max)
    proj = net.connect(inp, post, AllToAll(), weight=Uniform(0.0, g_max), receptor="exc",
                       plasticity=rule)
    h = {"input": inp, "post": post, "proj": proj, "g_max": g_max}
    if record:
        h["spikes"] = net.record_spikes(post)
    return net, h


def balanced_network_script(builder_name: str, argv: list[str] | None = None) -> dict:
    """Command line of ``models/brette2007_cuba.py`` and ``models/vogels_abbott2005_coba.py``:
    build, run, print (as the last line) and return one JSON object with model, engine,
    n_neurons, n_synapses, duration_s, spikes, rate_hz, wall_s (simulation only), build_s."""
    import argparse
    import json
    import time

    builder = globals()[builder_name]
    ap = argparse.ArgumentParser(description=(builder.__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="number of neurons (default 4000)")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds (default 1)")
    ap.add_argument("--engine", default="numba", help="engine name (default numba)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="numba threads")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    net, h = builder(args.n, seed=args.seed)
    plan = net.compile()
    build = time.perf_counter() - t0
    opts = {"threads": args.threads} if args.threads else {}
    net.run(0.0, engine=args.engine, **opts)   # compile or load the kernels first
    t0 = time.perf_counter()
    res = net.run(args.duration, engine=args.engine, **opts)
    wall = time.perf_counter() - t0
    spikes = len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])
    rec = {"model": builder_name, "engine": args.engine, "n_neurons": args.n,
           "n_synapses": plan.n_synapses, "duration_s": args.duration, "spikes": spikes,
           "rate_hz": spikes / (args.n * args.duration), "wall_s": wall, "build_s": build,
           "seed": args.seed}
    print(json.dumps(rec))
    return rec
