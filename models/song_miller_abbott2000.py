"""Song, Miller & Abbott (2000): additive STDP makes the weights bimodal.

    python models/song_miller_abbott2000.py [--duration SECONDS] [--n-inputs N] [--n-post N]
                                            [--engine NAME] [--seed S]

1000 Poisson inputs at 15 Hz drive one conductance-based LIF neuron through plastic synapses
(g_max 0.01 in units of the leak).  Prints, as its last line, one JSON object with model,
engine, duration_s, frac_below_0_1 and frac_above_0_9 (fractions of weights below 0.1 g_max
and above 0.9 g_max at the end), rate_hz (output rate over the whole run), final_rate_hz (the
last 10 % of the run) and wall_s (simulation only).
"""

import argparse
import json
import time

import numpy as np

from snnsim.reference_networks import song_miller_abbott2000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=100.0, help="simulated seconds (default 100)")
    ap.add_argument("--n-inputs", type=int, default=1000)
    ap.add_argument("--n-post", type=int, default=1, help="postsynaptic neurons (load variant: 100)")
    ap.add_argument("--engine", default="numba")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    net, h = song_miller_abbott2000(args.n_inputs, args.n_post, seed=args.seed)
    net.compile()
    net.run(0.0, engine=args.engine)
    t0 = time.perf_counter()
    res = net.run(args.duration, engine=args.engine)
    wall = time.perf_counter() - t0
    w = h["proj"].get_weights("sparse")[2] / h["g_max"]
    st = res[h["spikes"]]
    tail = st.times > 0.9 * args.duration
    print(json.dumps({
        "model": "song_miller_abbott2000", "engine": args.engine, "duration_s": args.duration,
        "n_inputs": args.n_inputs, "n_post": args.n_post, "n_synapses": int(w.size),
        "frac_below_0_1": float(np.mean(w < 0.1)), "frac_above_0_9": float(np.mean(w > 0.9)),
        "rate_hz": len(st) / (args.n_post * args.duration),
        "final_rate_hz": int(tail.sum()) / (args.n_post * 0.1 * args.duration),
        "wall_s": wall, "seed": args.seed}))


if __name__ == "__main__":
    main()
