"""Vogels & Abbott (2005) / Brette et al. (2007) benchmark 2, COBA: python models/vogels_abbott2005_coba.py [--n N] ...

Prints, as its last line, one JSON object: model, engine, n_neurons, duration_s, rate_hz,
wall_s (simulation only) and build_s.
"""

import argparse
import json
import time

from snnsim.models import vogels_abbott2005_coba


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="number of neurons (default 4000)")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds (default 1)")
    ap.add_argument("--engine", default="numba", help="engine name (default numba)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="numba threads")
    args = ap.parse_args()
    t0 = time.perf_counter()
    net, h = vogels_abbott2005_coba(args.n, seed=args.seed)
    net.compile()
    build = time.perf_counter() - t0
    opts = {"threads": args.threads} if args.threads else {}
    t0 = time.perf_counter()
    res = net.run(args.duration, engine=args.engine, **opts)
    wall = time.perf_counter() - t0
    spikes = len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])
    print(json.dumps({"model": "vogels_abbott2005_coba", "engine": args.engine, "n_neurons": args.n,
                      "n_synapses": net.compile().n_synapses, "duration_s": args.duration,
                      "spikes": spikes, "rate_hz": spikes / (args.n * args.duration),
                      "wall_s": wall, "build_s": build, "seed": args.seed}))


if __name__ == "__main__":
    main()
