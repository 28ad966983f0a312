"""Classifier checkpoints (snnsim.checkpoint): resuming in a fresh process is bitwise the
same as training straight; a process killed while writing leaves a loadable checkpoint."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import snnsim as sn
from snnsim import checkpoint as ck
from snnsim import io
from snnsim.learning.classifier import STDPClassifier
from snnsim.learning.diehl_cook import DiehlCookNetwork, DiehlCookParams

SETTINGS = dict(n_exc=10, input_max=16, rest_mode="reset", seed=0, checkpoint_every=30)
N = 60


def data():
    from snnsim.learning import datasets
    ds = datasets.load_digits()
    return ds.x_train[:N], ds.y_train[:N]


CHILD = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from snnsim import checkpoint as ck, datasets
    from snnsim.learning.classifier import STDPClassifier
    mode, folder, out = sys.argv[1], sys.argv[2], sys.argv[3]
    settings = json.loads(sys.argv[4])
    ds = datasets.load_digits()
    X, y = ds.x_train[:{N}], ds.y_train[:{N}]
    if mode == "interrupt":          # die right after the first checkpoint, like a killed job
        save = ck.save_classifier_checkpoint
        def save_and_die(clf, n_done, final=False):
            save(clf, n_done, final=final)
            os._exit(17)
        ck.save_classifier_checkpoint = save_and_die
    else:                            # report what the resume found
        resume = ck.try_resume_classifier
        def report(clf, n_features, *a, **k):
            got = resume(clf, n_features, *a, **k)
            print("RESUMED", got, flush=True)
            return got
        ck.try_resume_classifier = report
    clf = STDPClassifier(checkpoint_dir=folder, **settings).fit(X, y)
    np.save(os.path.join(out, "w.npy"), clf.weights_)
    np.save(os.path.join(out, "theta.npy"), clf.network_.exc.get_state("theta"))
    np.save(os.path.join(out, "pred.npy"), clf.predict(X))
    np.save(os.path.join(out, "counters.npy"), np.array([clf.n_trained_,
            clf.network_.n_presentations, clf.network_.synaptic_events]))
""").replace("{N}", str(N))


def run_child(mode: str, folder: Path, out: Path) -> subprocess.CompletedProcess:
    out.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", CHILD, mode, str(folder), str(out),
                           json.dumps(SETTINGS)], capture_output=True, text=True, timeout=300)


def test_resume_in_fresh_process_is_bitwise_straight(tmp_path):
    X, y = data()
    straight = STDPClassifier(**SETTINGS).fit(X, y)     # no checkpoints at all
    folder = tmp_path / "ckpt"
    first = run_child("interrupt", folder, tmp_path / "out1")
    assert first.returncode == 17, first.stderr
    info = ck.read_checkpoint_info(folder / ck.CHECKPOINT_FILE)
    assert info["n_trained"] == 30 and not info["final"]
    assert not (tmp_path / "out1" / "w.npy").exists()
    stale = folder / ".checkpoint.h5.abc123.tmp"      # as a write killed midway leaves it
    stale.write_bytes(b"half a file")
    second = run_child("resume", folder, tmp_path / "out2")
    assert second.returncode == 0, second.stderr
    assert "RESUMED 30" in second.stdout            # it did continue, not start over
    assert not stale.exists()
    out = tmp_path / "out2"
    w, theta = np.load(out / "w.npy"), np.load(out / "theta.npy")
    at_30 = io.load(folder / ck.PREVIOUS_FILE).projection("input->exc").weights
    assert not np.array_equal(w, at_30)              # the resumed process did train further
    np.testing.assert_array_equal(w, straight.weights_, strict=True)
    np.testing.assert_array_equal(theta, straight.network_.exc.get_state("theta"), strict=True)
    np.testing.assert_array_equal(np.load(out / "pred.npy"), straight.predict(X))
    dc = straight.network_
    np.testing.assert_array_equal(np.load(out / "counters.npy"),
                                  [straight.n_trained_, dc.n_presentations, dc.synaptic_events])
    final = ck.read_checkpoint_info(folder / ck.CHECKPOINT_FILE)
    assert final["final"] and final["n_trained"] == N
    prev = ck.read_checkpoint_info(folder / ck.PREVIOUS_FILE)
    assert prev["n_trained"] == 30


