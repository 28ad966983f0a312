"""The ``snnsim`` command.

``snnsim run MODEL.toml``  trains the Diehl & Cook STDP network on a data set, tests it
beside backprop baselines, prints a table and writes ``summary.json`` and figures.
``snnsim info``            lists the engines and optional packages installed.
``snnsim continual ...``   class-incremental experiments (see ``snnsim continual --help``).

Every option and the whole model file are checked before anything is read, written or
removed (README, "The ``snnsim`` command", lists the bounds); a bad one prints
``snnsim: error: <message naming the option or key, the value and what is allowed>`` and
exits with status 2.  An ``--out`` folder that holds an earlier run is refused unless
``--overwrite``; ``--resume DIR`` continues the run in DIR.
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

# the bounds and checks of the options (snnsim._options); they stay importable from here
from ._options import (MAX_EPOCHS, MAX_JOBS, MAX_SEED, check_data_option, check_engine,  # noqa: F401
                       check_int, check_out_folder, check_subset)
from ._options import fail as _fail
from .errors import ParameterError

__all__ = ["main"]


# -- snnsim run's output folder ---------------------------------------------------------------
#: What makes a folder an earlier run's (refused as --out without --overwrite) ...
RUN_MARKERS = ("summary.json", "checkpoint")
#: ... and what --overwrite removes (only these names; nothing else in the folder).
RUN_FILES = ("summary.json", "raster.png", "receptive_fields.png", "confusion_voting.png")
DEFAULT_OUT = "snnsim-run"


def _run_folder(args: argparse.Namespace) -> Path:
    """The output folder, checked without changing anything: a fresh run refuses a folder
    that holds an earlier run unless --overwrite; --resume needs a checkpoint there."""
    from .checkpoint import CHECKPOINT_FILE
    if args.resume is not None:
        if args.overwrite:
            _fail("--resume and --overwrite exclude each other: --resume continues the run in "
                  "its folder, --overwrite starts one over")
        out = check_out_folder("--resume", args.resume)
        if args.out is not None and Path(args.out).absolute() != out.absolute():
            _fail(f"--out {args.out!r} and --resume {args.resume!r} name different folders; "
                  "--resume DIR writes into DIR (leave out --out)")
        ckpt = out / "checkpoint" / CHECKPOINT_FILE
        if not ckpt.is_file():
            _fail(f"--resume {args.resume!r}: there is no checkpoint {str(ckpt)!r} to continue "
                  "from (the run stopped before its first checkpoint, or this is not the --out "
                  "folder of a run); start it again with --out DIR --overwrite")
        return out
    out = check_out_folder("--out", DEFAULT_OUT if args.out is None else args.out)
    held = [name for name in RUN_MARKERS if (out / name).exists()]
    if held and not args.overwrite:
        _fail(f"--out {str(out)!r} already holds a run ({', '.join(held)}); give --overwrite to "
              f"replace it, --resume {str(out)!r} to continue it, or another --out folder")
    return out


def _check_run_options(args: argparse.Namespace) -> None:
    """Every option of ``snnsim run`` that can be checked without reading anything."""
    from .learning.diehl_cook import MAX_N_EXC
    check_int("--n-exc", args.n_exc, 1, MAX_N_EXC, optional=True)
    check_int("--epochs", args.epochs, 1, MAX_EPOCHS)
    for option in ("--n-train", "--n-test", "--n-label"):
        check_int(option, getattr(args, option[2:].replace("-", "_")), 1, optional=True)
    check_int("--seed", args.seed, 0, MAX_SEED)
    check_int("--jobs", args.jobs, 1, MAX_JOBS)
    check_int("--checkpoint-every", args.checkpoint_every, 1)
    check_data_option(args.data, args.dataset)


def _checked_inputs(args: argparse.Namespace):
    """Every input of ``snnsim run`` checked, in order, before anything is written or removed:
    the options, the model file, the engine, the output folder (only looked at), the data set
    and the parameters the classifier will use.  Returns (n_exc, out, ds, overrides)."""
    import numpy as np

    from .learning import datasets
    from .learning.diehl_cook import DIGITS_SETTINGS, load_model
    _check_run_options(args)
    params = load_model(args.model)
    n_exc = args.n_exc if args.n_exc is not None else params.n_exc
    check_engine(args.engine)
    out = _run_folder(args)
    ds = datasets.load_dataset(args.dataset, **({"path": args.data} if args.data else {}))
    check_subset(ds, args.n_train, args.n_test)
    ds = ds.subset(n_train=args.n_train, n_test=args.n_test, seed=args.seed)
    overrides = {}
    if ds.image_shape == (8, 8) and not args.original:
        # 64 inputs: the original normalisation target and rates starve the layer (see README)
        overrides = dict(DIGITS_SETTINGS)
    try:
        load_model(args.model, n_exc=n_exc, **overrides)
    except ParameterError as exc:
        if not overrides:
            raise
        _fail(f"{exc} (with the settings for 8x8 digits, {DIGITS_SETTINGS}; --original turns "
              "them off)")
    n_label = len(ds.y_train) if args.n_label is None else args.n_label
    if n_label > len(ds.y_train):
        _fail(f"--n-label must be at most the {len(ds.y_train):,} training examples, got {n_label:,}")
    for what, labels in (("training examples", ds.y_train),
                         (f"last {n_label:,} training examples (--n-label)", ds.y_train[-n_label:])):
        if np.unique(labels).size < 2:
            _fail(f"the {what} hold only class {labels[0]}; the readouts and baselines need two "
                  "classes or more: raise --n-train (or --n-label)")
    return n_exc, out, ds, overrides


def _prepare_folder(out: Path, overwrite: bool) -> None:
    """Make ``out``; with ``overwrite`` remove the earlier run's checkpoint, summary and
    figures (those names only)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            if (out / "checkpoint").is_dir():
                shutil.rmtree(out / "checkpoint")  # the run is started over
            for name in RUN_FILES:
                if (out / name).is_file():
                    (out / name).unlink()
    except OSError as exc:
        _fail(f"--out {str(out)!r} cannot be prepared: {exc.strerror or exc}")


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import __version__
    from .learning.baselines import BaselineResult, comparison_table, logistic_baseline, mlp_baseline
    from .learning.classifier import STDPClassifier

    t_start = time.perf_counter()
    n_exc, out, ds, overrides = _checked_inputs(args)
    _prepare_folder(out, args.overwrite)     # validated: now the folder may change
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
    tmp = out / f".summary.json.{os.getpid()}.tmp"   # never a half-written summary
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, out / "summary.json")
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


