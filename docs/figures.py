"""Write one PNG of each kind of snnsim plot into docs/figures/ (about half a minute).

    python docs/figures.py [--out DIR]

* ``raster.png``            -- CUBA balanced network (Brette et al. 2007, 1,000 neurons):
                               raster of both populations with the population-rate histogram
* ``population_rate.png``   -- the same run: excitatory population rate, smoothed
* ``state_traces.png``      -- the same run: membrane potential of three neurons
* ``weights.png``           -- Song, Miller & Abbott (2000), 20 s of additive STDP:
                               weight matrix and bimodal weight histogram
* ``receptive_fields.png``  -- STDPClassifier (Diehl & Cook) with 25 neurons on 8x8 digits
* ``stdp_windows.png``      -- pair windows of PairSTDP, TripletSTDP and DiehlCookSTDP
                               (isolated pairs: the triplet terms see empty slow traces)
* ``accuracy.png``          -- that classifier beside backprop baselines on the same split
* ``confusion_matrix.png``  -- that classifier's test confusion matrix
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import snnsim as sn  # noqa: E402
from snnsim import plot  # noqa: E402
from snnsim.learning import datasets  # noqa: E402
from snnsim.learning.baselines import logistic_baseline, mlp_baseline  # noqa: E402
from snnsim.learning.classifier import STDPClassifier  # noqa: E402
from snnsim.learning.diehl_cook import DIGITS_SETTINGS  # noqa: E402
from snnsim.reference_networks import brette2007_cuba, song_miller_abbott2000  # noqa: E402
from snnsim.units import ms  # noqa: E402

DPI = 100


def _save(fig, out: Path, name: str) -> None:
    fig.tight_layout()
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    print(f"wrote {out / name}")


def cuba_figures(out: Path) -> None:
    net, h = brette2007_cuba(1000, seed=1)
    rate = net.population_rate(h["exc"])
    v = net.record_state(h["exc"], "v", indices=[0, 1, 2])
    res = net.run(0.5)
    spikes = {"exc": res[h["spikes_exc"]], "inh": res[h["spikes_inh"]]}

    fig, (ax, rate_ax) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    plot.raster(spikes, ax=ax, rate_ax=rate_ax, rate_bin=5 * ms)
    ax.set_xlabel("")
    ax.set_title("CUBA network (Brette et al. 2007), 800 exc + 200 inh LIF neurons")
    _save(fig, out, "raster.png")

    fig, ax = plt.subplots(figsize=(7, 2.8))
    plot.population_rate(res[rate], ax=ax, smooth=5 * ms, label="exc")
    ax.axhline(res[rate].mean(), color="0.5", ls="--", lw=1, label="mean")
    ax.legend(loc="upper right")
    ax.set_title("excitatory population rate (5 ms window)")
    _save(fig, out, "population_rate.png")

    fig, ax = plt.subplots(figsize=(7, 2.8))
    plot.state_traces(res[v], ax=ax)
    ax.axhline(-50, color="0.5", ls=":", lw=1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("membrane potential (threshold -50 mV, reset -60 mV)")
    _save(fig, out, "state_traces.png")


def song_figure(out: Path) -> None:
    net, h = song_miller_abbott2000(1000, n_post=20, seed=0, record=False)
    net.run(20.0)
    w = h["proj"].get_weights()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2), gridspec_kw={"width_ratios": [1, 1.3]})
    plot.weight_matrix(w[:200] / h["g_max"], ax=a)
    a.set_title("first 200 inputs (w / g_max)")
    plot.weight_histogram(w, ax=b, bins=40, w_max=h["g_max"])
    b.set_title("Song, Miller & Abbott (2000), 20 s")
    _save(fig, out, "weights.png")


def stdp_figure(out: Path) -> None:
    rules = [sn.PairSTDP(a_plus=0.01, a_minus=0.0105),
             sn.TripletSTDP.visual_cortex("all"),
             sn.DiehlCookSTDP()]
    titles = ["PairSTDP", "TripletSTDP (isolated pairs)",
              "DiehlCookSTDP (isolated pairs:\nLTP needs an earlier post spike)"]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for rule, ax, title in zip(rules, axes, titles):
        plot.stdp_window(rule, ax=ax)
        ax.set_title(title, fontsize=10)
    _save(fig, out, "stdp_windows.png")


def classifier_figures(out: Path) -> None:
    ds = datasets.load_digits()
    clf = STDPClassifier(n_exc=25, input_max=16, model_params=DIGITS_SETTINGS, rest_mode="reset",
                         seed=0).fit(ds.x_train, ds.y_train)
    fig, ax = plt.subplots(figsize=(4, 4.2))
    plot.receptive_fields(clf.weights_, ds.image_shape, ax=ax)
    _save(fig, out, "receptive_fields.png")

    preds = clf.predict_all(ds.x_test)           # one frozen pass, every readout
    pred = preds["voting"]
    acc = {f"STDP, {name}": float(np.mean(preds[name] == ds.y_test)) for name in ("voting", "linear")}
    for r in (mlp_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test, max_value=16),
              logistic_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test, max_value=16)):
        acc[r.name] = r.accuracy
    fig, ax = plt.subplots(figsize=(5, 3.5))
    plot.accuracy_bars(acc, ax=ax)
    ax.set_title("8x8 digits, 360 test images")
    _save(fig, out, "accuracy.png")

    fig, ax = plt.subplots(figsize=(5, 4.5))
    plot.confusion_matrix(ds.y_test, pred, ax=ax)
    ax.set_title(f"STDPClassifier, 25 neurons, voting ({100 * acc['STDP, voting']:.1f} %)")
    _save(fig, out, "confusion_matrix.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "figures")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for make in (cuba_figures, song_figure, stdp_figure, classifier_figures):
        t = time.perf_counter()
        make(args.out)
        print(f"  {make.__name__}: {time.perf_counter() - t:.1f} s")
    print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
