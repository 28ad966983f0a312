"""Readouts on hand-made spike counts, encoding, and the backprop baselines."""

from __future__ import annotations

import numpy as np
import pytest

import snnsim as sn
from snnsim.learning.baselines import comparison_table, logistic_baseline, mlp_baseline
from snnsim.learning.encoding import intensity_to_rates, poisson_spike_trains
from snnsim.learning.readout import LinearReadout, ProportionReadout, VotingReadout, make_readout


def test_voting_assigns_the_class_of_highest_mean_response():
    # neuron 0 answers class 2, neuron 1 class 0, neuron 2 class 1, neuron 3 never fires
    counts = np.array([[0, 5, 0, 0],   # class 0
                       [0, 3, 1, 0],   # class 0
                       [1, 0, 6, 0],   # class 1
                       [8, 0, 1, 0],   # class 2
                       [6, 1, 0, 0]])  # class 2
    y = np.array([0, 0, 1, 2, 2])
    r = VotingReadout().fit(counts, y)
    assert r.assignments_.tolist() == [2, 0, 1, -1]  # neuron 3 never fired: unassigned
    # class scores are MEAN counts over the assigned neurons (neuron 3 counts for no class,
    # however much it fires at test time)
    test = np.array([[0, 4, 0, 9], [0, 4, 5, 0], [2, 0, 1, 0]])
    np.testing.assert_allclose(r.scores(test), [[4.0, 0.0, 0.0], [4.0, 5.0, 0.0], [0.0, 1.0, 2.0]])
    assert r.predict(test).tolist() == [0, 1, 2]


def test_voting_mean_not_sum():
    # class 0 has three neurons firing 1 each (sum 3, mean 1); class 1 one neuron firing 2
    counts = np.array([[3, 3, 3, 0], [0, 0, 0, 3]])
    r = VotingReadout().fit(counts, [0, 1])
    assert r.predict([[1, 1, 1, 2]]).tolist() == [1]


def test_proportion_weighting():
    counts = np.array([[4, 1], [0, 3]])
    r = ProportionReadout().fit(counts, [0, 1])
    np.testing.assert_allclose(r.proportions_, [[1.0, 0.25], [0.0, 0.75]])
    np.testing.assert_allclose(r.scores([[2, 4]]), [[3.0, 3.0]])
    assert r.predict([[1, 1], [0, 4]]).tolist() == [0, 1]


def test_linear_readout_and_factory():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    counts = rng.poisson(1.0, (300, 12)).astype(float)
    counts[np.arange(300), y * 4] += 8
    r = LinearReadout().fit(counts[:200], y[:200])
    assert np.mean(r.predict(counts[200:]) == y[200:]) > 0.95
    assert isinstance(make_readout("proportion"), ProportionReadout)
    with pytest.raises(sn.ParameterError, match="readout must be one of"):
        make_readout("vote")
    with pytest.raises(sn.ParameterError, match="shape"):
        VotingReadout().fit(np.zeros(5), [0] * 5)


def test_intensity_to_rates_diehl_cook():
    rates = intensity_to_rates(np.array([[0, 128, 255]]), 255.0)
    np.testing.assert_allclose(rates * 2, [[0.0, 32.0, 63.75]])  # pixel / 8 * intensity 2
    np.testing.assert_allclose(intensity_to_rates(np.array([16.0]), 16.0), [255 / 8])
    with pytest.raises(sn.ParameterError):
        intensity_to_rates(np.array([[-1.0]]))


def test_poisson_spike_trains_rate():
    t, i = poisson_spike_trains(np.full(100, 50.0), 2.0, 1e-3, np.random.default_rng(1))
    p = 0.05
    assert abs(t.size - 100 * 2000 * p) < 4 * np.sqrt(100 * 2000 * p * (1 - p))


def test_baselines_learn_digits():
    ds = sn.learning.datasets.load_digits()
    m = mlp_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_hidden=50, max_value=16)
    lr = logistic_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test, max_value=16)
    assert m.accuracy > 0.9 and lr.accuracy > 0.9
    assert m.trainable_parameters == 64 * 50 + 50 + 50 * 10 + 10
    assert m.operations_per_inference == 64 * 50 + 50 * 10
    table = comparison_table([m, lr])
    assert "MLP (backprop)" in table and f"{100 * lr.accuracy:.1f} %" in table
