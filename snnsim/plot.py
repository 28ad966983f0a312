"""Plots of spikes, rates, states, weights, receptive fields, STDP windows and results
(accuracies, confusion matrices, continual-learning accuracy over a task sequence).

Every function takes ``ax=None`` (a new figure is made when None), draws, and returns the
``Axes`` it drew on (a list of Axes where it draws several).  Nothing here calls
``plt.show()``.  Import is lazy: ``snnsim.plot`` imports matplotlib on first use.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .errors import ParameterError

__all__ = ["raster", "population_rate", "state_traces", "weight_matrix", "weight_histogram",
           "receptive_fields", "stdp_window", "accuracy_bars", "confusion_matrix",
           "plot_task_accuracy", "plot_seen_accuracy", "plot_continual"]

_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots()
    return ax


def raster(spikes, ax=None, *, t_range: tuple[float, float] | None = None,
           colors: Sequence[str] | None = None, markersize: float = 2.0,
           rate_ax=None, rate_bin: float = 0.005):
    """Spike raster of one or several populations, stacked vertically.

    Parameters
    ----------
    spikes : SpikeTrains, or a dict {name: SpikeTrains} (drawn bottom to top in order)
    t_range : (t0, t1), optional
        Time window in seconds (default: the recorded interval).
    colors : list of colour names, one per population.
    rate_ax : Axes, optional
        If given, a histogram of the mean rate (Hz) of the recorded neurons is drawn there
        with bins of ``rate_bin`` seconds (e.g. an axis beneath the raster, ``sharex``).

    Returns
    -------
    ax : the raster's Axes (one point per spike; y = neuron index + offset of its population).
    """
    ax = _axes(ax)
    groups = spikes if isinstance(spikes, Mapping) else {"": spikes}
    colors = list(colors or _COLORS)
    offset = 0
    ticks, labels = [], []
    t0_all, t1_all = np.inf, -np.inf
    all_times, total_recorded = [], 0
    for k, (name, st) in enumerate(groups.items()):
        t, i = st.times, st.indices
        lo, hi = (st.t_start, st.t_stop) if t_range is None else t_range
        t0_all, t1_all = min(t0_all, lo), max(t1_all, hi)
        sel = (t >= lo) & (t < hi)
        ax.plot(t[sel], i[sel] + offset, ls="none", marker="|" if markersize > 2 else ".",
                ms=markersize, color=colors[k % len(colors)], label=name or None)
        all_times.append(t[sel])
        total_recorded += st.recorded.size
        ticks.append(offset + st.n_neurons / 2)
        labels.append(name)
        offset += st.n_neurons
    ax.set_xlim(t0_all, t1_all)
    ax.set_ylim(-0.5, offset - 0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    if len(groups) > 1:
        ax.set_yticks(ticks, labels)
    if rate_ax is not None:
        times = np.concatenate(all_times) if all_times else np.zeros(0)
        # bins of rate_bin seconds; the last one may be shorter (rates use each bin's width)
        n_bins = max(1, int(np.ceil((t1_all - t0_all) / rate_bin - 1e-9)))
        edges = t0_all + rate_bin * np.arange(n_bins + 1)
        edges[-1] = min(edges[-1], t1_all)
        counts, _ = np.histogram(times, bins=edges)
        widths = np.diff(edges)
        rate_ax.bar(edges[:-1], counts / (widths * max(total_recorded, 1)), width=widths,
                    align="edge", color="0.3")
        rate_ax.set_xlim(t0_all, t1_all)
        rate_ax.set_ylabel("rate (Hz)")
        rate_ax.set_xlabel("time (s)")
    return ax


def population_rate(rate, ax=None, *, smooth: float | None = 0.005, label: str | None = None):
    """Population rate (Hz) over time from a :class:`~snnsim.results.PopulationRate`,
    smoothed with a flat window of ``smooth`` seconds (None: raw per-step rate)."""
    ax = _axes(ax)
    y = rate.rate if smooth is None else rate.smoothed(smooth)
    ax.plot(rate.times, y, label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate (Hz)")
    return ax


def state_traces(trace, variable: str = "v", ax=None, *, scale: float = 1e3,
                 unit: str = "mV", indices: Sequence[int] | None = None):
    """One line per recorded neuron of ``trace[variable]`` (scaled, default V -> mV).

    ``indices`` selects columns of the trace (positions in ``trace.indices``, not neuron
    numbers); lines are labelled with the neuron numbers."""
    ax = _axes(ax)
    values = trace[variable]
    cols = range(values.shape[1]) if indices is None else indices
    for c in cols:
        ax.plot(trace.times, values[:, c] * scale, lw=1, label=f"neuron {trace.indices[c]}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"{variable} ({unit})" if unit else variable)
    return ax


def weight_matrix(weights: np.ndarray, ax=None, *, cmap: str = "viridis", colorbar: bool = True):
    """A dense (n_pre, n_post) weight matrix as an image (pre on y, post on x)."""
    ax = _axes(ax)
    w = np.asarray(weights)
    if w.ndim != 2:
        raise ParameterError(f"weight_matrix needs a 2-D matrix, got shape {w.shape}")
    im = ax.imshow(w, aspect="auto", interpolation="nearest", cmap=cmap, origin="lower")
    ax.set_xlabel("postsynaptic neuron")
    ax.set_ylabel("presynaptic neuron")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="weight")
    return ax


def weight_histogram(weights, ax=None, *, bins: int = 50, w_max: float | None = None):
    """Histogram of weights (a dense matrix, or a 1-D array of synapse weights)."""
    ax = _axes(ax)
    w = np.asarray(weights).ravel()
    ax.hist(w / (w_max or 1.0), bins=bins, color="0.3")
    ax.set_xlabel("weight" if w_max is None else "weight / w_max")
    ax.set_ylabel("synapses")
    return ax


def receptive_fields(weights: np.ndarray, image_shape: tuple[int, int], ax=None, *,
                     n_cols: int | None = None, cmap: str = "hot_r", max_neurons: int | None = None):
    """Grid of the input weights of each postsynaptic neuron, reshaped to ``image_shape``.

    ``weights`` has shape (n_pixels, n_neurons) (e.g. ``classifier.weights_``).  One tile per
    neuron, drawn as a single image with thin gaps; returns the Axes.  ``ax.images[0]``'s
    array has shape ``(rows * (h + 1) - 1, cols * (w + 1) - 1)``.
    """
    ax = _axes(ax)
    w = np.asarray(weights, dtype=float)
    h, wd = image_shape
    if w.ndim != 2 or w.shape[0] != h * wd:
        raise ParameterError(f"weights must have shape ({h * wd}, n_neurons) for images of shape "
                             f"{image_shape}, got {w.shape}")
    n = w.shape[1] if max_neurons is None else min(max_neurons, w.shape[1])
    cols = n_cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.full((rows * (h + 1) - 1, cols * (wd + 1) - 1), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (wd + 1):c * (wd + 1) + wd] = w[:, k].reshape(h, wd)
    ax.imshow(canvas, cmap=cmap, interpolation="nearest", vmin=0.0,
              vmax=np.nanmax(canvas) if n else 1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"receptive fields of {n} neurons")
    return ax


def stdp_window(rule, ax=None, *, dt_range: tuple[float, float] = (-0.1, 0.1), n: int = 401):
    """The pair window of a plasticity rule: weight change against Δt = t_post - t_pre (s).

    Computed from the rule's amplitudes and time constants (``A2+ exp(-Δt/τ+)`` for Δt >= 0,
    ``-A2- exp(Δt/τ-)`` for Δt < 0; for :class:`~snnsim.plasticity.DiehlCookSTDP` the
    potentiation half assumes a previous postsynaptic spike long ago, i.e. zero).
    """
    ax = _axes(ax)
    k = rule.kernel_params(1e-4)
    tau_p = -1e-4 / np.log(k["p_x1"])
    tau_m = -1e-4 / np.log(k["p_y1"])
    d = np.linspace(dt_range[0], dt_range[1], n)
    dw = np.where(d >= 0, k["a2_plus"] * np.exp(-d / tau_p), -k["a2_minus"] * np.exp(d / tau_m))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.plot(d * 1e3, dw, label=type(rule).__name__)
    ax.set_xlabel("Δt = t_post - t_pre (ms)")
    ax.set_ylabel("Δw")
    return ax


def accuracy_bars(accuracies: Mapping[str, float], ax=None, *, reference: float | None = None):
    """Bar chart of accuracies (fractions) by learner, with percentages on the bars."""
    ax = _axes(ax)
    names = list(accuracies)
    vals = [100 * accuracies[k] for k in names]
    bars = ax.bar(range(len(names)), vals, color=[_COLORS[i % len(_COLORS)] for i in range(len(names))])
    for b, v in zip(bars, vals):
        ax.text(b.get_x() + b.get_width() / 2, v + 1, f"{v:.1f}", ha="center", va="bottom")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    if reference is not None:
        ax.axhline(100 * reference, color="0.4", ls="--", lw=1)
    return ax


def confusion_matrix(y_true, y_pred, ax=None, *, classes: Sequence | None = None,
                     normalize: bool = True, cmap: str = "Blues"):
    """Confusion matrix (rows: true class, columns: predicted), row-normalised by default."""
    ax = _axes(ax)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(np.concatenate([y_true, y_pred])) if classes is None else np.asarray(classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    m = np.zeros((classes.size, classes.size))
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        m[index[t], index[p]] += 1
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    ax.imshow(m, cmap=cmap, vmin=0, vmax=1 if normalize else None)
    for (r, c), v in np.ndenumerate(m):
        ax.text(c, r, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                fontsize=7, color="white" if v > (0.5 if normalize else m.max() / 2) else "black")
    ax.set_xticks(range(classes.size), classes.tolist())
    ax.set_yticks(range(classes.size), classes.tolist())
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return ax


# -- continual learning (results of snnsim.learning.continual.run_continual) -----------------------
def plot_task_accuracy(entry: dict, ax=None, *, title: str | None = None,
                       tasks: Sequence[Sequence[int]] | None = None):
    """Accuracy on each task's classes (one line per task) over the sequence of tasks, and on
    all seen classes (dashed black), for one learner's summary ``entry``.  Returns the Axes."""
    ax = _axes(ax)
    a = np.array([[np.nan if v is None else v for v in row] for row in entry["accuracy_matrix"]])
    T = a.shape[0]
    x = np.arange(1, T + 1)
    for t in range(T):
        label = f"task {t + 1}" + (f" {{{','.join(map(str, tasks[t]))}}}" if tasks else "")
        ax.plot(x, 100 * a[t], marker="o", color=_COLORS[t % len(_COLORS)], label=label)
    seen = np.array([np.nan if v is None else v for v in entry["accuracy_seen"]])
    ax.plot(x, 100 * seen, ls="--", color="black", marker="s", ms=4, label="all seen")
    ax.set_xticks(x)
    ax.set_xlabel("after task")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 102)
    if title:
        ax.set_title(title)
    return ax


