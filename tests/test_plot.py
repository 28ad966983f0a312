"""snnsim.plot: what each function draws (line, bar and image data), not only that it returns.

Every test draws on the Agg backend, checks the artists' data against a hand computation,
and closes its figures.  ``plt.show`` is replaced by a function that raises, for every test
of this module, so a plot function that calls it fails.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import snnsim as sn  # noqa: E402
from snnsim import plot  # noqa: E402
from snnsim.results import PopulationRate, SpikeTrains, StateTrace  # noqa: E402
from snnsim.units import ms, mV  # noqa: E402


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def _show(*args, **kwargs):
        raise AssertionError("snnsim.plot must never call plt.show()")

    monkeypatch.setattr(plt, "show", _show)
    monkeypatch.setattr(matplotlib.figure.Figure, "show", _show)
    yield
    plt.close("all")


def _trains(times, indices, n, t_start=0.0, t_stop=0.1) -> SpikeTrains:
    return SpikeTrains(times=np.asarray(times, float), indices=np.asarray(indices, np.int64),
                       n_neurons=n, recorded=np.arange(n), t_start=t_start, t_stop=t_stop)


def _points(ax):
    """(x, y) of every data line of a raster (spike points), concatenated per line."""
    return [(np.asarray(l.get_xdata(), float), np.asarray(l.get_ydata(), float)) for l in ax.lines]


# -- raster -----------------------------------------------------------------------------------

def test_raster_one_point_per_spike_at_time_and_index():
    st = _trains([0.001, 0.0105, 0.02, 0.0205, 0.099], [3, 0, 7, 3, 9], n=10)
    ax = plot.raster(st)
    (x, y), = _points(ax)
    assert x.size == len(st) == 5
    np.testing.assert_array_equal(x, st.times)
    np.testing.assert_array_equal(y, st.indices)
    assert ax.get_xlim() == pytest.approx((0.0, 0.1))
    assert ax.get_ylim() == pytest.approx((-0.5, 9.5))


def test_raster_of_a_network_run_draws_every_spike():
    net = sn.Network(dt=0.1 * ms, seed=3)
    inp = net.add(sn.PoissonInput(40, rate=50.0), name="input")
    exc = net.add(sn.LIF(20, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV,
                         synapses=sn.Current()), name="exc")
    net.connect(inp, exc, sn.FixedProbability(0.5), weight=3 * mV)
    s_in, s_exc = net.record_spikes(inp), net.record_spikes(exc)
    res = net.run(0.2)
    groups = {"input": res[s_in], "exc": res[s_exc]}
    assert len(groups["exc"]) > 0 and len(groups["input"]) > 0
    ax = plot.raster(groups)
    pts = _points(ax)
    assert len(pts) == 2
    assert sum(x.size for x, _ in pts) == len(groups["input"]) + len(groups["exc"])
    np.testing.assert_array_equal(pts[1][1], groups["exc"].indices + 40)


def test_raster_stacks_populations_with_offsets_and_labels():
    a = _trains([0.01, 0.02, 0.03], [0, 4, 9], n=10)
    b = _trains([0.015, 0.025], [0, 4], n=5)
    c = _trains([0.05], [2], n=3)
    ax = plot.raster({"exc": a, "inh": b, "out": c})
    pts = _points(ax)
    assert [x.size for x, _ in pts] == [3, 2, 1]
    np.testing.assert_array_equal(pts[0][1], [0, 4, 9])
    np.testing.assert_array_equal(pts[1][1], [10, 14])      # offset by the 10 neurons below
    np.testing.assert_array_equal(pts[2][1], [17])          # offset by 10 + 5
    assert ax.get_ylim() == pytest.approx((-0.5, 17.5))
    np.testing.assert_allclose(ax.get_yticks(), [5.0, 12.5, 16.5])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["exc", "inh", "out"]
    assert [l.get_label() for l in ax.lines] == ["exc", "inh", "out"]
    assert ax.lines[0].get_color() != ax.lines[1].get_color()


def test_raster_time_window_filters_spikes_and_sets_limits():
    st = _trains([0.005, 0.02, 0.0299, 0.03, 0.049, 0.05, 0.08], [0, 1, 2, 3, 4, 5, 6], n=8)
    ax = plot.raster(st, t_range=(0.02, 0.05))
    (x, y), = _points(ax)
    # [t0, t1): 0.02 is in, 0.05 is out
    np.testing.assert_array_equal(x, [0.02, 0.0299, 0.03, 0.049])
    np.testing.assert_array_equal(y, [1, 2, 3, 4])
    assert ax.get_xlim() == pytest.approx((0.02, 0.05))


def test_raster_rate_histogram_bar_heights():
    # 2 populations, 4 + 6 = 10 neurons; 10 ms bins over [0, 40 ms)
    a = _trains([0.001, 0.002, 0.012, 0.035], [0, 1, 2, 3], n=4, t_stop=0.04)
    b = _trains([0.003, 0.004, 0.005, 0.025], [0, 1, 5, 2], n=6, t_stop=0.04)
    fig, (ax, rate_ax) = plt.subplots(2, 1, sharex=True)
    out = plot.raster({"a": a, "b": b}, ax=ax, rate_ax=rate_ax, rate_bin=0.01)
    assert out is ax
    heights = [p.get_height() for p in rate_ax.patches]
    lefts = [p.get_x() for p in rate_ax.patches]
    # spikes per bin: [0,10) 5, [10,20) 1, [20,30) 1, [30,40) 1 -> / (0.01 s * 10 neurons)
    np.testing.assert_allclose(heights, [50.0, 10.0, 10.0, 10.0])
    np.testing.assert_allclose(lefts, [0.0, 0.01, 0.02, 0.03], atol=1e-12)
    assert all(p.get_width() == pytest.approx(0.01) for p in rate_ax.patches)
    assert rate_ax.get_xlim() == pytest.approx((0.0, 0.04))


def test_raster_rate_histogram_respects_time_window():
    st = _trains([0.001, 0.011, 0.012, 0.021, 0.031], [0, 0, 1, 1, 0], n=2, t_stop=0.04)
    _, (ax, rate_ax) = plt.subplots(2, 1)
    plot.raster(st, ax=ax, rate_ax=rate_ax, t_range=(0.01, 0.03), rate_bin=0.01)
    np.testing.assert_allclose([p.get_height() for p in rate_ax.patches],
                               [2 / (0.01 * 2), 1 / (0.01 * 2)])


# -- rates and states ---------------------------------------------------------------------------

def test_population_rate_line_is_rate_or_smoothed_rate():
    dt = 1e-3
    counts = np.array([0, 2, 0, 4, 0, 0, 6, 0, 0, 0])
    pr = PopulationRate(times=np.arange(10) * dt, counts=counts, n_neurons=2, dt=dt)
    ax = plot.population_rate(pr, smooth=None, label="exc")
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), pr.times)
    np.testing.assert_allclose(line.get_ydata(), counts / (2 * dt))   # Hz
    assert line.get_label() == "exc"
    ax2 = plot.population_rate(pr, smooth=3e-3)
    raw = counts / (2 * dt)
    by_hand = np.array([(raw[max(0, i - 1):i + 2]).sum() / 3 for i in range(10)])
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), by_hand)
    assert ax2.lines[0].get_ydata().mean() == pytest.approx(pr.mean(), rel=0.35)


def test_state_traces_one_line_per_neuron_in_mV():
    times = np.arange(5) * 1e-4
    v = np.array([[-70, -60, -55], [-69, -59, -54], [-68, -58, -53], [-67, -57, -52],
                  [-66, -56, -51]], float) * mV
    tr = StateTrace(times=times, indices=np.array([4, 8, 15]), values={"v": v, "g_e": v * 0 + 0.5})
    ax = plot.state_traces(tr)
    assert len(ax.lines) == 3
    for c, line in enumerate(ax.lines):
        np.testing.assert_array_equal(line.get_xdata(), times)
        np.testing.assert_allclose(line.get_ydata(), v[:, c] * 1e3)
    assert [l.get_label() for l in ax.lines] == ["neuron 4", "neuron 8", "neuron 15"]
    assert ax.get_ylabel() == "v (mV)"
    ax2 = plot.state_traces(tr, "g_e", scale=1.0, unit="", indices=[1])
    (line,) = ax2.lines
    np.testing.assert_allclose(line.get_ydata(), 0.5)
    assert line.get_label() == "neuron 8"


def test_state_traces_of_a_network_run():
    net = sn.Network(dt=0.1 * ms, seed=0)
    pop = net.add(sn.LIF(3, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-50 * mV,
                         synapses=sn.Current()), name="p")
    pop.set_initial(v=np.array([-60, -65, -55]) * mV)
    h = net.record_state(pop, "v", indices=[0, 2])
    tr = net.run(10 * ms)[h]
    ax = plot.state_traces(tr)
    assert len(ax.lines) == 2
    # sub-threshold decay towards -70 mV, in mV on the axis
    assert ax.lines[0].get_ydata()[0] == pytest.approx(-60.0)
    assert ax.lines[1].get_ydata()[0] == pytest.approx(-55.0)
    assert -70 < ax.lines[1].get_ydata()[-1] < -55


# -- weights -----------------------------------------------------------------------------------

def test_weight_matrix_image_is_the_matrix():
    w = np.random.default_rng(0).random((7, 4))
    ax = plot.weight_matrix(w)
    (im,) = ax.images
    np.testing.assert_array_equal(np.asarray(im.get_array()), w)
    assert len(ax.figure.axes) == 2          # the colorbar
    _, ax2 = plt.subplots()
    plot.weight_matrix(w, ax=ax2, colorbar=False)
    assert len(ax2.figure.axes) == 1
    with pytest.raises(sn.ParameterError, match="2-D"):
        plot.weight_matrix(np.zeros(5))


def test_weight_histogram_counts():
    rng = np.random.default_rng(1)
    w = rng.random((30, 20)) * 0.01
    ax = plot.weight_histogram(w, bins=10, w_max=0.01)
    counts, edges = np.histogram(w.ravel() / 0.01, bins=10)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_array_equal(heights, counts)
    np.testing.assert_allclose([p.get_x() for p in ax.patches], edges[:-1])
    assert sum(heights) == w.size
    assert ax.get_xlabel() == "weight / w_max"
    ax2 = plot.weight_histogram(np.array([0.1, 0.1, 0.2, 0.9]), bins=4)
    np.testing.assert_array_equal([p.get_height() for p in ax2.patches], [3, 0, 0, 1])


@pytest.mark.parametrize("shape, n", [((28, 28), 10), ((8, 8), 25), ((8, 8), 7)])
def test_receptive_fields_one_tile_per_neuron(shape, n):
    h, wd = shape
    w = np.random.default_rng(n).random((h * wd, n))
    ax = plot.receptive_fields(w, shape)
    arr = np.ma.filled(np.ma.asarray(ax.images[0].get_array(), dtype=float), np.nan)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    assert arr.shape == (rows * (h + 1) - 1, cols * (wd + 1) - 1)
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        tile = arr[r * (h + 1):r * (h + 1) + h, c * (wd + 1):c * (wd + 1) + wd]
        if k < n:
            np.testing.assert_array_equal(tile, w[:, k].reshape(h, wd))
        else:
            assert np.isnan(tile).all()          # empty slots of the last row
    # the gaps between tiles are empty
    assert np.isnan(arr[h::h + 1, :]).all() and np.isnan(arr[:, wd::wd + 1]).all()
    assert ax.get_title() == f"receptive fields of {n} neurons"


def test_receptive_fields_columns_limit_and_bad_shape():
    w = np.arange(64 * 6, dtype=float).reshape(64, 6)
    ax = plot.receptive_fields(w, (8, 8), n_cols=2, max_neurons=5)
    arr = np.ma.filled(np.ma.asarray(ax.images[0].get_array(), dtype=float), np.nan)
    assert arr.shape == (3 * 9 - 1, 2 * 9 - 1)
    np.testing.assert_array_equal(arr[18:26, 0:8], w[:, 4].reshape(8, 8))
    with pytest.raises(sn.ParameterError, match=r"\(784, n_neurons\)"):
        plot.receptive_fields(w, (28, 28))


# -- STDP windows --------------------------------------------------------------------------------

def _curve_at(ax, x_ms: float) -> float:
    line = ax.lines[-1]                       # the window (after the two axis lines)
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    k = int(np.argmin(np.abs(x - x_ms)))
    assert abs(x[k] - x_ms) < 1e-9
    return float(y[k])


def test_stdp_window_of_pair_stdp_is_the_analytic_window():
    rule = sn.PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=17 * ms, tau_minus=34 * ms)
    ax = plot.stdp_window(rule)
    assert ax.lines[-1].get_label() == "PairSTDP"
    assert _curve_at(ax, 10.0) == pytest.approx(0.01 * np.exp(-10 / 17), rel=1e-9)
    assert _curve_at(ax, -10.0) == pytest.approx(-0.012 * np.exp(-10 / 34), rel=1e-9)
    assert _curve_at(ax, 0.0) == pytest.approx(0.01)      # Δt = 0 counts as pre-before-post
    x = np.asarray(ax.lines[-1].get_xdata())
    assert x[0] == pytest.approx(-100.0) and x[-1] == pytest.approx(100.0) and x.size == 401


def test_stdp_window_of_triplet_and_diehl_cook_rules():
    tr = sn.TripletSTDP.visual_cortex("all")
    ax = plot.stdp_window(tr, dt_range=(-0.05, 0.05), n=201)
    assert _curve_at(ax, 10.0) == pytest.approx(tr.a2_plus * np.exp(-10 / 16.8), rel=1e-9)
    assert _curve_at(ax, -10.0) == pytest.approx(-tr.a2_minus * np.exp(-10 / 33.7), rel=1e-9)
    dc = sn.DiehlCookSTDP(nu_pre=1e-4, nu_post=1e-2)
    ax = plot.stdp_window(dc)
    assert _curve_at(ax, -10.0) == pytest.approx(-1e-4 * np.exp(-10 / 20), rel=1e-9)
    assert _curve_at(ax, 10.0) == 0.0     # documented: no earlier postsynaptic spike


# -- results -------------------------------------------------------------------------------------

def test_accuracy_bars_heights_and_labels():
    acc = {"STDP (voting)": 0.8125, "MLP": 0.97, "logistic": 0.955}
    ax = plot.accuracy_bars(acc, reference=0.9)
    bars = ax.patches
    np.testing.assert_allclose([b.get_height() for b in bars], [81.25, 97.0, 95.5])
    assert [t.get_text() for t in ax.texts] == ["81.2", "97.0", "95.5"]
    for b, t in zip(bars, ax.texts):     # each label sits over its bar
        assert t.get_position()[0] == pytest.approx(b.get_x() + b.get_width() / 2)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(acc)
    ref = [l for l in ax.lines if np.allclose(l.get_ydata(), 90.0)]
    assert len(ref) == 1
    assert ax.get_ylim() == (0, 105)


def test_confusion_matrix_is_row_normalised():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 2, 1, 1, 2, 0, 2])
    ax = plot.confusion_matrix(y_true, y_pred)
    expected = np.array([[2 / 4, 1 / 4, 1 / 4], [0, 1, 0], [1 / 3, 0, 2 / 3]])
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), expected)
    assert len(ax.texts) == 9
    assert ax.texts[0].get_text() == "0.50" and ax.texts[2].get_text() == "0.25"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    counts = plot.confusion_matrix(y_true, y_pred, normalize=False)
    np.testing.assert_array_equal(np.asarray(counts.images[0].get_array()),
                                  [[2, 1, 1], [0, 2, 0], [1, 0, 2]])
    assert counts.texts[0].get_text() == "2"


def test_confusion_matrix_with_given_classes_keeps_empty_rows():
    ax = plot.confusion_matrix([1, 1, 3], [1, 3, 3], classes=[1, 2, 3])
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()),
                               [[0.5, 0, 0.5], [0, 0, 0], [0, 0, 1]])


# -- common contract -------------------------------------------------------------------------

def _calls():
    st = _trains([0.01, 0.02], [0, 1], n=2)
    pr = PopulationRate(times=np.arange(20) * 1e-3, counts=np.arange(20) % 2, n_neurons=1,
                        dt=1e-3)
    tr = StateTrace(times=np.arange(3) * 1e-3, indices=np.array([0]),
                    values={"v": np.zeros((3, 1))})
    w = np.random.default_rng(0).random((64, 4))
    return {
        "raster": lambda ax: plot.raster(st, ax=ax),
        "population_rate": lambda ax: plot.population_rate(pr, ax=ax),
        "state_traces": lambda ax: plot.state_traces(tr, ax=ax),
        "weight_matrix": lambda ax: plot.weight_matrix(w, ax=ax),
        "weight_histogram": lambda ax: plot.weight_histogram(w, ax=ax),
        "receptive_fields": lambda ax: plot.receptive_fields(w, (8, 8), ax=ax),
        "stdp_window": lambda ax: plot.stdp_window(sn.PairSTDP(), ax=ax),
        "accuracy_bars": lambda ax: plot.accuracy_bars({"a": 0.5}, ax=ax),
        "confusion_matrix": lambda ax: plot.confusion_matrix([0, 1], [0, 0], ax=ax),
        "plot_task_accuracy": lambda ax: plot.plot_task_accuracy(_CONTINUAL_ENTRY, ax=ax),
        "plot_seen_accuracy": lambda ax: plot.plot_seen_accuracy({"a": _CONTINUAL_ENTRY}, ax=ax),
    }


# one learner's summary from snnsim.learning.continual.run_continual
_CONTINUAL_ENTRY = {"readout": "voting", "accuracy_matrix": [[0.9, 0.5], [None, 0.8]],
                    "accuracy_seen": [0.9, 0.65]}
# functions that draw on several Axes (tested on their own below)
_SEVERAL = {"plot_continual"}


def test_every_public_function_is_covered():
    assert set(_calls()) | _SEVERAL == set(plot.__all__)


def test_plot_continual_draws_on_the_given_axes():
    fig, axes = plt.subplots(1, 4)
    out = plot.plot_continual({"a": _CONTINUAL_ENTRY, "b": _CONTINUAL_ENTRY}, axes=axes,
                              tasks=[(0, 1), (2, 3)])
    assert out == list(axes[:3])
    assert all(ax.has_data() for ax in out) and not axes[3].has_data()
    assert len(plt.get_fignums()) == 1


@pytest.mark.parametrize("name", sorted(_calls()))
def test_returns_the_given_axes_and_draws_there(name):
    fig, (ax, other) = plt.subplots(1, 2)
    out = _calls()[name](ax)
    assert out is ax
    assert ax.has_data() or ax.images
    assert not other.has_data() and not other.images
    n_figs = len(plt.get_fignums())
    assert n_figs == 1                      # no new figure when ax= is given


@pytest.mark.parametrize("name", sorted(_calls()))
def test_without_axes_a_new_figure_is_made(name):
    out = _calls()[name](None)
    assert isinstance(out, matplotlib.axes.Axes)
    assert plt.get_fignums() == [out.figure.number]