def test_resume_after_final_skips_training_and_mismatch_is_refused(tmp_path):
    X, y = data()
    kw = dict(SETTINGS, checkpoint_dir=tmp_path)
    a = STDPClassifier(**kw).fit(X, y)
    b = STDPClassifier(**dict(kw, n_jobs=2, progress=False, checkpoint_every=7))  # ignored settings
    assert ck.try_resume_classifier(b, 64) == N
    np.testing.assert_array_equal(b.weights_, a.weights_)
    assert b.network_.n_presentations == a.network_.n_presentations - N  # before labelling
    assert set(vars(b.network_)) == set(vars(a.network_))  # every attribute is re-attached
    with pytest.raises(sn.ParameterError, match=r"n_exc: checkpoint has 10, this classifier 11"):
        STDPClassifier(**dict(kw, n_exc=11)).fit(X, y)
    with pytest.raises(sn.ParameterError, match="intensity"):
        STDPClassifier(**dict(kw, model_params={"intensity": 3.0})).fit(X, y)
    with pytest.raises(sn.ParameterError, match="trained on 64 features, but X has 16"):
        STDPClassifier(**kw).fit(X[:, :4, :4], y)
    assert ck.read_checkpoint_info(tmp_path / ck.CHECKPOINT_FILE)["n_trained"] == N  # untouched


def test_training_curve_is_kept(tmp_path):
    X, y = data()
    a = STDPClassifier(**dict(SETTINGS, checkpoint_dir=tmp_path)).fit(X[:10], y[:10])
    a.training_curve_ = [(250, 0.5), (500, 0.75)]
    ck.save_classifier_checkpoint(a, 10, final=True)
    b = STDPClassifier(**dict(SETTINGS, checkpoint_dir=tmp_path))
    assert ck.try_resume_classifier(b, 64) == 10
    assert b.training_curve_ == a.training_curve_
    assert {k for k in vars(a) if k.endswith("_") and not k.startswith("_")} - set(vars(b)) <= {
        "readouts_", "classes_", "label_counts_", "seconds_per_train_image_",
        "stats_"}  # set by fit and labelling


def test_attach_matches_a_built_network():
    p = DiehlCookParams(n_exc=4)
    built = DiehlCookNetwork(p, 9, seed=1, rest_mode="reset")
    again = ck.attach_diehl_cook(p, built.network, 9, rest_mode="reset")
    assert set(vars(again)) == set(vars(built))
    for name in ("input", "exc", "inh", "proj", "spikes_exc", "input_count", "inh_count"):
        assert getattr(again, name) is getattr(built, name)


def test_not_a_checkpoint(tmp_path):
    net = sn.Network(seed=0)
    net.add(sn.LIF(2), name="x")
    io.save(tmp_path / ck.CHECKPOINT_FILE, net)
    clf = STDPClassifier(**dict(SETTINGS, checkpoint_dir=tmp_path))
    with pytest.raises(sn.FileFormatError, match="not a classifier checkpoint"):
        ck.try_resume_classifier(clf, 64)
    (tmp_path / ck.CHECKPOINT_FILE).write_bytes(b"\x00" * 100)
    with pytest.raises(sn.FileFormatError, match="not an HDF5 file"):
        ck.try_resume_classifier(clf, 64)


WRITER = textwrap.dedent("""
    import sys
    import snnsim as sn
    from snnsim import io
    path = sys.argv[1]
    net = sn.Network(dt=1e-4, seed=1)
    a = net.add(sn.PoissonInput(600, rate=20.0), name="a")
    b = net.add(sn.LIF(400), name="b")
    net.connect(a, b, weight=sn.Uniform(0.0, 1e-4), delay=sn.Uniform(1e-4, 2e-3))
    while True:
        net.run(1e-3)
        io.save(path, net)
        print(int(round(net.t / net.dt)), flush=True)
""")


def test_killed_writer_leaves_last_complete_checkpoint(tmp_path):
    path = tmp_path / "net.h5"
    rnd = random.Random(1)
    killed_mid_write = 0
    for attempt in range(12):
        before = {p.name for p in tmp_path.iterdir()}
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            first = child.stdout.readline()         # one checkpoint is complete
            assert first.strip().isdigit(), child.stderr.read()
            time.sleep(rnd.uniform(0.0, 0.25))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        done = [int(x) for x in [first, *child.stdout.read().split()] if str(x).strip()]
        child.stdout.close()
        child.stderr.close()
        leftovers = {p.name for p in tmp_path.iterdir()} - {"net.h5"} - before
        killed_mid_write += bool(leftovers)
        net = io.load(path)                       # never a half-written file
        step = int(net.compile().step[0])
        assert step in (done[-1], done[-1] + 10)   # the last finished save (or one just renamed)
        assert net.projection("a->b").n_synapses == 600 * 400
        if killed_mid_write >= 2 and attempt >= 2:
            break
    assert killed_mid_write >= 1      # the kill did hit a write in progress at least once


class _Stop(Exception):
    pass


