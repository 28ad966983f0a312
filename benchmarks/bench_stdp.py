"""STDP benchmarks: Song, Miller & Abbott (2000) and its load variant, snnsim beside Brian2.

    python benchmarks/bench_stdp.py [--duration 100] [--load-duration 10] [--brian2 cython cpp_standalone]

One JSON line per measurement: benchmark ("song" = 1000 Poisson inputs -> 1 neuron, 100 s;
"song_load" = 1000 inputs -> 100 neurons, 100,000 plastic synapses), engine, n_synapses,
duration_s, wall_s (simulation loop), wall_per_sim_s, jit_s / start_s (snnsim: first
one-step run with an empty / warm Numba cache), rate_hz, frac_below_0_1, frac_above_0_9.
Brian2 lines come from the same network written in Brian2 (benchmarks/_brian2_native.py),
in the same invocation, when Brian2 is importable; ``--engine brian2`` adds the snnsim
network itself run by snnsim's brian2 engine (``snnsim-brian2-<target>``; cpp_standalone:
the compiled program's loop time, jit_s the rest of that run).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, timed  # noqa: E402

from snnsim.reference_networks import song_miller_abbott2000  # noqa: E402

_START = """
import time, sys
t0 = time.perf_counter()
from snnsim.reference_networks import song_miller_abbott2000
net, h = song_miller_abbott2000(1000, int(sys.argv[1]))
net.compile()
t1 = time.perf_counter()
net.run(net.dt)
print(t1 - t0, time.perf_counter() - t1)
"""


def _start_times(n_post: int) -> tuple[float, float]:
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = [float(subprocess.run([sys.executable, "-c", _START, str(n_post)], env=env,
                                    capture_output=True, text=True, check=True).stdout.split()[1])
               for _ in range(2)]
    return out[0], out[1]


def snnsim_song(n_post: int, duration: float, seed: int) -> dict:
    net, h = song_miller_abbott2000(1000, n_post, seed=seed)
    net.compile()
    net.run(net.dt)
    res, wall = timed(net.run, duration)
    w = h["proj"].get_weights("sparse")[2] / h["g_max"]
    jit, start = _start_times(n_post)
    return {"benchmark": "song" if n_post == 1 else "song_load", "engine": "snnsim-numba",
            "threads": 1, "n_inputs": 1000, "n_post": n_post, "n_synapses": int(w.size),
            "duration_s": duration, "wall_s": wall, "wall_per_sim_s": wall / duration,
            "jit_s": jit, "start_s": start,
            "rate_hz": len(res[h["spikes"]]) / (n_post * duration),
            "frac_below_0_1": float(np.mean(w < 0.1)), "frac_above_0_9": float(np.mean(w > 0.9)),
            "seed": seed}


def snnsim_brian2_song(n_post: int, duration: float, target: str, seed: int) -> dict:
    """The snnsim Song network run by snnsim's brian2 engine (same synapses as numba)."""
    import time
    net, h = song_miller_abbott2000(1000, n_post, seed=seed)
    net.compile()
    t0 = time.perf_counter()
    if target == "cpp_standalone":
        res = net.run(duration, engine="brian2", target=target)
        wall = net._sim.last_run_s
        jit = time.perf_counter() - t0 - wall
    else:
        net.run(net.dt, engine="brian2", target=target)
        jit = time.perf_counter() - t0
        res, wall = timed(net.run, duration, engine="brian2", target=target)
    w = h["proj"].get_weights("sparse")[2] / h["g_max"]
    return {"benchmark": "song" if n_post == 1 else "song_load",
            "engine": f"snnsim-brian2-{target}", "threads": 1, "n_inputs": 1000,
            "n_post": n_post, "n_synapses": int(w.size), "duration_s": duration,
            "wall_s": wall, "wall_per_sim_s": wall / duration, "jit_s": jit,
            "rate_hz": len(res[h["spikes"]]) / (n_post * duration),
            "frac_below_0_1": float(np.mean(w < 0.1)), "frac_above_0_9": float(np.mean(w > 0.9)),
            "seed": seed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=100.0, help="Song run (s)")
    ap.add_argument("--load-duration", type=float, default=10.0, help="load variant run (s)")
    ap.add_argument("--brian2", nargs="*", default=["cython", "cpp_standalone"])
    ap.add_argument("--engine", nargs="*", default=["numba"], choices=["numba", "brian2"],
                    help="snnsim engines to time (brian2: targets from --brian2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    have_brian2 = importlib.util.find_spec("brian2") is not None
    for n_post, duration in ((1, args.duration), (100, args.load_duration)):
        if "numba" in args.engine:
            emit(snnsim_song(n_post, duration, args.seed))
        if "brian2" in args.engine and have_brian2:
            for target in args.brian2:
                emit(snnsim_brian2_song(n_post, duration, target, args.seed))
        if have_brian2:
            import _brian2_native as b2n
            for target in args.brian2:
                r = b2n.song_miller_abbott(duration=duration, target=target, seed=args.seed,
                                           n_post=n_post)
                r["benchmark"] = "song" if n_post == 1 else "song_load"
                r["engine"] = f"brian2-{target}"
                r["wall_s"] = r["wall_per_sim_s"] * duration
                emit(r)


if __name__ == "__main__":
    main()