# -- snnsim continual (snnsim.learning.continual) ---------------------------------------------
#: Examples of a continual experiment when --n-train / --n-test are left out (None: all).
_CONTINUAL_SIZES = {"mnist-mini": (4000, 1000), "mnist": (4000, 1000),
                    "fashion-mnist": (4000, 1000), "digits": (None, None)}


def _continual(args: argparse.Namespace) -> int:
    """``snnsim continual``: run the experiment, write table.txt, continual.json, continual.png."""
    from . import __version__
    from .learning import datasets
    from .learning.continual import (FORGETTING_DEFINITION, ControlledForgetting, STDPLearner,
                                     build_learners, equal_tasks, format_matrices, format_table,
                                     parse_split, run_continual, task_indices)
    from .learning.diehl_cook import DIGITS_SETTINGS, load_model

    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    t_start = time.perf_counter()
    out = _check_continual_options(args)      # every option, before anything is read or written
    params = load_model(args.model)           # the model file, too
    n_exc = args.n_exc
    ds = datasets.load_dataset(args.dataset, **({"path": args.data} if args.data else {}))
    check_subset(ds, args.n_train, args.n_test)
    d_train, d_test = _CONTINUAL_SIZES.get(ds.name, (None, None))
    n_train = args.n_train if args.n_train is not None else (
        None if d_train is None else min(d_train, len(ds.y_train)))
    n_test = args.n_test if args.n_test is not None else (
        None if d_test is None else min(d_test, len(ds.y_test)))
    ds = ds.subset(n_train=n_train, n_test=n_test, seed=args.seed)
    classes = list(range(ds.n_classes))
    if args.split is not None:
        try:
            tasks = parse_split(args.split, classes)
        except ParameterError as exc:
            msg = f"--{exc}" if str(exc).startswith("split") else f"--split: {exc}"
            raise ParameterError(msg) from None
    else:
        check_int("--tasks", args.tasks, 1, ds.n_classes, optional=True)
        tasks = equal_tasks(classes, args.tasks if args.tasks is not None else 2)
    stream_classes = [c for t in tasks for c in t]
    names = _learner_names(args.learners)
    overrides = dict(DIGITS_SETTINGS) if ds.image_shape == (8, 8) and not args.original else {}
    load_model(args.model, n_exc=n_exc, **overrides)   # the parameters the learners will use
    cf = ControlledForgetting(per_class=args.per_class, min_share=args.min_share,
                              recycle=not args.no_recycle, equalize=args.equalize,
                              seed=args.seed)
    learners = build_learners(names, n_exc=n_exc, classes=stream_classes, max_value=ds.max_value,
                              model=args.model, model_params=overrides or None,
                              readout=args.readout, rest_mode=args.rest_mode, n_jobs=args.jobs,
                              engine=args.engine, seed=args.seed, progress=not args.quiet,
                              mlp_epochs=args.mlp_epochs, stability=cf)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"--out {str(out)!r} cannot be created: {exc.strerror or exc}") from None
    tr_counts = [int(a.size) for a in task_indices(ds.y_train, tasks)]
    te_counts = [int(a.size) for a in task_indices(ds.y_test, tasks)]
    say(f"snnsim {__version__}: class-incremental {ds.name}, tasks "
        + " ".join("{" + ",".join(map(str, t)) + "}" for t in tasks)
        + f"; {sum(tr_counts)} training / {sum(te_counts)} test images; {n_exc} excitatory neurons "
        f"(MLP: {n_exc} hidden units); learners {', '.join(names)}; seed {args.seed}")
    results = run_continual(ds.x_train, ds.y_train, ds.x_test, ds.y_test, tasks, learners,
                            seed=args.seed, epochs=args.epochs, say=say)
    extra = {"mlp_sequential": ["probe"]} if "mlp_sequential" in results else {}
    table = format_table(results, extra)
    text = table + "\n\n" + format_matrices(results, tasks)
    say("")
    say(text)
    (out / "table.txt").write_text(text + "\n")
    for name, L in learners.items():
        if isinstance(L, STDPLearner):
            results[name]["seconds_per_train_image"] = L.clf.seconds_per_train_image_
            if L.stability is not None:
                results[name]["stability"] = {**L.stability.describe(),
                                              "history": L.stability.history_}
    doc = {
        "dataset": ds.name, "tasks": [list(map(int, t)) for t in tasks],
        "n_train_per_task": tr_counts, "n_test_per_task": te_counts, "n_exc": int(n_exc),
        "epochs": int(args.epochs), "mlp_epochs": int(args.mlp_epochs), "seed": int(args.seed),
        "readout": args.readout, "rest_mode": args.rest_mode, "engine": args.engine,
        "jobs": int(args.jobs), "model_file": str(args.model), "model_overrides": overrides,
        "n_exc_model_file": int(params.n_exc), "forgetting_definition": FORGETTING_DEFINITION,
        "learners": results, "snnsim_version": __version__,
        "wall_seconds": time.perf_counter() - t_start,
    }
    (out / "continual.json").write_text(json.dumps(doc, indent=1) + "\n")
    _continual_figure(results, tasks, out / "continual.png", ds.name)
    say(f"\nwrote {out / 'continual.json'}, {out / 'table.txt'} and {out / 'continual.png'} "
        f"({doc['wall_seconds']:.0f} s)")
    return 0


