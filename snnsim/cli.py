"""The ``snnsim`` command.

``snnsim run MODEL.toml``  trains the Diehl & Cook STDP network on a data set, tests it
beside backprop baselines, prints a table and writes ``summary.json`` and figures.
``snnsim info``            lists the engines and optional packages installed.
``snnsim continual ...``   class-incremental experiments (see ``snnsim continual --help``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import __version__, datasets
    from .baselines import BaselineResult, comparison_table, logistic_baseline, mlp_baseline
    from .classifier import STDPClassifier
    from .diehl_cook import DIGITS_SETTINGS, load_model
    from .errors import ParameterError

    t_start = time.perf_counter()
    out = Path(args.resume or args.out)
    if args.resume is not None and not (out / "checkpoint").is_dir():
        raise ParameterError(f"--resume {args.resume}: no checkpoint folder {out / 'checkpoint'}; "
                             "give the --out folder of an interrupted run")
    if args.resume is None and (out / "checkpoint").is_dir():
        shutil.rmtree(out / "checkpoint")  # a fresh run does not continue an old one
    out.mkdir(parents=True, exist_ok=True)
    params = load_model(args.model)  # validates the model file before any work
    n_exc = args.n_exc or params.n_exc
    ds = datasets.load_dataset(args.dataset, **({"path": args.data} if args.data else {}))
    ds = ds.subset(n_train=args.n_train, n_test=args.n_test, seed=args.seed)
    overrides = {}
    if ds.image_shape == (8, 8) and not args.original:
        # 64 inputs: the original normalisation target and rates starve the layer (see README)
        overrides = dict(DIGITS_SETTINGS)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say(f"snnsim {__version__}: Diehl & Cook STDP network, {n_exc} excitatory neurons, "
        f"{ds.name}: {len(ds.y_train)} training / {len(ds.y_test)} test images, "
        f"{args.epochs} epoch(s), engine {args.engine}, seed {args.seed}")
    clf = STDPClassifier(n_exc=n_exc, epochs=args.epochs, model=args.model, model_params=overrides or None,
                         input_max=ds.max_value, rest_mode=args.rest_mode, n_label=args.n_label,
                         n_jobs=args.jobs, engine=args.engine, seed=args.seed,
                         progress=not args.quiet, checkpoint_dir=out / "checkpoint",
                         checkpoint_every=args.checkpoint_every)
    clf.fit(ds.x_train, ds.y_train)
    preds = clf.predict_all(ds.x_test, ds.y_test)
    acc = {name: float(np.mean(p == ds.y_test)) for name, p in preds.items()}
    snn_rows = [BaselineResult(f"STDP ({name})", acc[name], clf.train_seconds_,
                               clf.stats_["seconds_per_test_image"], ds.x_train[0].size * n_exc,
                               clf.stats_["synaptic_events_per_test_image"], "synaptic event")
                for name in ("voting", "proportion", "linear")]
    say("training the backprop baselines ...")
    mlp = mlp_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_hidden=n_exc,
                       max_value=ds.max_value, seed=args.seed)
    logi = logistic_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test,
                             max_value=ds.max_value, seed=args.seed)
    rows = snn_rows + [mlp, logi]
    table = comparison_table(rows)
    say("")
    say(table)
    _figures(clf, ds, out, preds["voting"])
    summary = {
        "dataset": ds.name, "n_exc": int(n_exc), "n_train": int(len(ds.y_train)),
        "n_test": int(len(ds.y_test)), "epochs": int(args.epochs), "engine": args.engine,
        "seed": int(args.seed), "rest_mode": args.rest_mode, "model_file": str(args.model),
        "model_overrides": overrides,
        "seconds_per_train_image": clf.seconds_per_train_image_,
        "seconds_per_test_image": clf.stats_["seconds_per_test_image"],
        "accuracy": {"stdp_voting": acc["voting"], "stdp_proportion": acc["proportion"],
                     "stdp_linear": acc["linear"], "mlp_backprop": mlp.accuracy,
                     "logistic": logi.accuracy},
        "learners": [r.as_dict() for r in rows],
        "training_curve": clf.training_curve_,
        "wall_seconds": time.perf_counter() - t_start,
        "snnsim_version": __version__, "python": platform.python_version(),
    }
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    say(f"\nwrote {out / 'summary.json'}, {out / 'raster.png'}, {out / 'receptive_fields.png'} "
        f"({summary['wall_seconds']:.0f} s)")
    return 0


def _figures(clf, ds, out: Path, voting_pred) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot
    # a spike raster of one test example (learning frozen)
    dc = clf.network_
    net = dc.network
    handles = {"input": net.record_spikes(dc.input), "exc": net.record_spikes(dc.exc),
               "inh": net.record_spikes(dc.inh)}
    dc.learning = False
    rates = clf._rates(ds.x_test[:1])[0]
    dc.input.set_rates(rates * dc.params.intensity)
    res = net.run(dc.params.present, engine=dc.engine)
    dc.input.set_rates(0.0)
    res_rest = net.run(dc.params.rest, engine=dc.engine) if dc.params.rest > 0 else None
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    plot.raster({k: res[h] for k, h in handles.items()}, ax=ax, rate_ax=ax2)
    ax.set_title(f"test example 0 (label {ds.y_test[0]}, voting predicts {voting_pred[0]})")
    ax.set_xlabel("")
    fig.tight_layout()
    fig.savefig(out / "raster.png", dpi=120)
    plt.close(fig)
    del res_rest
    n = clf.weights_.shape[1]
    fig, ax = plt.subplots(figsize=(8, 8))
    plot.receptive_fields(clf.weights_, ds.image_shape, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "receptive_fields.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    plot.confusion_matrix(ds.y_test, voting_pred, ax=ax)
    ax.set_title(f"STDP voting, {n} neurons")
    fig.tight_layout()
    fig.savefig(out / "confusion_voting.png", dpi=120)
    plt.close(fig)


def _info(args: argparse.Namespace) -> int:
    import numba
    import numpy as np

    from . import __version__
    from .engines import available_engines
    print(f"snnsim {__version__} on Python {platform.python_version()} ({sys.platform})")
    print(f"numpy {np.__version__}, numba {numba.__version__}, "
          f"threads available to numba: {numba.config.NUMBA_NUM_THREADS}")
    print("engines:")
    for name, status in available_engines().items():
        print(f"  {name:10s} {status}")
    print("optional packages:")
    for mod in ("brian2", "numba_cuda", "h5py", "matplotlib", "sklearn", "tqdm", "nbclient"):
        spec = importlib.util.find_spec(mod)
        print(f"  {mod:10s} {'installed' if spec else 'not installed'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="snnsim", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and test the Diehl & Cook network beside backprop baselines")
    r.add_argument("model", help="model file, e.g. models/diehl_cook_2015.toml")
    r.add_argument("--dataset", default="mnist-mini",
                   choices=["mnist-mini", "digits", "mnist", "fashion-mnist"])
    r.add_argument("--data", default=None, help="folder with the IDX files (mnist, fashion-mnist)")
    r.add_argument("--n-exc", type=int, default=None, help="excitatory neurons (default: model file)")
    r.add_argument("--epochs", type=int, default=1)
    r.add_argument("--n-train", type=int, default=None, help="training examples (default: all)")
    r.add_argument("--n-test", type=int, default=None, help="test examples (default: all)")
    r.add_argument("--n-label", type=int, default=None,
                   help="label neurons with the last N training examples (default: all)")
    r.add_argument("--engine", default="numba")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="threads for the frozen labelling/testing passes (default 2)")
    r.add_argument("--rest-mode", default="reset", choices=["simulate", "reset"],
                   help="reset the network state between examples (default, fast; a documented "
                        "deviation) or simulate the 150 ms pause of the original")
    r.add_argument("--original", action="store_true",
                   help="use the model file unchanged on 8x8 digits (no digits settings)")
    r.add_argument("--out", default="snnsim-run", help="output folder (default ./snnsim-run)")
    r.add_argument("--resume", default=None, metavar="DIR",
                   help="continue an interrupted run from its folder's last checkpoint")
    r.add_argument("--checkpoint-every", type=int, default=1000, help="training examples between checkpoints")
    r.add_argument("--quiet", action="store_true", help="no progress bars or table")
    r.set_defaults(func=_run)
    i = sub.add_parser("info", help="list engines and installed optional packages")
    i.set_defaults(func=_info)
    try:
        from .experiments.continual import add_parser as _add_continual
        _add_continual(sub)
    except ImportError:
        pass
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snnsim`` command."""
    from .errors import SnnsimError
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except SnnsimError as exc:
        print(f"snnsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsnnsim: interrupted; rerun with --resume to continue from the last checkpoint",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