def _interrupted_then_resumed(folder, monkeypatch, settings):
    """Train with checkpoints, stop right after the first one, resume in a new classifier."""
    X, y = data()
    save = ck.save_classifier_checkpoint

    def save_and_stop(clf, n_done, final=False):
        save(clf, n_done, final=final)
        raise _Stop

    monkeypatch.setattr(ck, "save_classifier_checkpoint", save_and_stop)
    with pytest.raises(_Stop):
        STDPClassifier(checkpoint_dir=folder, **settings).fit(X, y)
    monkeypatch.setattr(ck, "save_classifier_checkpoint", save)
    return STDPClassifier(checkpoint_dir=folder, **settings).fit(X, y)


def test_resume_mid_window_continues_the_training_curve(tmp_path, monkeypatch):
    """The running-accuracy window is checkpointed (before, a resumed run's curve lost the
    window in progress).  Windows of 10 close at 10, 20, ..., 60 of each epoch; the checkpoint
    at 25 falls in the middle of the third, with labels from the second."""
    monkeypatch.setattr(STDPClassifier, "curve_window", 10)
    settings = dict(SETTINGS, checkpoint_every=25, epochs=2)
    X, y = data()
    straight = STDPClassifier(**settings).fit(X, y)
    assert [n for n, _ in straight.training_curve_] == [20, 30, 40, 50, 60, 80, 90, 100, 110, 120]
    resumed = _interrupted_then_resumed(tmp_path, monkeypatch, settings)
    assert resumed.training_curve_ == straight.training_curve_
    np.testing.assert_array_equal(resumed.weights_, straight.weights_)
    # the same from a checkpoint in the second epoch (85: mid-window, epoch 1 complete)
    resumed2 = _interrupted_then_resumed(tmp_path / "b", monkeypatch, dict(settings, checkpoint_every=85))
    assert resumed2.training_curve_ == straight.training_curve_


def test_window_of_any_label_type_is_stored_as_class_indices(tmp_path, monkeypatch):
    monkeypatch.setattr(STDPClassifier, "curve_window", 10)
    X, y = data()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])[y]
    a = STDPClassifier(**SETTINGS).fit(X, y)
    b = STDPClassifier(**dict(SETTINGS, checkpoint_dir=tmp_path)).fit(X, names)
    # class indices keep the order of the names (np.unique), as the readout did with the names
    # themselves; these data have no ties between classes, so the curve is the same
    assert b.training_curve_ == a.training_curve_ and len(a.training_curve_) == 5
    with h5py.File(tmp_path / ck.CHECKPOINT_FILE, "r") as f:
        assert f["classifier"].attrs["checkpoint_version"] == ck.CHECKPOINT_VERSION
        assert f["classifier/curve_window/prev_labels"].dtype == np.int64


def _edit_checkpoint(path, edit):
    with h5py.File(path, "r+") as f:
        edit(f["classifier"])
    sn.io.seal(path)  # an edit on purpose: record it, so that the contents are what is checked


def test_checkpoints_of_version_1_are_read_and_unknown_versions_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(STDPClassifier, "curve_window", 10)
    X, y = data()
    kw = dict(SETTINGS, checkpoint_dir=tmp_path)
    STDPClassifier(**kw).fit(X[:25], y[:25])
    path = tmp_path / ck.CHECKPOINT_FILE

    def to_version_1(g):                       # as snnsim 0.1.0 wrote it
        del g["curve_window"]
        del g.attrs["checkpoint_version"]

    _edit_checkpoint(path, to_version_1)
    b = STDPClassifier(**kw)
    assert ck.try_resume_classifier(b, 64) == 25 and b._curve_window is None
    _edit_checkpoint(path, lambda g: g.attrs.__setitem__("checkpoint_version", 99))
    with pytest.raises(sn.FileFormatError, match="version 99 is not known"):
        ck.try_resume_classifier(STDPClassifier(**kw), 64)


@pytest.mark.parametrize("damage", [
    lambda w: w.__delitem__("hits"),
    lambda w: (w.__delitem__("resp"), w.create_dataset("resp", data=np.zeros((3, 4), np.int64))),
    lambda w: (w.__delitem__("resp"), w.create_dataset("resp", data=np.full((5, 10), -1))),
    lambda w: (w.__delitem__("labels"), w.create_dataset("labels", data=np.zeros(5, np.float64))),
    lambda w: w.attrs.__setitem__("size", 0),
])
def test_a_damaged_window_is_a_file_format_error(tmp_path, monkeypatch, damage):
    monkeypatch.setattr(STDPClassifier, "curve_window", 10)
    X, y = data()
    kw = dict(SETTINGS, checkpoint_dir=tmp_path)
    STDPClassifier(**kw).fit(X[:25], y[:25])
    _edit_checkpoint(tmp_path / ck.CHECKPOINT_FILE, lambda g: damage(g["curve_window"]))
    with pytest.raises(sn.FileFormatError, match="curve_window"):
        ck.try_resume_classifier(STDPClassifier(**kw), 64)
