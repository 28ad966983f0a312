"""Class-incremental experiments: task splitting, the forgetting metric, partial_fit keeps what
earlier tasks taught, the consolidation mechanism, the learners and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snnsim as sn
from snnsim.learning.classifier import STDPClassifier
from snnsim.learning.continual import (ControlledForgetting, JointMLP, SequentialMLP, average_forgetting,
                                       equal_tasks, parse_split, run_continual, task_indices)
from snnsim.learning.diehl_cook import DIGITS_SETTINGS
from snnsim.plot import plot_continual

# -- task splitter -----------------------------------------------------------------------------


def test_parse_split_reads_ranges_lists_and_rejects_bad_splits():
    assert parse_split("0-4,5-9") == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    assert parse_split("0+2+4, 1+3") == [(0, 2, 4), (1, 3)]
    assert parse_split("3,5-6", classes=range(10)) == [(3,), (5, 6)]
    with pytest.raises(sn.ParameterError, match="class 4 is in task 1 and task 2"):
        parse_split("0-4,4-9")
    with pytest.raises(sn.ParameterError, match="appears twice"):
        parse_split("0+0,1")
    with pytest.raises(sn.ParameterError, match="not in the data set"):
        parse_split("0-4,5-10", classes=range(10))
    with pytest.raises(sn.ParameterError, match="runs backwards"):
        parse_split("4-0")
    with pytest.raises(sn.ParameterError, match="cannot read"):
        parse_split("0-4,,5")
    with pytest.raises(sn.ParameterError, match="cannot read"):
        parse_split("a-b")


def test_equal_tasks_default_splits():
    assert equal_tasks(range(10), 2) == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    assert equal_tasks(range(10), 5) == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert equal_tasks(range(10), 3) == [(0, 1, 2, 3), (4, 5, 6), (7, 8, 9)]
    for bad in (0, 11, 2.0, True):
        with pytest.raises(sn.ParameterError, match="tasks must be an integer"):
            equal_tasks(range(10), bad)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))))
def test_equal_tasks_are_disjoint_complete_consecutive_and_balanced(case):
    n_classes, n_tasks = case
    tasks = equal_tasks(range(n_classes), n_tasks)
    assert len(tasks) == n_tasks
    flat = [c for t in tasks for c in t]
    assert flat == list(range(n_classes))                  # complete, in order, no repeats
    assert all(len(t) > 0 for t in tasks)
    sizes = [len(t) for t in tasks]
    assert max(sizes) - min(sizes) <= 1
    for t in tasks:                                        # consecutive classes
        assert list(t) == list(range(t[0], t[0] + len(t)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_parse_split_round_trip_of_random_partitions(assign, rnd):
    """Any partition of classes into tasks, written as a split string (ranges where classes
    are consecutive), reads back as the same disjoint tasks; the task index sets of labels
    are disjoint and cover exactly the classes named."""
    groups: dict[int, list[int]] = {}
    for c, t in enumerate(assign):
        groups.setdefault(t, []).append(c)
    tasks = [tuple(g) for _, g in sorted(groups.items())]
    rnd.shuffle(tasks)

    def write(task):
        parts, k = [], 0
        while k < len(task):
            j = k
            while j + 1 < len(task) and task[j + 1] == task[j] + 1:
                j += 1
            parts.append(f"{task[k]}-{task[j]}" if j > k else str(task[k]))
            k = j + 1
        return "+".join(parts)

    parsed = parse_split(",".join(write(t) for t in tasks), classes=range(len(assign)))
    assert parsed == tasks
    y = np.array([rnd.randrange(len(assign)) for _ in range(200)])
    idx = task_indices(y, parsed)
    joined = np.concatenate(idx)
    assert len(np.unique(joined)) == len(joined)           # disjoint
    assert set(joined.tolist()) == set(range(len(y)))      # every example has its task
    for t, ix in zip(parsed, idx):
        assert set(y[ix].tolist()) <= set(t)


# -- forgetting metric --------------------------------------------------------------------------------

def test_average_forgetting_equals_hand_computed_value():
    nan = np.nan
    a = np.array([[0.95, 0.70, 0.80, 0.40],
                  [nan, 0.90, 0.60, 0.50],
                  [nan, nan, 0.85, 0.85],
                  [nan, nan, nan, 0.99]])
    # task 0: best before the end 0.95, final 0.40 -> 0.55; task 1: 0.90 - 0.50 = 0.40;
    # task 2: 0.85 - 0.85 = 0; the last task is not counted
    assert average_forgetting(a) == pytest.approx((0.55 + 0.40 + 0.0) / 3, abs=1e-12)
    # improvement counts as negative forgetting
    assert average_forgetting(np.array([[0.5, 0.7], [nan, 0.9]])) == pytest.approx(-0.2)
    assert average_forgetting(np.array([[0.8]])) == 0.0
    with pytest.raises(sn.ParameterError, match="square"):
        average_forgetting(np.zeros((2, 3)))


# -- STDP: partial_fit keeps the first task ----------------------------------------------------------

def _clf(n_exc, **kw):
    return STDPClassifier(n_exc=n_exc, input_max=16, model_params=DIGITS_SETTINGS,
                          rest_mode="reset", seed=0, **kw)


def _digits_tasks(n_a, n_b, a=(0, 1, 2, 3, 4)):
    ds = sn.learning.datasets.load_digits()
    in_a = np.isin(ds.y_train, a)
    xa, ya = ds.x_train[in_a][:n_a], ds.y_train[in_a][:n_a]
    xb, yb = ds.x_train[~in_a][:n_b], ds.y_train[~in_a][:n_b]
    return ds, (xa, ya), (xb, yb)


def _assert_only_rescaled(before, after):
    """Each column of ``after`` is the same column of ``before`` times one factor: the only
    change is the weight normalisation before each example (a frozen neuron learns nothing)."""
    ratio = after / before
    assert np.all(before > 0)
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:1], ratio.shape), rtol=1e-9)


def _record_training_spikes(clf):
    """Spike counts of every training presentation (learning on) from now on."""
    dc = clf.network_
    present = dc.present
    rec = []

    def wrapped(rates):
        counts = present(rates)
        if dc.learning:
            rec.append(counts)
        return counts

    dc.present = wrapped
    return rec


def test_partial_fit_on_a_second_task_keeps_what_the_first_taught():
    ds, (xa, ya), (xb, yb) = _digits_tasks(300, 10)
    clf = _clf(60).partial_fit(xa, ya)
    w1 = clf.weights_
    theta1 = clf.network_.exc.get_state("theta")
    acc_a = clf.score(ds.x_test[np.isin(ds.y_test, ya)], ds.y_test[np.isin(ds.y_test, ya)])
    rec = _record_training_spikes(clf)
    clf.partial_fit(xb, yb)
    fired = np.sum(rec, axis=0)
    assert len(rec) >= len(yb)
    dw = np.abs(clf.weights_ - w1).max(axis=0)          # per neuron
    silent = fired == 0
    assert silent.sum() >= 3, fired                      # the new task leaves some neurons silent
    # silent neurons barely change (only the first re-normalisation touches them) ...
    assert dw[silent].max() < 2e-3, dw[silent]
    # ... while the neurons that fired learnt: over ten times more change
    assert np.median(dw[fired >= 5]) > 10 * dw[silent].max(), (dw[fired >= 5], dw[silent])
    # state was continued, not rebuilt: the silent neurons' thresholds only decayed a little
    # (tau_theta = 10^4 s), the others grew; examples accumulate
    theta2 = clf.network_.exc.get_state("theta")
    assert np.all(theta2[silent] <= theta1[silent]) and np.all(theta2[silent] > 0.99 * theta1[silent])
    assert np.all(theta2[fired >= 5] > theta1[fired >= 5])
    assert clf.n_trained_ == len(ya) + len(yb)
    assert set(clf.classes_) == set(ya) | set(yb)
    # the first task is still recognised (chance among 10 classes: 10 %)
    te = np.isin(ds.y_test, ya)
    assert acc_a > 0.6
    assert clf.score(ds.x_test[te], ds.y_test[te]) > acc_a - 0.15


# -- the stability mechanism ---------------------------------------------------------------------------

def test_selectivity_of_hand_made_counts():
    counts = np.array([[4, 1, 0, 0], [6, 1, 0, 2], [0, 1, 3, 2], [0, 1, 1, 2]], dtype=float)
    y = np.array([0, 0, 1, 1])
    classes, best, share, resp = ControlledForgetting().selectivity(counts, y)
    assert classes.tolist() == [0, 1]
    # class means: neuron 0 (5, 0), 1 (1, 1), 2 (0, 2), 3 (1, 2)
    assert best.tolist() == [0, 0, 1, 1]                    # a tie goes to the first class
    np.testing.assert_allclose(resp, [5, 1, 2, 2])
    np.testing.assert_allclose(share, [1.0, 0.5, 1.0, 2 / 3])
    with pytest.raises(sn.ParameterError, match="min_share"):
        ControlledForgetting(min_share=1.5)


def test_consolidation_freezes_selective_neurons_within_budget_and_stops_their_learning():
    ds, (xa, ya), (xb, yb) = _digits_tasks(200, 60)
    plain = _clf(20).partial_fit(xa, ya)
    held = _clf(20).partial_fit(xa, ya)                       # the same network (same seed)
    np.testing.assert_array_equal(plain.weights_, held.weights_)
    cf = ControlledForgetting(per_class=2, min_share=0.5, recycle=False)
    gain = cf.after_task(held, n_classes=10)
    np.testing.assert_array_equal(held.network_.proj.plasticity_gain, gain)
    frozen = gain == 0
    assert set(np.unique(gain)) <= {0.0, 1.0}
    assert 3 <= frozen.sum() <= 2 * 5                         # some, and at most 2 per class
    assert np.all(cf.selectivity_[frozen] >= 0.5)
    assert np.all(np.bincount(cf.frozen_class_[frozen], minlength=10) <= 2)
    assert np.all(cf.frozen_class_[~frozen] == -1)
    # the frozen ones are the best candidates of their class (selectivity x response),
    # measured on the counts the readout was fitted on
    _, _, share, resp = cf.selectivity(held.label_counts_, held._label_y)
    np.testing.assert_array_equal(share, cf.selectivity_)
    np.testing.assert_array_equal(cf.preferred_[frozen], cf.frozen_class_[frozen])
    for c in np.unique(cf.frozen_class_[frozen]):
        mine = frozen & (cf.frozen_class_ == c)
        others = ~frozen & (share >= 0.5) & (cf.preferred_ == c)
        if others.any():
            assert (share * resp)[mine].min() >= (share * resp)[others].max()
    w_plain, w_held = plain.weights_, held.weights_
    plain.partial_fit(xb, yb)
    held.partial_fit(xb, yb)
    d_plain = np.abs(plain.weights_ - w_plain).max(axis=0)
    d_held = np.abs(held.weights_ - w_held).max(axis=0)
    assert d_held[frozen].max() < 1e-2, d_held[frozen]
    _assert_only_rescaled(w_held[:, frozen], held.weights_[:, frozen])
    assert d_plain[frozen].mean() > 5 * d_held[frozen].max(), (d_plain[frozen], d_held[frozen])
    assert d_held[~frozen].mean() > 5 * d_held[frozen].max()  # the others still learn
    # a second consolidation keeps the frozen ones frozen
    cf.after_task(held, n_classes=10)
    assert np.all(held.network_.proj.plasticity_gain[frozen] == 0)


def test_recycling_gives_free_neurons_fresh_weights_and_thresholds():
    from snnsim.learning.continual import STDPLearner
    _, (xa, ya), (xb, yb) = _digits_tasks(150, 40)
    clf = _clf(20)
    cf = ControlledForgetting(per_class=1)
    learner = STDPLearner(clf, cf, n_classes=10)
    learner.learn(xa, ya, 0)
    frozen = cf.gain_ == 0
    np.testing.assert_array_equal(clf.network_.proj.plasticity_gain, cf.gain_)
    assert 2 <= frozen.sum() <= 5 and (~frozen).any()     # at most 1 per class, 5 classes
    w0, th0 = clf.weights_, clf.network_.exc.get_state("theta")
    assert np.all(th0 > 0)
    assert cf.before_task(clf, 0).size == 0                 # nothing to recycle before task 1
    recycled = cf.before_task(clf, 1)
    np.testing.assert_array_equal(recycled, np.flatnonzero(~frozen))
    w1, th1 = clf.weights_, clf.network_.exc.get_state("theta")
    np.testing.assert_array_equal(w1[:, frozen], w0[:, frozen])
    np.testing.assert_array_equal(th1[frozen], th0[frozen])
    assert np.all(th1[~frozen] == 0)
    assert np.all(np.abs(w1[:, ~frozen] - w0[:, ~frozen]).max(axis=0) > 0.05)
    p = clf.network_.params
    assert w1[:, ~frozen].min() >= p.w_offset * p.w_scale - 1e-12
    assert w1[:, ~frozen].max() <= min((1 + p.w_offset) * p.w_scale, p.w_max) + 1e-12
    # the learner does it by itself: the frozen neurons' weights survive a whole new task
    learner.learn(xb, yb, 1)
    w2 = clf.weights_
    _assert_only_rescaled(w1[:, frozen], w2[:, frozen])
    assert np.abs(w2[:, ~frozen] - w1[:, ~frozen]).max() > 0.05
    assert set(clf.classes_) == set(ya) | set(yb)


# -- the backprop learners ------------------------------------------------------------------------------

def test_sequential_mlp_forgets_and_joint_mlp_does_not():
    ds = sn.learning.datasets.load_digits()
    tasks = [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    learners = {"seq": SequentialMLP(range(10), n_hidden=32, epochs=20, max_value=16),
                "joint": JointMLP(range(10), n_hidden=32, epochs=60, max_value=16)}
    res = run_continual(ds.x_train, ds.y_train, ds.x_test, ds.y_test, tasks, learners)
    seq, joint = res["seq"], res["joint"]
    assert seq["accuracy_matrix"][0][0] > 0.9                 # it learnt the first task ...
    assert seq["final_accuracy_first_task"] < 0.3             # ... and forgot it
    assert seq["average_forgetting"] > 0.6
    assert seq["accuracy_matrix"][1][0] is None               # not evaluated before training
    assert joint["final_accuracy_all"] > 0.9
    assert joint["final_accuracy_first_task"] > 0.9
    # the probe refits a readout on stored examples: the hidden layer kept much more
    assert seq["readouts"]["probe"]["final_accuracy_first_task"] > seq["final_accuracy_first_task"] + 0.3
    assert len(seq["timings"]["train_seconds"]) == 2


def test_plot_continual_returns_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    entry = {"readout": "voting", "accuracy_matrix": [[0.9, 0.5], [None, 0.8]],
             "accuracy_seen": [0.9, 0.65]}
    axes = plot_continual({"a": entry, "b": entry}, tasks=[(0, 1), (2, 3)])
    assert len(axes) == 3
    assert len(axes[0].lines) == 3                            # two tasks and all seen
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), [90, 50])
    assert len(axes[-1].lines) == 2
    plt.close("all")


# -- the command -----------------------------------------------------------------------------------------

def test_continual_command_writes_json_table_and_plot(tmp_path, capsys):
    from snnsim.cli import main
    out = tmp_path / "cl"
    rc = main(["continual", "models/diehl_cook_2015.toml", "--dataset", "digits", "--split", "0-4,5-9",
               "--n-exc", "10", "--n-train", "150", "--n-test", "80", "--mlp-epochs", "3",
               "--jobs", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    assert capsys.readouterr().out == ""                      # --quiet
    doc = json.loads((out / "continual.json").read_text())
    assert doc["tasks"] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert sum(doc["n_train_per_task"]) == 150 and sum(doc["n_test_per_task"]) == 80
    assert set(doc["learners"]) == {"stdp", "stdp_cf", "mlp_sequential", "mlp_joint"}
    for name, e in doc["learners"].items():
        for key in ("accuracy_matrix", "accuracy_seen", "final_accuracy_first_task",
                    "final_accuracy_all", "average_forgetting", "timings"):
            assert key in e, (name, key)
        a = e["accuracy_matrix"]
        assert len(a) == 2 and a[1][0] is None and all(0 <= v <= 1 for v in (a[0][0], a[0][1], a[1][1]))
        assert e["final_accuracy_first_task"] == a[0][1]
        assert e["average_forgetting"] == pytest.approx(a[0][0] - a[0][1])
        assert len(e["timings"]["train_seconds"]) == 2
    assert set(doc["learners"]["stdp"]["readouts"]) == {"voting", "proportion", "linear"}
    # before the first consolidation the two STDP learners are the same network on the same
    # stream: identical first-task results with every readout
    for r in ("voting", "proportion", "linear"):
        assert (doc["learners"]["stdp"]["readouts"][r]["accuracy_matrix"][0][0]
                == doc["learners"]["stdp_cf"]["readouts"][r]["accuracy_matrix"][0][0])
    hist = doc["learners"]["stdp_cf"]["stability"]["history"]
    assert hist[0]["frozen_total"] <= hist[0]["per_class_budget"] * 5
    assert hist[1]["frozen_total"] >= hist[0]["frozen_total"]       # never undone
    table = (out / "table.txt").read_text()
    assert "stdp_cf (voting)" in table and "mlp_sequential (probe)" in table
    assert (out / "continual.png").stat().st_size > 10_000


def test_continual_command_rejects_overlapping_split(tmp_path, capsys):
    from snnsim.cli import main
    rc = main(["continual", "models/diehl_cook_2015.toml", "--dataset", "digits",
               "--split", "0-5,5-9", "--out", str(tmp_path), "--quiet"])
    assert rc == 2
    assert "class 5 is in task 1 and task 2" in capsys.readouterr().err


def test_epochs_repeat_the_stream_for_stdp_learners_only():
    class Recorder:
        readouts = ("output",)
        primary = "output"

        def __init__(self, repeats):
            self.repeats_stream = repeats
            self.sizes = []

        def learn(self, X, y, task):
            self.sizes.append(len(y))

        def predict_all(self, X, seen):
            return {"output": np.full(len(X), seen[0])}

    rng = np.random.default_rng(0)
    y_tr, y_te = np.repeat(np.arange(4), 5), np.repeat(np.arange(4), 2)
    x_tr, x_te = rng.random((20, 3)), rng.random((8, 3))
    learners = {"stdp_like": Recorder(True), "mlp_like": Recorder(False)}
    run_continual(x_tr, y_tr, x_te, y_te, [(0, 1), (2, 3)], learners, epochs=3)
    assert learners["stdp_like"].sizes == [30, 30]
    assert learners["mlp_like"].sizes == [10, 10]


def test_continual_command_rejects_an_empty_learner_list(tmp_path, capsys):
    from snnsim.cli import main
    rc = main(["continual", "models/diehl_cook_2015.toml", "--dataset", "digits",
               "--learners", ",", "--out", str(tmp_path / "x"), "--quiet"])
    assert rc == 2
    assert "no learners given" in capsys.readouterr().err


def test_equalize_shifts_each_new_consolidated_group_to_the_older_groups_mean_threshold():
    from sklearn.exceptions import NotFittedError

    from snnsim.learning.continual import STDPLearner
    _, (xa, ya), (xb, yb) = _digits_tasks(150, 150)
    with pytest.raises(NotFittedError, match="partial_fit"):
        _clf(20).relabel()
    runs = {}
    for equalize in (False, True):
        clf = _clf(20)
        cf = ControlledForgetting(per_class=2, min_share=0.25, equalize=equalize)
        learner = STDPLearner(clf, cf, n_classes=10)
        learner.learn(xa, ya, 0)
        first = cf.frozen_class_ >= 0
        learner.learn(xb, yb, 1)
        second = (cf.frozen_class_ >= 0) & ~first
        assert first.sum() >= 3 and second.sum() >= 3
        theta = clf.network_.exc.get_state("theta")
        runs[equalize] = (theta, first, second, cf.history_, clf)
    theta, first, second, hist, _ = runs[True]
    assert hist[0]["theta_shift_mv"] == 0.0                   # nothing older to match in task 1
    np.testing.assert_allclose(theta[second].mean(), theta[first].mean(), rtol=0, atol=1e-12)
    # without it the groups differ, and the shift is exactly the difference the plain run had
    # (same network, same stream: the two runs agree up to the shift)
    theta0, first0, second0, hist0, _ = runs[False]
    np.testing.assert_array_equal(first0, first)
    np.testing.assert_array_equal(second0, second)
    gap = theta0[first0].mean() - theta0[second0].mean()
    assert abs(gap) > 1e-4                                    # > 0.1 mV apart
    np.testing.assert_allclose(1e-3 * hist[1]["theta_shift_mv"], gap, rtol=1e-9)
    np.testing.assert_allclose(theta[second], theta0[second0] + gap, rtol=0, atol=1e-12)
