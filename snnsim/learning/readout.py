"""Readouts: from spike counts to class predictions.

All readouts take spike-count features ``counts`` of shape (n_examples, n_neurons) (e.g. the
excitatory layer's spikes during each presentation) and labels ``y`` of shape (n_examples,).

* :class:`VotingReadout` -- Diehl & Cook (2015): each neuron is labelled with the class for
  which its mean response over the labelling set is highest; an example is assigned the
  class whose labelled neurons have the highest *mean* spike count.
* :class:`ProportionReadout` -- Diehl & Cook's "proportion weighting": every neuron votes for
  every class with its count times the fraction of its labelling-set spikes that class
  drew.
* :class:`LinearReadout` -- scikit-learn logistic regression on the (scaled) spike counts.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["spike_count_features", "VotingReadout", "ProportionReadout", "LinearReadout",
           "make_readout"]


def spike_count_features(spike_trains_list, n_neurons: int | None = None) -> np.ndarray:
    """Stack the spike counts of a list of :class:`~snnsim.results.SpikeTrains` into (n, n_neurons)."""
    rows = [st.counts() if n_neurons is None else np.bincount(st.indices, minlength=n_neurons)
            for st in spike_trains_list]
    return np.asarray(rows, dtype=float)


def _check(counts, y=None) -> tuple[np.ndarray, np.ndarray | None]:
    c = np.asarray(counts, dtype=float)
    if c.ndim != 2:
        raise ParameterError(f"counts must have shape (n_examples, n_neurons), got {c.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (c.shape[0],):
            raise ParameterError(f"labels must have shape ({c.shape[0]},), got {y.shape}")
    return c, y


class VotingReadout:
    """Diehl & Cook voting.

    After :meth:`fit`, ``assignments_`` holds the class of each neuron (the class with the
    highest mean response); as in the original code, a neuron that never fired on the
    labelling set stays unassigned (``-1``, or None for non-numeric classes) and counts for
    no class.  ``predict`` returns, per
    example, the class whose assigned neurons have the highest mean count (classes without
    neurons score -1, ties go to the first class).

    Examples
    --------
    >>> counts = np.array([[5, 0], [0, 3], [4, 1], [0, 6]])
    >>> r = VotingReadout().fit(counts, [0, 1, 0, 1])
    >>> r.assignments_.tolist(), r.predict([[0, 2], [7, 0]]).tolist()
    ([0, 1], [1, 0])
    """

    def fit(self, counts, y) -> "VotingReadout":
        c, y = _check(counts, y)
        self.classes_ = np.unique(y)
        means = np.stack([c[y == k].mean(axis=0) for k in self.classes_])  # (n_classes, n)
        self.mean_responses_ = means
        self.assigned_ = means.max(axis=0) > 0
        best = np.argmax(means, axis=0)
        self.assignment_index_ = np.where(self.assigned_, best, -1)  # into classes_; -1: none
        if np.issubdtype(self.classes_.dtype, np.number):
            self.assignments_ = np.where(self.assigned_, self.classes_[best], -1)
        else:
            self.assignments_ = np.array([self.classes_[b] if a else None
                                          for a, b in zip(self.assigned_, best)], dtype=object)
        return self

    def scores(self, counts) -> np.ndarray:
        c, _ = _check(counts)
        out = np.full((c.shape[0], self.classes_.size), -1.0)
        for k in range(self.classes_.size):
            members = self.assignment_index_ == k
            if members.any():
                out[:, k] = c[:, members].mean(axis=1)
        return out

    def predict(self, counts) -> np.ndarray:
        return self.classes_[np.argmax(self.scores(counts), axis=1)]


class ProportionReadout:
    """Diehl & Cook proportion weighting.

    ``proportions_[k, i]`` is the fraction of neuron i's labelling-set spikes (per class mean)
    that class k drew; the score of class k for an example is ``counts @ proportions_[k]``.

    Examples
    --------
    >>> r = ProportionReadout().fit([[4, 1], [0, 3]], [0, 1])
    >>> r.predict([[1, 0], [0, 1]]).tolist()
    [0, 1]
    """

    def fit(self, counts, y) -> "ProportionReadout":
        c, y = _check(counts, y)
        self.classes_ = np.unique(y)
        means = np.stack([c[y == k].mean(axis=0) for k in self.classes_])
        total = means.sum(axis=0, keepdims=True)
        self.proportions_ = np.divide(means, total, out=np.zeros_like(means), where=total > 0)
        return self

    def scores(self, counts) -> np.ndarray:
        c, _ = _check(counts)
        return c @ self.proportions_.T

    def predict(self, counts) -> np.ndarray:
        return self.classes_[np.argmax(self.scores(counts), axis=1)]


class LinearReadout:
    """Logistic regression (scikit-learn) on spike counts scaled by their maximum.

    Examples
    --------
    >>> r = LinearReadout().fit([[4, 0], [5, 1], [0, 3], [1, 4]], [0, 0, 1, 1])
    >>> r.predict([[6, 0], [0, 6]]).tolist()
    [0, 1]
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000):
        self.C = C
        self.max_iter = max_iter

    def fit(self, counts, y) -> "LinearReadout":
        from sklearn.linear_model import LogisticRegression
        c, y = _check(counts, y)
        self.scale_ = max(float(c.max()), 1.0)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(c / self.scale_, y)
        self.classes_ = self.model_.classes_
        return self

    def scores(self, counts) -> np.ndarray:
        c, _ = _check(counts)
        return self.model_.predict_proba(c / self.scale_)

    def predict(self, counts) -> np.ndarray:
        c, _ = _check(counts)
        return self.model_.predict(c / self.scale_)


_READOUTS = {"voting": VotingReadout, "proportion": ProportionReadout, "linear": LinearReadout}


def make_readout(name: str):
    """A readout by name: ``"voting"``, ``"proportion"`` or ``"linear"``."""
    try:
        return _READOUTS[name]()
    except KeyError:
        raise ParameterError(f"readout must be one of {', '.join(map(repr, _READOUTS))}, "
                             f"got {name!r}") from None
