"""CUBA and COBA (Brette et al. 2007) at several sizes: snnsim beside Brian2, one JSON line each.

    python benchmarks/bench_networks.py [--sizes 4000 16000 64000] [--duration 1]
                                        [--threads 1 2] [--brian2 cython cpp_standalone]

Keys: benchmark, engine, threads, n_neurons, n_synapses, duration_s, wall_per_sim_s
(simulation loop only), jit_s (first run's compilation, empty Numba cache), start_s (the
same with the cache warm), spikes, rate_hz.  Above 4000 neurons each neuron keeps 80
synapses (p = 80 / n).  The Brian2 columns run the same networks written directly in
Brian2 (benchmarks/_brian2_native.py) in this same invocation, when Brian2 is importable.
``--engine brian2`` adds the snnsim network itself run by snnsim's ``brian2`` engine
(engine names ``snnsim-brian2-cython`` and ``snnsim-brian2-cpp_standalone``): the same
objects, translated; wall_per_sim_s is the whole ``net.run`` for cython (its code compiled by
a first one-step run, jit_s) and the compiled program's own loop time for cpp_standalone
(jit_s: everything else of that run, mostly compilation).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, start_times, timed  # noqa: E402

from snnsim import reference_networks  # noqa: E402

BUILDERS = {"cuba": "brette2007_cuba", "coba": "vogels_abbott2005_coba"}


def snnsim_run(kind: str, n: int, duration: float, threads: int, seed: int) -> dict:
    net, h = getattr(reference_networks, BUILDERS[kind])(n, seed=seed)
    plan = net.compile()
    net.run(net.dt, threads=threads)               # kernels loaded, first step done
    res, wall = timed(net.run, duration, threads=threads)
    spikes = len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])
    return {"benchmark": kind, "engine": "snnsim-numba", "threads": threads, "n_neurons": n,
            "n_synapses": plan.n_synapses, "duration_s": duration,
            "wall_per_sim_s": wall / duration, "spikes": spikes,
            "rate_hz": spikes / (n * duration), "seed": seed}


def snnsim_brian2_run(kind: str, n: int, duration: float, target: str, seed: int) -> dict:
    import time
    net, h = getattr(reference_networks, BUILDERS[kind])(n, seed=seed)
    plan = net.compile()
    if target == "cpp_standalone":
        t0 = time.perf_counter()
        res = net.run(duration, engine="brian2", target=target)
        total = time.perf_counter() - t0
        wall = net._sim.last_run_s
        jit = total - wall
    else:
        t0 = time.perf_counter()
        net.run(net.dt, engine="brian2", target=target)
        jit = time.perf_counter() - t0
        res, wall = timed(net.run, duration, engine="brian2", target=target)
    spikes = len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])
    return {"benchmark": kind, "engine": f"snnsim-brian2-{target}", "threads": 1,
            "n_neurons": n, "n_synapses": plan.n_synapses, "duration_s": duration,
            "wall_per_sim_s": wall / duration, "jit_s": jit, "spikes": spikes,
            "rate_hz": spikes / (n * duration), "seed": seed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 16000, 64000])
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--kinds", nargs="+", default=["cuba", "coba"], choices=list(BUILDERS))
    ap.add_argument("--brian2", nargs="*", default=["cython", "cpp_standalone"],
                    help="Brian2 targets to run too (needs Brian2; empty list: none)")
    ap.add_argument("--engine", nargs="*", default=["numba"], choices=["numba", "brian2"],
                    help="snnsim engines to time (brian2: targets from --brian2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    have_brian2 = importlib.util.find_spec("brian2") is not None
    for kind in args.kinds:
        for n in args.sizes:
            if "numba" in args.engine:
                jit, start = start_times(BUILDERS[kind], n)
                for threads in args.threads:
                    rec = snnsim_run(kind, n, args.duration, threads, args.seed)
                    rec.update(jit_s=jit, start_s=start)
                    emit(rec)
            if "brian2" in args.engine and have_brian2:
                for target in args.brian2:
                    emit(snnsim_brian2_run(kind, n, args.duration, target, args.seed))
            if have_brian2:
                import _brian2_native as b2n
                for target in args.brian2:
                    r = getattr(b2n, kind)(n=n, duration=args.duration, target=target, seed=args.seed)
                    r["engine"] = f"brian2-{target}"
                    r["threads"] = 1
                    r["jit_s"] = r.get("compile_s")
                    emit(r)


if __name__ == "__main__":
    main()
