"""STDPClassifier: learning works, the scikit-learn contract, the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import snnsim as sn
from snnsim.learning.classifier import STDPClassifier
from snnsim.learning.diehl_cook import DIGITS_SETTINGS, DiehlCookParams, load_model

ROOT = Path(__file__).resolve().parents[1]


def _two_classes(a=3, b=8):
    ds = sn.learning.datasets.load_digits()
    tr = np.isin(ds.y_train, [a, b])
    te = np.isin(ds.y_test, [a, b])
    return ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te]


def _clf(**kw):
    base = dict(n_exc=20, input_max=16, model_params=DIGITS_SETTINGS, rest_mode="reset", seed=0)
    base.update(kw)
    return STDPClassifier(**base)


def test_stdp_learns_two_digit_classes_and_random_weights_do_not():
    xtr, ytr, xte, yte = _two_classes()
    xtr3, ytr3 = np.concatenate([xtr] * 3), np.concatenate([ytr] * 3)  # ~870 examples
    learned = _clf(epochs=1).fit(xtr3, ytr3)
    acc = learned.score(xte, yte)
    control = _clf(epochs=1, stdp=False).fit(xtr3, ytr3)
    acc_control = control.score(xte, yte)
    assert acc >= 0.9, acc
    # without plasticity (random normalised weights; the adaptive threshold still adapts)
    # the network makes at least twice the errors
    errors, errors_control = 1 - acc, 1 - acc_control
    assert errors_control >= 2 * errors, (acc, acc_control)
    # the weights moved away from their (normalised) random start
    assert np.abs(learned.weights_ - control.weights_).max() > 0.1


def test_model_file_is_the_original_parameters(tmp_path):
    assert load_model(ROOT / "models" / "diehl_cook_2015.toml") == DiehlCookParams()
    text = (ROOT / "models" / "diehl_cook_2015.toml").read_text()
    p = tmp_path / "bad.toml"
    p.write_text(text.replace("tau_m_ms = 100.0", "tau_mem = 100.0"))
    with pytest.raises(sn.ParameterError, match="unknown key 'exc.tau_mem'.*did you mean 'exc.tau_m_ms'"):
        load_model(p)


def test_sklearn_contract_clone_params_pipeline_cross_val():
    xtr, ytr, xte, yte = _two_classes(0, 1)
    clf = _clf(n_exc=8)
    params = clf.get_params()
    assert params["n_exc"] == 8 and params["input_max"] == 16
    c2 = clone(clf).set_params(n_exc=6)
    assert c2.n_exc == 6 and clf.n_exc == 8
    pipe = Pipeline([("id", FunctionTransformer()), ("snn", clf)])
    scores = cross_val_score(pipe, xtr[:120], ytr[:120], cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    fitted = clone(clf).fit(xtr[:60], ytr[:60])
    proba = fitted.predict_proba(xte[:10])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(fitted.predict(xte[:10])) <= {0, 1}
    assert fitted.spike_counts(xte[:4]).shape == (4, 8)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((2, 10)))
    with pytest.raises(sn.ParameterError, match="input_max"):
        fitted.predict(np.full((1, 64), 100.0))


def test_sklearn_estimator_checks():
    """The relevant parts of scikit-learn's estimator checks (API, cloning, fitting on the
    shapes it generates).  Checks about data the classifier rejects by design (negative
    pixel intensities) or about bit-identical results across a change of sample order are
    listed, with reasons, as expected failures."""
    from sklearn.utils.estimator_checks import check_estimator
    expected = {
        "check_estimators_pickle": "networks are not picklable by design (they are saved with "
                                   "snnsim.io as HDF5); pickling raises a NetworkError saying so",
        "check_classifiers_train": "scikit-learn's tiny synthetic sets (a few dozen points of "
                                   "arbitrary features) are below what unsupervised STDP learns from",
    }
    est = STDPClassifier(n_exc=5, input_max=1e6, rest_mode="reset", model_params={
        "present": 0.02, "min_spikes": 1, "max_intensity": 4.0})
    results = check_estimator(est, on_fail=None, on_skip=None, expected_failed_checks=expected)
    failed = [r for r in results if r["status"] == "failed"]
    passed = [r for r in results if r["status"] == "passed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]
    assert len(passed) >= 45


def test_cli_run_digits_writes_summary_and_figures(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "snnsim.cli", "run",
                        str(ROOT / "models" / "diehl_cook_2015.toml"), "--dataset", "digits",
                        "--n-exc", "10", "--n-train", "120", "--n-test", "40", "--out", str(out),
                        "--rest-mode", "reset", "--quiet", "--jobs", "1"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]   # nothing outside --out
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("dataset", "n_exc", "n_train", "n_test", "engine", "seconds_per_train_image"):
        assert key in summary
    assert summary["dataset"] == "digits" and summary["n_train"] == 120 and summary["n_test"] == 40
    assert set(summary["accuracy"]) >= {"stdp_voting", "stdp_linear", "mlp_backprop", "logistic"}
    assert all(0.0 <= v <= 1.0 for v in summary["accuracy"].values())
    assert summary["accuracy"]["logistic"] > 0.5
    for png in ("raster.png", "receptive_fields.png"):
        assert (out / png).stat().st_size > 1000


def test_cli_info_and_errors(tmp_path):
    # every command runs in tmp_path: a default --out must never land in the repository
    r = subprocess.run([sys.executable, "-m", "snnsim.cli", "info"], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0 and "numba" in r.stdout and "reference" in r.stdout
    r = subprocess.run([sys.executable, "-m", "snnsim.cli", "run", str(tmp_path / "nope.toml")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("snnsim: error: model file")
    assert list(tmp_path.iterdir()) == []                  # refused before anything was made


def test_thread_pool_clones_carry_the_trained_network():
    xtr, ytr, xte, yte = _two_classes(0, 1)
    clf = _clf(n_exc=10).fit(xtr[:80], ytr[:80])
    clone_net = clf._clone_network(1)
    np.testing.assert_array_equal(clone_net.proj.get_weights(), clf.network_.proj.get_weights())
    np.testing.assert_array_equal(clone_net.exc.get_state("theta"), clf.network_.exc.get_state("theta"))
    assert not clone_net.learning
    one = clf.score(xte, yte)
    clf.n_jobs = 2
    two = clf.score(xte, yte)
    assert abs(one - two) < 0.1 and two > 0.8  # same network; only the Poisson noise differs