def plot_seen_accuracy(results: dict, ax=None):
    """Accuracy on all classes seen so far after each task, one line per learner."""
    ax = _axes(ax)
    for k, (name, e) in enumerate(results.items()):
        y = np.array([np.nan if v is None else v for v in e["accuracy_seen"]])
        ax.plot(np.arange(1, len(y) + 1), 100 * y, marker="o", color=_COLORS[k % len(_COLORS)],
                label=name)
    ax.set_xticks(np.arange(1, len(y) + 1))
    ax.set_xlabel("after task")
    ax.set_ylabel("accuracy on seen classes (%)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=8)
    return ax


def plot_continual(results: dict, axes=None, tasks: Sequence[Sequence[int]] | None = None):
    """One panel per learner (:func:`plot_task_accuracy`) and one comparing all learners
    (:func:`plot_seen_accuracy`).  ``axes``: a sequence of len(results) + 1 Axes, or None
    for a new figure.  Returns the list of Axes."""
    n = len(results) + 1
    if axes is None:
        import matplotlib.pyplot as plt
        cols = min(n, 3)
        rows = int(np.ceil(n / cols))
        fig, grid = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        axes = list(grid.ravel())
        for ax in axes[n:]:
            ax.set_visible(False)
    axes = list(axes)[:n]
    for ax, (name, e) in zip(axes, results.items()):
        plot_task_accuracy(e, ax=ax, title=f"{name} ({e['readout']})", tasks=tasks)
    axes[0].legend(fontsize=7, loc="lower left")
    plot_seen_accuracy(results, ax=axes[-1])
    axes[-1].set_title("all seen classes")
    return axes
