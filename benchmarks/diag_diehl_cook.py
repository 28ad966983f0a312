"""Diagnostics of long Diehl & Cook training runs on MNIST (see RESULTS.md, "Full MNIST").

    python benchmarks/diag_diehl_cook.py [--n-train 6000] [--n-exc 100] [--rest-mode reset]
                                         [--timing arrival|emission] [--burst-after 2000]
                                         [--data DIR]

Trains STDPClassifier on the first --n-train images of a seeded permutation of the MNIST
training set and prints one JSON line: presentations (intensity retries included), mean
theta (mV), the running training accuracy every 1,000 images, the share of each neuron's
weight sum on pixels lit in fewer than 5 % of images, the mean input drive (mean image x
weights), and, over the 500 images after --burst-after, spikes per presentation, distinct
neurons per presentation and the fraction of spikes that follow a spike of the same neuron
within 40 ms (what the rule's potentiation term post2_before needs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from _common import emit  # noqa: E402
from snnsim.learning import datasets  # noqa: E402
from snnsim.learning.classifier import STDPClassifier  # noqa: E402


def weight_stats(clf, x: np.ndarray) -> dict:
    w = clf.weights_                                   # (784, n_exc)
    lit = (x > 0).mean(axis=0)
    share = w[lit < 0.05].sum(axis=0) / w.sum(axis=0)
    return {"rare_pixel_weight_share_median": float(np.median(share)),
            "mean_drive_median": float(np.median(x.mean(axis=0) @ w)),
            "frac_weights_above_0_9_wmax": float(np.mean(w > 0.9))}


def burst_stats(clf, x: np.ndarray, y: np.ndarray) -> dict:
    dc = clf.network_
    rows = []
    orig = dc._run

    def run(duration):
        res = orig(duration)
        if duration != dc.params.present:     # the rest period of rest_mode="simulate"
            return res
        tr = res[dc.spikes_exc]
        t, i = np.asarray(tr.times), np.asarray(tr.indices)
        close = sum(int(np.sum(np.diff(np.sort(t[i == j])) < 0.040)) for j in np.unique(i))
        rows.append((t.size, close, np.unique(i).size))
        return res

    dc._run = run
    try:
        clf.partial_fit(x, y)
    finally:
        dc._run = orig
    a = np.array(rows, dtype=float)
    return {"burst_presentations": int(len(a)), "spikes_per_presentation": float(a[:, 0].mean()),
            "distinct_neurons_per_presentation": float(a[:, 2].mean()),
            "frac_spikes_within_40ms_of_previous": float(a[:, 1].sum() / max(a[:, 0].sum(), 1))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=6000)
    ap.add_argument("--n-exc", type=int, default=100)
    ap.add_argument("--rest-mode", default="reset", choices=["reset", "simulate"])
    ap.add_argument("--timing", default=None, choices=["arrival", "emission"])
    ap.add_argument("--burst-after", type=int, default=2000,
                    help="measure spike pairs over the 500 images after this many (0: skip)")
    ap.add_argument("--data", default=os.environ.get("SNNSIM_DATA", "../shared/data"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = datasets.load_mnist(args.data)
    idx = np.random.default_rng(args.seed).permutation(len(ds.y_train))
    x = ds.x_train.reshape(len(ds.y_train), -1)[idx].astype(float)
    y = ds.y_train[idx]
    mp = {"timing": args.timing} if args.timing else None
    clf = STDPClassifier(n_exc=args.n_exc, rest_mode=args.rest_mode, seed=args.seed, n_jobs=1,
                         model_params=mp)
    t0 = time.perf_counter()
    rec = {"benchmark": "diehl_cook_diag", "n_exc": args.n_exc, "rest_mode": args.rest_mode,
           "timing": args.timing or "model file"}
    if args.burst_after and args.burst_after < args.n_train:
        clf.fit(x[:args.burst_after], y[:args.burst_after])
        rec.update(burst_stats(clf, x[args.burst_after:args.burst_after + 500],
                               y[args.burst_after:args.burst_after + 500]))
        done = args.burst_after + 500
        if done < args.n_train:
            clf.partial_fit(x[done:args.n_train], y[done:args.n_train])
    else:
        clf.fit(x[:args.n_train], y[:args.n_train])
    dc = clf.network_
    rec.update(n_train=args.n_train, presentations=int(dc.n_presentations),
               theta_mean_mv=float(np.mean(dc.exc.get_state("theta")) * 1e3),
               training_curve=[(int(n), round(float(a), 3)) for n, a in clf.training_curve_[::4]],
               wall_s=time.perf_counter() - t0, **weight_stats(clf, x[:10000]))
    emit(rec)


if __name__ == "__main__":
    main()