def _learner_names(spec: str) -> list[str]:
    """The learners of ``--learners`` (comma-separated names of :data:`snnsim.learning.continual.LEARNERS`)."""
    import difflib

    from .learning.continual import LEARNERS
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ParameterError(f"--learners: no learners given; choose from {', '.join(LEARNERS)}")
    unknown = [n for n in names if n not in LEARNERS]
    if unknown:
        hint = difflib.get_close_matches(unknown[0], LEARNERS, n=1)
        raise ParameterError(f"--learners: unknown learner(s) {', '.join(map(repr, unknown))}; "
                             f"choose from {', '.join(LEARNERS)}"
                             + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    return names


def _check_continual_options(args: argparse.Namespace) -> Path:
    """Check every option of ``snnsim continual`` that needs nothing read; returns --out.

    The bounds are those of ``snnsim run``; ``--mlp-epochs`` at most
    10,000, ``--min-share`` in [0, 1]; an --out folder holding an earlier experiment
    (``continual.json``) is refused unless ``--overwrite``.
    """
    from .learning.diehl_cook import MAX_N_EXC
    check_int("--n-exc", args.n_exc, 1, MAX_N_EXC)
    check_int("--n-train", args.n_train, 1, optional=True)
    check_int("--n-test", args.n_test, 1, optional=True)
    check_int("--tasks", args.tasks, 1, optional=True)
    check_int("--epochs", args.epochs, 1, MAX_EPOCHS)
    check_int("--mlp-epochs", args.mlp_epochs, 1, 10_000)
    check_int("--per-class", args.per_class, 1, MAX_N_EXC, optional=True)
    if not 0.0 <= args.min_share <= 1.0:     # NaN fails too
        raise ParameterError(f"--min-share must be a fraction in [0, 1], got {args.min_share!r}")
    check_int("--seed", args.seed, 0, MAX_SEED)
    check_int("--jobs", args.jobs, 1, MAX_JOBS)
    _learner_names(args.learners)
    check_data_option(args.data, args.dataset)
    check_engine(args.engine)
    out = check_out_folder("--out", args.out)
    if (out / "continual.json").exists() and not args.overwrite:
        raise ParameterError(f"--out {str(out)!r} already holds an experiment (continual.json); "
                             "give --overwrite to replace it, or another --out folder")
    return out


def _continual_figure(results: dict, tasks, path: Path, title: str) -> None:
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import plot_continual
    axes = plot_continual(results, tasks=tasks)
    fig = axes[0].figure
    fig.suptitle(f"class-incremental {title}: accuracy per task over the sequence")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _add_continual_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``continual`` subcommand to the ``snnsim`` command's subparsers."""
    from .learning.continual import LEARNERS
    c = subparsers.add_parser(
        "continual", help="class-incremental learning: STDP (with and without consolidation) "
                          "against backprop trained sequentially and jointly",
        description="Class-incremental learning: tasks of disjoint classes one after another; "
                    "after each task every learner is tested on all classes seen so far. "
                    "Writes table.txt, continual.json and continual.png into --out.")
    c.add_argument("model", help="model file, e.g. models/diehl_cook_2015.toml")
    c.add_argument("--dataset", default="mnist-mini",
                   choices=["mnist-mini", "digits", "mnist", "fashion-mnist"])
    c.add_argument("--data", default=None, help="folder with the IDX files (mnist, fashion-mnist)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--split", default=None,
                   help="tasks as class lists, e.g. 0-4,5-9 or 0+2,1+3 (default: two halves)")
    g.add_argument("--tasks", type=int, default=None,
                   help="K tasks of consecutive classes of (nearly) equal size")
    c.add_argument("--n-exc", type=int, default=100,
                   help="excitatory neurons, and hidden units of the MLPs (default 100)")
    c.add_argument("--n-train", type=int, default=None,
                   help="training examples in all (default 4000; digits: all 1437)")
    c.add_argument("--n-test", type=int, default=None,
                   help="test examples in all (default 1000; digits: all 360)")
    c.add_argument("--epochs", type=int, default=1, help="STDP passes over each task (default 1)")
    c.add_argument("--mlp-epochs", type=int, default=10, help="MLP passes over each task (default 10)")
    c.add_argument("--readout", default="voting", choices=["voting", "proportion", "linear"],
                   help="the STDP readout reported in the table (all three are in the JSON)")
    c.add_argument("--learners", default=",".join(LEARNERS),
                   help=f"comma-separated subset of {','.join(LEARNERS)}")
    c.add_argument("--per-class", type=int, default=None,
                   help="consolidation budget: most frozen neurons per class (default n_exc // classes)")
    c.add_argument("--min-share", type=float, default=0.5,
                   help="selectivity (spike share of the preferred class) needed to freeze a neuron")
    c.add_argument("--no-recycle", action="store_true",
                   help="keep the weights and thresholds of neurons that were not consolidated")
    c.add_argument("--equalize", action="store_true",
                   help="shift the adaptive thresholds of each newly consolidated group to the "
                        "mean of the groups consolidated before")
    c.add_argument("--engine", default="numba")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="threads for the frozen labelling/testing passes (default 2)")
    c.add_argument("--rest-mode", default="reset", choices=["simulate", "reset"],
                   help="reset the network between examples (default, fast) or simulate the pause")
    c.add_argument("--original", action="store_true",
                   help="use the model file unchanged on 8x8 digits (no digits settings)")
    c.add_argument("--out", default="snnsim-continual",
                   help="output folder (default ./snnsim-continual); one that holds an earlier "
                        "experiment is refused unless --overwrite")
    c.add_argument("--overwrite", action="store_true",
                   help="replace the experiment in --out (its files are rewritten at the end)")
    c.add_argument("--quiet", action="store_true", help="no progress bars or table")
    c.set_defaults(func=_continual)
    return c


