"""Backprop baselines and the side-by-side comparison report.

* :func:`mlp_baseline` -- scikit-learn ``MLPClassifier`` with one hidden layer of ``n_hidden``
  ReLU units (Adam, early stopping off), trained by backpropagation on the same split.
* :func:`logistic_baseline` -- multinomial logistic regression on pixels.

Both scale pixels to [0, 1].  Each returns a :class:`BaselineResult` with accuracy, training
time, inference time per example, trainable parameters and operations per inference
(multiply-accumulates).  :func:`comparison_table` formats these beside the STDP results.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["BaselineResult", "mlp_baseline", "logistic_baseline", "comparison_table"]


@dataclass
class BaselineResult:
    """One learner's numbers on one split."""

    name: str
    accuracy: float
    train_seconds: float
    seconds_per_test_image: float
    trainable_parameters: int
    operations_per_inference: float
    operation: str  # "MAC" (multiply-accumulate) or "synaptic event"

    def as_dict(self) -> dict:
        return asdict(self)


def _flat(X, max_value: float) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return X.reshape(X.shape[0], -1) / float(max_value)


def mlp_baseline(x_train, y_train, x_test, y_test, *, n_hidden: int = 100, max_value: float = 255.0,
                 epochs: int = 30, seed: int = 0) -> BaselineResult:
    """One-hidden-layer MLP (``n_hidden`` ReLU units) trained with Adam for ``epochs`` epochs.

    Examples
    --------
    >>> from snnsim.learning import datasets
    >>> ds = datasets.load_digits()
    >>> r = mlp_baseline(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_hidden=32, max_value=16)
    >>> r.accuracy > 0.9
    True
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    xtr, xte = _flat(x_train, max_value), _flat(x_test, max_value)
    clf = MLPClassifier(hidden_layer_sizes=(n_hidden,), max_iter=epochs, random_state=seed,
                        batch_size=min(128, len(xtr)), learning_rate_init=1e-3)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xtr, y_train)
    train = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float(np.mean(clf.predict(xte) == np.asarray(y_test)))
    per = (time.perf_counter() - t0) / max(len(xte), 1)
    n_in, n_out = xtr.shape[1], len(clf.classes_)
    params = n_in * n_hidden + n_hidden + n_hidden * n_out + n_out
    return BaselineResult("MLP (backprop)", acc, train, per, params,
                          float(n_in * n_hidden + n_hidden * n_out), "MAC")


def logistic_baseline(x_train, y_train, x_test, y_test, *, max_value: float = 255.0,
                      seed: int = 0) -> BaselineResult:
    """Multinomial logistic regression on pixels scaled to [0, 1]."""
    from sklearn.linear_model import LogisticRegression

    xtr, xte = _flat(x_train, max_value), _flat(x_test, max_value)
    clf = LogisticRegression(max_iter=1000, random_state=seed)
    t0 = time.perf_counter()
    clf.fit(xtr, y_train)
    train = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float(np.mean(clf.predict(xte) == np.asarray(y_test)))
    per = (time.perf_counter() - t0) / max(len(xte), 1)
    n_in, n_out = xtr.shape[1], len(clf.classes_)
    return BaselineResult("logistic regression", acc, train, per, n_in * n_out + n_out,
                          float(n_in * n_out), "MAC")


def comparison_table(rows: list[BaselineResult]) -> str:
    """A plain-text table of learners (accuracy, times, parameters, operations)."""
    head = ("learner", "accuracy", "train s", "ms/test img", "parameters", "ops/inference")
    lines = [head]
    for r in rows:
        lines.append((r.name, f"{100 * r.accuracy:.1f} %", f"{r.train_seconds:.1f}",
                      f"{1000 * r.seconds_per_test_image:.3f}", f"{r.trainable_parameters:,}",
                      f"{r.operations_per_inference:,.0f} {r.operation}s"))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    out = []
    for k, row in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
