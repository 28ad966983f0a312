"""Full MNIST with the Diehl & Cook network: 60,000 training and 10,000 test images.

    python benchmarks/run_mnist_full.py --n-exc 400 [--epochs 1] [--data DIR] [--out DIR]

Trains STDPClassifier (original parameters; rest_mode as given) on the official training
set, labels the neurons with the training set (frozen), tests on the 10,000 test images, and
prints one JSON line with the three readouts' accuracies beside the paper's figures (Diehl &
Cook 2015, Table 1: 82.9 % for 100 neurons, 87.0 % for 400).  Checkpoints in --out, so an
interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit  # noqa: E402

import numpy as np  # noqa: E402

from snnsim.learning import datasets  # noqa: E402
from snnsim.learning.classifier import STDPClassifier  # noqa: E402

PAPER = {100: 0.829, 400: 0.870, 1600: 0.919, 6400: 0.950}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-exc", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--data", default=os.environ.get("SNNSIM_DATA", "../shared/data"))
    ap.add_argument("--rest-mode", default="reset", choices=["simulate", "reset"])
    ap.add_argument("--n-label", type=int, default=10000,
                    help="label neurons with the last N training examples")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/mnist_full")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = datasets.load_mnist(args.data)
    out = os.path.join(args.out, f"n{args.n_exc}_e{args.epochs}")
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    clf = STDPClassifier(n_exc=args.n_exc, epochs=args.epochs, rest_mode=args.rest_mode,
                         n_label=args.n_label, n_jobs=args.jobs, seed=args.seed,
                         checkpoint_dir=os.path.join(out, "checkpoint"), checkpoint_every=5000)
    clf.fit(ds.x_train, ds.y_train)
    preds = clf.predict_all(ds.x_test)
    acc = {k: float(np.mean(v == ds.y_test)) for k, v in preds.items()}
    rec = {"benchmark": "mnist_full", "engine": "snnsim-numba", "n_exc": args.n_exc,
           "epochs": args.epochs, "n_train": int(ds.y_train.size), "n_test": int(ds.y_test.size),
           "n_label": args.n_label, "rest_mode": args.rest_mode,
           "accuracy_voting": acc["voting"], "accuracy_proportion": acc["proportion"],
           "accuracy_linear": acc["linear"], "paper_accuracy": PAPER.get(args.n_exc),
           "seconds_per_train_image": clf.seconds_per_train_image_,
           "seconds_per_test_image": clf.stats_["seconds_per_test_image"],
           "wall_s": time.perf_counter() - t0, "seed": args.seed}
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(rec, f, indent=2)
    emit(rec)


if __name__ == "__main__":
    main()