class _Parser(argparse.ArgumentParser):
    """argparse with the command's one error format: ``snnsim: error: ...``, exit status 2."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"snnsim: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="snnsim", description=__doc__.splitlines()[0])
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
    r.add_argument("--out", default=None, metavar="DIR",
                   help=f"output folder (default ./{DEFAULT_OUT}); one that holds an earlier run "
                        "is refused unless --overwrite")
    r.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (its checkpoint, summary and figures are "
                        "removed once every input has been checked)")
    r.add_argument("--resume", default=None, metavar="DIR",
                   help="continue an interrupted run from its folder's last checkpoint")
    r.add_argument("--checkpoint-every", type=int, default=1000, help="training examples between checkpoints")
    r.add_argument("--quiet", action="store_true", help="no progress bars or table")
    r.set_defaults(func=_run)
    i = sub.add_parser("info", help="list engines and installed optional packages")
    i.set_defaults(func=_info)
    _add_continual_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``snnsim`` command.

    Returns the exit status: 0 done; 2 a bad option or input file (``snnsim: error: ...`` on
    stderr, printed before anything was written or removed); 1 the system refused something
    while running (a full disk, no memory); 130 interrupted.  A malformed command line
    raises ``SystemExit(2)`` (argparse) with the same ``snnsim: error:`` line.
    """
    from .errors import SnnsimError
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except SnnsimError as exc:
        print(f"snnsim: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:
        what = "out of memory" if isinstance(exc, MemoryError) else str(exc)
        print(f"snnsim: error: {what}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        where = getattr(args, "resume", None) or getattr(args, "out", None)
        hint = (f"; rerun with --resume {where or DEFAULT_OUT} to continue from the last checkpoint"
                if args.command == "run" else "")
        print(f"\nsnnsim: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
