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

import numpy as np
import pytest

import snnsim as sn
from snnsim import checkpoint as ck
from snnsim import io
from snnsim.classifier import STDPClassifier
from snnsim.diehl_cook import DiehlCookNetwork, DiehlCookParams

SETTINGS = dict(n_exc=10, input_max=16, rest_mode="reset", seed=0, checkpoint_every=30)
N = 60


def data():
    from snnsim import datasets
    ds = datasets.load_digits()
    return ds.x_train[:N], ds.y_train[:N]


CHILD = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from snnsim import checkpoint as ck, datasets
    from snnsim.classifier import STDPClassifier
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
