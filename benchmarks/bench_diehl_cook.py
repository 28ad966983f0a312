"""Diehl & Cook (2015) training and inference speed: snnsim beside Brian2, one JSON line each.

    python benchmarks/bench_diehl_cook.py [--sizes 100 400 1600] [--n-images 200]
                                          [--brian2-sizes 100 400] [--brian2-images 10]
                                          [--brian2 cython cpp_standalone]

snnsim (``snnsim.learning.diehl_cook.DiehlCookNetwork``, default ``DiehlCookParams``, numba
engine, one thread) on mnist-mini training images: the network is built and warmed up on
``--warmup`` images (kernel compilation, first presentations), then ``present()`` is timed
over the next ``--n-images`` images, once with ``rest_mode="simulate"`` (the original
protocol: 350 ms with input, 150 ms silent) and once with ``rest_mode="reset"`` (the state
except theta is reset instead of simulating the pause).  With ``learning=True`` this is
training (``benchmark: "diehl_cook_train"``: normalisation, STDP, theta adaptation); then
the same network is frozen (``learning=False``) and ``present()`` is timed again over the
same images (``benchmark: "diehl_cook_infer"``).  ``present()`` shows an image again at a
higher intensity while the layer fires fewer than 5 spikes (the original protocol), so
``presentations_per_image`` is reported and ``seconds_per_presentation`` too.

Keys: benchmark, engine, threads, n_exc, rest_mode, n_images, seconds_per_image (wall
seconds of the ``present()`` calls, per image), seconds_per_presentation,
presentations_per_image, exc_spikes_per_image (excitatory spikes during the last
presentation of each image), build_s (building and compiling the network), warmup_s.

Brian2 (when importable, i.e. run with ``.venv313/bin/python``; see BRIAN2_ENV.md): the
same network written directly in Brian2 (``benchmarks/_brian2_native.py``,
``diehl_cook``), on the first ``--brian2-images`` mnist-mini training images, for every
size in ``--brian2-sizes`` and every target in ``--brian2``.  On ``cython`` both schedules
are measured (``--brian2-cython-schedules``): ``per_image`` (two ``run`` calls per image,
as the authors' code; includes Brian2's per-run preparation) and ``single_run`` (the
whole sequence in one ``run``); ``cpp_standalone`` is always one build and one run.  Each
Brian2 measurement runs in a fresh Python process (``_brian2_native.py dc ...``), so that
Brian2's per-run ``gc.collect()`` does not pay for snnsim's and Numba's objects; compile
times are reported as ``compile_s`` (Brian2's Cython cache makes a second call "warm").
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit  # noqa: E402

import numpy as np  # noqa: E402

from snnsim.learning.datasets import load_mnist_mini  # noqa: E402
from snnsim.learning.diehl_cook import DiehlCookNetwork, DiehlCookParams  # noqa: E402
from snnsim.learning.encoding import intensity_to_rates  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))


def _time_presentations(net: DiehlCookNetwork, rates: np.ndarray) -> tuple[float, int, float]:
    """(wall seconds, presentations, mean exc spikes per image) of ``present`` over ``rates``."""
    n0 = net.n_presentations
    spikes = 0
    t0 = time.perf_counter()
    for r in rates:
        spikes += int(net.present(r).sum())
    wall = time.perf_counter() - t0
    return wall, net.n_presentations - n0, spikes / len(rates)


def snnsim_runs(n_exc: int, rest_mode: str, rates: np.ndarray, n_warmup: int,
                seed: int) -> list[dict]:
    """Training then frozen-inference figures for one size and rest mode."""
    t0 = time.perf_counter()
    net = DiehlCookNetwork(DiehlCookParams(n_exc=n_exc), n_input=rates.shape[1], seed=seed,
                           rest_mode=rest_mode)
    build_s = time.perf_counter() - t0
    warm, timed = rates[:n_warmup], rates[n_warmup:]
    net.learning = True
    t0 = time.perf_counter()
    for r in warm:
        net.present(r)
    warmup_s = time.perf_counter() - t0
    out = []
    for benchmark, learning in (("diehl_cook_train", True), ("diehl_cook_infer", False)):
        net.learning = learning
        wall, presentations, spikes = _time_presentations(net, timed)
        out.append({"benchmark": benchmark, "engine": "snnsim-numba", "threads": 1,
                    "n_exc": n_exc, "rest_mode": rest_mode, "n_images": len(timed),
                    "seconds_per_image": wall / len(timed),
                    "seconds_per_presentation": wall / presentations,
                    "presentations_per_image": presentations / len(timed),
                    "exc_spikes_per_image": spikes, "learning": learning,
                    "build_s": build_s, "warmup_s": warmup_s, "seed": seed})
    return out


def brian2_run(n_exc: int, n_images: int, target: str, schedule: str, seed: int) -> dict:
    """One Brian2 measurement in a fresh process (see the module docstring)."""
    cmd = [sys.executable, os.path.join(_HERE, "_brian2_native.py"), "dc", "--n-exc",
           str(n_exc), "--n-images", str(n_images), "--target", target, "--schedule",
           schedule, "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    record["rest_mode"] = "simulate"
    record["presentations_per_image"] = 1.0
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--n-images", type=int, default=200, help="images timed (snnsim)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up images (snnsim)")
    ap.add_argument("--rest-modes", nargs="+", default=["simulate", "reset"],
                    choices=["simulate", "reset"])
    ap.add_argument("--brian2-sizes", type=int, nargs="*", default=[100, 400])
    ap.add_argument("--brian2-images", type=int, default=10, help="images timed (Brian2)")
    ap.add_argument("--brian2", nargs="*", default=["cython", "cpp_standalone"],
                    choices=["cython", "cpp_standalone"],
                    help="Brian2 targets (needs Brian2; empty list: none)")
    ap.add_argument("--brian2-cython-schedules", nargs="+", default=["per_image", "single_run"],
                    choices=["per_image", "single_run"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    ds = load_mnist_mini()
    n_needed = args.warmup + args.n_images
    images = ds.x_train[:n_needed].reshape(n_needed, -1)
    # the network's own encoding (DiehlCookNetwork.rates_for): pixel / 8 Hz at intensity 1
    rates = intensity_to_rates(images, 255.0, DiehlCookParams().rate_per_level)
    for n_exc in args.sizes:
        for rest_mode in args.rest_modes:
            for record in snnsim_runs(n_exc, rest_mode, rates, args.warmup, args.seed):
                emit(record)

    if importlib.util.find_spec("brian2") is None or not args.brian2:
        return
    for n_exc in args.brian2_sizes:
        for target in args.brian2:
            schedules = args.brian2_cython_schedules if target == "cython" else ["single_run"]
            for schedule in schedules:
                emit(brian2_run(n_exc, args.brian2_images, target, schedule, args.seed))


if __name__ == "__main__":
    main()
