"""``STDPClassifier``: the Diehl & Cook network as a scikit-learn estimator.

``fit`` trains the network without labels (STDP and adaptive thresholds), then shows the
training examples once more with learning frozen and labels the excitatory neurons from
their responses; ``predict`` shows examples with learning frozen and reads the class out of
the spike counts with the chosen readout (:mod:`snnsim.learning.readout`).

Examples
--------
>>> from snnsim.learning import datasets
>>> from snnsim.learning.classifier import STDPClassifier
>>> ds = datasets.load_digits()
>>> two = (ds.y_train < 2)
>>> clf = STDPClassifier(n_exc=10, input_max=16, seed=0).fit(ds.x_train[two][:40], ds.y_train[two][:40])
>>> clf.predict(ds.x_test[:3]).shape
(3,)
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from ..errors import ParameterError
from .diehl_cook import DiehlCookNetwork, DiehlCookParams, load_model
from .encoding import intensity_to_rates
from .readout import LinearReadout, ProportionReadout, VotingReadout

__all__ = ["STDPClassifier"]

READOUTS = ("voting", "proportion", "linear")


class RunningAccuracy:
    """The running accuracy shown while training, as Diehl & Cook's code computes it.

    Every ``size`` examples the neurons are labelled (:class:`~snnsim.learning.readout.VotingReadout`)
    from their responses in that window; the examples of the next window are predicted with
    those labels, and at its end the fraction predicted right is the next point of the
    curve.  Its whole state is plain arrays (:meth:`arrays`), which a checkpoint keeps so
    that a resumed run continues the curve exactly.

    Parameters
    ----------
    size : int
        Examples per window (250 in ``STDPClassifier``).
    """

    def __init__(self, size: int):
        self.size = int(size)
        self.resp: list[np.ndarray] = []      # spike counts (n_exc,) of this window's examples
        self.labels: list[int] = []            # their class indices
        self.hits: list[bool] = []             # predicted right by the previous window's labels
        self.prev: tuple[np.ndarray, np.ndarray] | None = None   # (counts, labels) labelled on
        self.readout: VotingReadout | None = None

    def add(self, counts: np.ndarray, label) -> float | None:
        """Record one example; returns the window's accuracy when this example closes a window
        that was predicted (None otherwise)."""
        if self.readout is not None:
            self.hits.append(bool(self.readout.predict(counts[None])[0] == label))
        self.resp.append(counts)
        self.labels.append(label)
        if len(self.resp) < self.size:
            return None
        self.prev = (np.array(self.resp), np.array(self.labels))
        self.readout = VotingReadout().fit(*self.prev)
        acc = float(np.mean(self.hits[-self.size:])) if self.hits else None
        self.resp, self.labels, self.hits = [], [], []
        return acc

    def arrays(self, n_neurons: int) -> dict[str, np.ndarray]:
        """The state as arrays: ``resp`` (m, n_neurons), ``labels`` (m,), ``hits`` (h,) and
        ``prev_resp`` (size or 0, n_neurons), ``prev_labels``."""
        prev_resp, prev_labels = self.prev if self.prev is not None else (
            np.zeros((0, n_neurons), dtype=np.int64), np.zeros(0, dtype=np.int64))
        return {"resp": np.array(self.resp, dtype=np.int64).reshape(-1, n_neurons),
                "labels": np.array(self.labels, dtype=np.int64),
                "hits": np.array(self.hits, dtype=np.bool_),
                "prev_resp": np.asarray(prev_resp, dtype=np.int64).reshape(-1, n_neurons),
                "prev_labels": np.asarray(prev_labels, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, size: int, a: dict[str, np.ndarray]) -> "RunningAccuracy":
        """The state written by :meth:`arrays` (shapes checked by the caller)."""
        w = cls(size)
        w.resp = list(a["resp"])
        w.labels = [int(x) for x in a["labels"]]
        w.hits = [bool(x) for x in a["hits"]]
        if len(a["prev_labels"]):
            w.prev = (a["prev_resp"], a["prev_labels"])
            w.readout = VotingReadout().fit(*w.prev)
        return w


class STDPClassifier(ClassifierMixin, BaseEstimator):
    """Unsupervised STDP network (Diehl & Cook 2015) with a spike-count readout.

    Parameters
    ----------
    n_exc : int
        Number of excitatory (and inhibitory) neurons.
    epochs : int
        Passes over the training data in ``fit``.
    readout : {'voting', 'proportion', 'linear'}
        How ``predict`` turns spike counts into classes (all three are fitted).
    model : str or path, optional
        A Diehl & Cook model file (TOML); default: the original parameters.
    model_params : dict, optional
        Overrides of :class:`~snnsim.learning.diehl_cook.DiehlCookParams` fields (SI units), applied
        after ``model``; e.g. ``{"norm_target": 10.0, "intensity": 8.0}``.
    input_max : float
        Pixel value that maps to 255 (255 for MNIST, 16 for the 8x8 digits).
    rest_mode : {'simulate', 'reset'}
        Simulate the pause between examples (original) or reset state instead (faster).
    n_label : int, optional
        Label the neurons with the last ``n_label`` training examples only (default: all).
    n_jobs : int
        Threads used for the frozen passes (labelling and prediction); each thread runs its
        own copy of the trained network, so results depend on ``n_jobs`` (not on timing).
    engine : str
        Simulation engine (``"numba"``).
    seed : int
        Seed of the network and of the training order.
    progress : bool
        Show tqdm progress bars.
    checkpoint_dir : str or path, optional
        Write a checkpoint there every ``checkpoint_every`` training examples and resume
        from the last one when ``fit`` is called again with the same settings.
    checkpoint_every : int
        Training examples between checkpoints.
    stdp : bool
        Learn with STDP (True) or keep the initial random weights (a control; the adaptive
        thresholds still adapt).
    batch_size : int
        With ``engine="cuda"``, frozen passes run this many examples at once as independent
        copies of the network (each from the same state); 1 = one example after another.

    Attributes
    ----------
    classes_, n_features_in_, network_ (the trained :class:`DiehlCookNetwork`),
    readouts_ (dict name -> fitted readout), seconds_per_train_image_,
    stats_ (dict: ``seconds_per_test_image`` and ``synaptic_events_per_test_image`` of the
    last frozen pass).
    """

    #: Examples per window of the running accuracy shown while training (``training_curve_``).
    curve_window = 250

    def __init__(self, n_exc: int = 100, epochs: int = 1, readout: str = "voting",
                 model: str | os.PathLike | None = None, model_params: dict | None = None,
                 input_max: float = 255.0, rest_mode: str = "simulate", n_label: int | None = None,
                 n_jobs: int = 1, engine: str = "numba", seed: int = 0, progress: bool = False,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 1000,
                 stdp: bool = True, batch_size: int = 1):
        self.n_exc = n_exc
        self.epochs = epochs
        self.readout = readout
        self.model = model
        self.model_params = model_params
        self.input_max = input_max
        self.rest_mode = rest_mode
        self.n_label = n_label
        self.n_jobs = n_jobs
        self.engine = engine
        self.seed = seed
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.stdp = stdp
        self.batch_size = batch_size

    # -- helpers ------------------------------------------------------------------------------
    def _params(self) -> DiehlCookParams:
        if self.readout not in READOUTS:
            raise ParameterError(f"STDPClassifier.readout must be one of {READOUTS}, got {self.readout!r}")
        for name in ("n_exc", "epochs", "n_jobs", "checkpoint_every", "batch_size", "n_label"):
            v = getattr(self, name)
            if name == "n_label" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"STDPClassifier.{name} must be an integer >= 1"
                                     f"{' or None' if name == 'n_label' else ''}, got {v!r}")
        overrides = dict(self.model_params or {})
        overrides["n_exc"] = int(self.n_exc)
        if self.model is not None:
            return load_model(self.model, **overrides)
        return DiehlCookParams(**overrides)

    def _validate(self, X, y=None, reset: bool = False):
        """scikit-learn input validation (images (n, H, W) are flattened first), then the
        pixel-intensity checks of snnsim."""
        if hasattr(X, "ndim") and getattr(X, "ndim", 2) > 2 and not hasattr(X, "tocsr"):
            X = np.asarray(X).reshape(X.shape[0], -1)
        if y is not None or reset:
            X, y = validate_data(self, X, y, reset=reset, dtype=np.float64)
        else:
            X = validate_data(self, X, reset=reset, dtype=np.float64)
        check_non_negative(X, "STDPClassifier")
        if X.size and X.max() > self.input_max * (1 + 1e-9):
            raise ParameterError(f"X has values up to {X.max():.6g} > input_max = {self.input_max}; "
                                 "set input_max to the largest possible pixel value")
        return X, y

    def _rates(self, X) -> np.ndarray:
        """Input rates of validated, flattened pixel data."""
        return intensity_to_rates(np.asarray(X, dtype=float), self.input_max,
                                  self._params_.rate_per_level)

    def _bar(self, total: int, desc: str):
        if self.progress:  # tqdm.auto warns in kernels without ipywidgets: only when shown
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="img", disable=not self.progress, leave=False,
                    dynamic_ncols=True, mininterval=0.5)

    def _build(self, n_features: int) -> None:
        self._params_ = self._params()
        self.network_ = DiehlCookNetwork(self._params_, n_features, seed=self.seed,
                                         engine=self.engine, rest_mode=self.rest_mode)
        self.n_features_in_ = n_features
        self.n_trained_ = 0
        self.train_seconds_ = 0.0
        self.stats_: dict = {}   # timings of the last frozen pass (updated in place)
        self.training_curve_: list[tuple[int, float]] = []
        self._curve_window: RunningAccuracy | None = None

    # -- training -------------------------------------------------------------------------------
    def _train(self, rates: np.ndarray, y_monitor: np.ndarray | None = None) -> None:
        """Unsupervised STDP over ``rates`` (in the given order), with checkpoints.

        ``y_monitor`` (labels of the same examples) is used only to show a running accuracy,
        as Diehl & Cook's code does: every ``window`` examples the neurons are labelled from
        their responses (with learning on) in the last window, and the next window's
        examples are predicted with those labels.  It never influences learning."""
        from .. import checkpoint as ckpt
        dc = self.network_
        dc.learning = True
        if not self.stdp:  # control: normalised random weights, no STDP
            if getattr(self, "_resume_from", 0) == 0:
                dc.network.normalize_weights(dc.proj)
            dc.proj.plastic = False
        t0 = time.perf_counter()
        start = getattr(self, "_resume_from", 0)
        self._resume_from = 0
        # the window continues where a checkpoint left it (resuming mid-epoch), else anew
        window = getattr(self, "_curve_window", None)
        if start == 0 or window is None or window.size != self.curve_window:
            window = self._curve_window = RunningAccuracy(self.curve_window)
        with self._bar(len(rates), "training") as bar:
            bar.update(start)
            for k in range(start, len(rates)):
                counts = dc.present(rates[k])
                self.n_trained_ += 1
                if y_monitor is not None:
                    acc = window.add(counts, y_monitor[k])
                    if acc is not None:
                        self.training_curve_.append((self.n_trained_, acc))
                        bar.set_postfix(acc=f"{100 * acc:.1f}%")
                bar.update(1)
                if (self.checkpoint_dir is not None and (k + 1) % self.checkpoint_every == 0
                        and k + 1 < len(rates)):
                    self.train_seconds_ += time.perf_counter() - t0
                    ckpt.save_classifier_checkpoint(self, self.n_trained_)
                    t0 = time.perf_counter()
        self.train_seconds_ += time.perf_counter() - t0

    def _order(self, n: int, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 7, epoch]).permutation(n)

    def fit(self, X, y) -> "STDPClassifier":
        """Train on images ``X`` (n, n_pixels) or (n, H, W) without using ``y``, then label the
        neurons with ``y``.  Returns self."""
        from .. import checkpoint as ckpt
        X, y = self._validate(X, y, reset=True)
        check_classification_targets(y)
        n_features = X.shape[1]
        fp = ckpt.data_fingerprint(X) if self.checkpoint_dir else None
        self._checkpoint_fingerprint = fp
        resumed = (ckpt.try_resume_classifier(self, n_features, fingerprint=fp)
                   if self.checkpoint_dir else None)
        if resumed is None:
            self._build(n_features)
        self.stats_ = {}
        rates = self._rates(X)
        # the running accuracy works on class indices (any label type; a checkpoint keeps ints)
        codes = np.searchsorted(np.unique(y), y)
        done = self.n_trained_
        total = self.epochs * len(rates)
        n = len(rates)
        for epoch in range(self.epochs):
            if done >= (epoch + 1) * n:
                continue
            order = self._order(n, epoch)
            self._resume_from = done - epoch * n
            self._train(rates[order], codes[order])
            done = self.n_trained_
        self.seconds_per_train_image_ = self.train_seconds_ / max(total, 1)
        if self.checkpoint_dir is not None:
            ckpt.save_classifier_checkpoint(self, total, final=True)
        n_label = len(rates) if self.n_label is None else min(int(self.n_label), len(rates))
        counts = self._frozen_counts(rates[len(rates) - n_label:], "labelling")
        self._fit_readouts(counts, y[len(rates) - n_label:])
        return self

    def partial_fit(self, X, y, classes=None) -> "STDPClassifier":
        """Train on one batch of a stream (no reset of what earlier batches taught), then
        relabel the neurons from the examples seen so far (at most the last 2,000 of each
        class are kept for labelling)."""
        first = not hasattr(self, "network_")
        X, y = self._validate(X, y, reset=first)
        check_classification_targets(y)
        self._checkpoint_fingerprint = None
        if first:
            self._build(X.shape[1])
        if first or not hasattr(self, "_label_X"):
            self._label_X = np.zeros((0, self.n_features_in_))
            self._label_y = np.zeros(0, dtype=y.dtype)
        rates = self._rates(X)
        self._train(rates)
        self.seconds_per_train_image_ = self.train_seconds_ / max(self.n_trained_, 1)
        keep_X = np.concatenate([self._label_X, X])
        keep_y = np.concatenate([self._label_y, y])
        sel = np.concatenate([np.flatnonzero(keep_y == c)[-2000:] for c in np.unique(keep_y)])
        self._label_X, self._label_y = keep_X[np.sort(sel)], keep_y[np.sort(sel)]
        return self.relabel()

    def relabel(self) -> "STDPClassifier":
        """Label the neurons again (and refit every readout) from the labelled examples kept
        by :meth:`partial_fit`, learning frozen; for use after the network was changed from
        outside (thresholds, weights).  Returns self."""
        if not hasattr(self, "_label_X") or len(self._label_y) == 0:
            from sklearn.exceptions import NotFittedError
            raise NotFittedError("relabel needs labelled examples stored by partial_fit first")
        counts = self._frozen_counts(self._rates(self._label_X), "labelling")
        self._fit_readouts(counts, self._label_y)
        return self

    def _fit_readouts(self, counts: np.ndarray, y: np.ndarray) -> None:
        self.readouts_ = {"voting": VotingReadout().fit(counts, y),
                          "proportion": ProportionReadout().fit(counts, y),
                          "linear": LinearReadout().fit(counts, y)}
        self.classes_ = self.readouts_["voting"].classes_
        self.label_counts_ = counts

    # -- frozen passes --------------------------------------------------------------------------
    def _clone_network(self, k: int) -> DiehlCookNetwork:
        """A copy of the trained network for frozen pass number ``k`` of a thread pool: built
        with the same seed (so the same synapses and delays, in the same order), given the
        trained weights and thresholds, and its own Poisson random streams."""
        src = self.network_
        dc = DiehlCookNetwork(self._params_, self.n_features_in_, seed=self.seed,
                              engine=self.engine, rest_mode=self.rest_mode)
        dc.proj.set_weights(src.proj.get_weights("sparse")[2])
        dc.exc.set_state(theta=src.exc.get_state("theta"))
        plan = dc.network.compile()
        for p in range(plan.rng.shape[0]):
            state = np.random.SeedSequence(self.seed, spawn_key=(2, k, p)).generate_state(4, np.uint64)
            state[state == 0] = 1
            plan.rng[p] = state
        dc.learning = False
        return dc

    def _frozen_counts(self, rates: np.ndarray, desc: str, y_monitor=None) -> np.ndarray:
        """Excitatory spike counts for every example, learning frozen, shape (n, n_exc).

        With ``y_monitor`` the progress bar shows the running accuracy of the chosen readout."""
        dc = self.network_
        was = dc.learning
        dc.learning = False
        out = np.zeros((len(rates), self._params_.n_exc))
        events0 = dc.synaptic_events
        t0 = time.perf_counter()
        jobs = min(int(self.n_jobs), max(1, len(rates)))
        readout = self.readouts_[self.readout] if y_monitor is not None else None
        hits = [0, 0]

        def done(bar, k):
            if readout is not None:
                hits[0] += int(readout.predict(out[k][None])[0] == y_monitor[k])
                hits[1] += 1
                if hits[1] % 50 == 0:
                    bar.set_postfix(acc=f"{100 * hits[0] / hits[1]:.1f}%")
            bar.update(1)

        with self._bar(len(rates), desc) as bar:
            if self.engine == "cuda" and int(self.batch_size) > 1:
                out[:] = dc.present_batched(rates, int(self.batch_size))
                bar.update(len(rates))
                events = float("nan")  # not counted on this path
            elif jobs == 1:
                for k in range(len(rates)):
                    out[k] = dc.present(rates[k])
                    done(bar, k)
                events = dc.synaptic_events - events0
            else:
                nets = [dc] + [self._clone_network(k) for k in range(1, jobs)]
                chunks = np.array_split(np.arange(len(rates)), jobs)
                lock = threading.Lock()
                before = [n.synaptic_events for n in nets]

                def work(net, idx):
                    for k in idx:
                        out[k] = net.present(rates[k])
                        with lock:
                            done(bar, k)

                threads = [threading.Thread(target=work, args=(n, c)) for n, c in zip(nets, chunks)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                events = sum(n.synaptic_events - b for n, b in zip(nets, before))
        elapsed = time.perf_counter() - t0
        self.stats_["seconds_per_test_image"] = elapsed / max(len(rates), 1)
        self.stats_["synaptic_events_per_test_image"] = events / max(len(rates), 1)
        dc.learning = was
        return out

    def spike_counts(self, X) -> np.ndarray:
        """Spike counts of the excitatory neurons for every example, shape (n, n_exc)."""
        check_is_fitted(self, "network_")
        X, _ = self._validate(X)
        return self._frozen_counts(self._rates(X), "responding")

    def predict(self, X) -> np.ndarray:
        """Class of every example (frozen network, the chosen readout)."""
        check_is_fitted(self, "readouts_")
        return self.readouts_[self.readout].predict(self.spike_counts(X))

    def predict_all(self, X, y=None) -> dict[str, np.ndarray]:
        """Predictions of every readout from one frozen pass: ``{name: labels}``.  With ``y``
        the progress bar shows the running accuracy (``y`` is used for nothing else).  The
        counts are kept in ``stats_["test_counts"]``."""
        check_is_fitted(self, "readouts_")
        X, _ = self._validate(X)
        counts = self._frozen_counts(self._rates(X), "testing",
                                     y_monitor=None if y is None else np.asarray(y))
        self.stats_["test_counts"] = counts
        return {name: r.predict(counts) for name, r in self.readouts_.items()}

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the linear readout's, or the voting/proportion scores
        normalised to sum to one (uniform for an example that drew no spikes)."""
        check_is_fitted(self, "readouts_")
        scores = self.readouts_[self.readout].scores(self.spike_counts(X))
        if self.readout == "linear":
            return scores
        scores = np.clip(scores, 0.0, None)
        total = scores.sum(axis=1, keepdims=True)
        uniform = np.full_like(scores, 1.0 / scores.shape[1])
        return np.divide(scores, total, out=uniform, where=total > 0)

    @property
    def weights_(self) -> np.ndarray:
        """Input->excitatory weights, shape (n_features, n_exc)."""
        check_is_fitted(self, "network_")
        return self.network_.proj.get_weights()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.non_deterministic = False
        return tags
