"""Class-incremental (continual) learning: does STDP remember what backprop forgets?

Tasks are disjoint sets of classes shown one after another (default on ``mnist-mini``:
{0-4} then {5-9}; split-MNIST: five tasks of two consecutive classes).  Every learner sees
exactly the same stream (the same examples in the same order) and, after each task, is
tested on the test examples of every class seen so far.

Learners
--------
``stdp``
    :class:`~snnsim.learning.classifier.STDPClassifier` trained with ``partial_fit`` once per task:
    unsupervised STDP; the readout is refitted after each task from the labelled training
    examples seen so far (at most the last 2,000 per class), so labels never reach the
    synapses.
``stdp_cf``
    The same network (same seed, same stream) with :class:`ControlledForgetting`, a
    consolidation mechanism in the spirit of Allred & Roy (2020): after each task, each
    neuron's selectivity ``s_j`` (its spike share for its preferred class) is measured on the
    stored labelled examples; neurons with ``s_j >= 0.5`` are frozen (``gain_j = 0`` in
    ``proj.plasticity_gain``, up to ``n_exc // n_classes`` neurons per class, highest
    selectivity x response first), and before the next task every neuron that was not
    frozen is recycled (fresh random weights, threshold theta = 0), so that the new classes
    are learnt by free neurons instead of blending into the consolidated ones.  The exact rule is in
    :class:`ControlledForgetting` and ``docs/continual.md``.
``mlp_sequential``
    scikit-learn ``MLPClassifier`` (one hidden layer of ``n_exc`` ReLU units, Adam) trained
    with ``partial_fit`` on one task after the other, ``mlp_epochs`` passes over each task:
    the classic catastrophic-forgetting case.  Its output layer has a unit for every class of
    the stream from the start; predictions are restricted to the classes seen so far.
    A second readout, ``probe``, refits a logistic regression on its hidden layer with the
    same stored labelled examples the STDP readouts use (a control for that advantage).
``mlp_joint``
    The same MLP trained from scratch after each task on all training data of the tasks seen
    so far (the upper bound).

Metrics
-------
``accuracy_matrix[t][l]``: accuracy on the test examples of task ``t``'s classes after
training on task ``l`` (``None`` for ``l < t``).  ``accuracy_seen[l]``: accuracy on all test
examples of the classes seen after task ``l``.  ``final_accuracy_first_task`` =
``accuracy_matrix[0][T-1]``, ``final_accuracy_all`` = ``accuracy_seen[T-1]``.
``average_forgetting`` (Chaudhry et al. 2018) =
``mean over t < T-1 of (max over t <= l < T-1 of a[t][l]) - a[t][T-1]``, see
:func:`average_forgetting`.

Examples
--------
>>> parse_split("0-4,5-9")
[(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
>>> equal_tasks(range(10), 5)
[(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
>>> import numpy as np
>>> round(average_forgetting(np.array([[0.9, 0.6], [np.nan, 0.8]])), 3)
0.3

The ``snnsim continual`` command is in :mod:`snnsim.cli`, the figures (``plot_continual``,
``plot_task_accuracy``, ``plot_seen_accuracy``) in :mod:`snnsim.plot`.
"""

from __future__ import annotations

import dataclasses
import re
import time
import warnings
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import ParameterError

__all__ = [
    "parse_split", "equal_tasks", "task_indices", "average_forgetting", "ControlledForgetting",
    "STDPLearner", "SequentialMLP", "JointMLP", "build_learners",
    "run_continual", "format_table", "format_matrices", "LEARNERS",
]

LEARNERS = ("stdp", "stdp_cf", "mlp_sequential", "mlp_joint")
LABEL_MEMORY = 2000  # labelled examples kept per class for the readouts (as STDPClassifier.partial_fit)

FORGETTING_DEFINITION = (
    "average_forgetting = mean over tasks t < T-1 of [max over evaluation points l with "
    "t <= l < T-1 of a[t][l]] - a[t][T-1], where a[t][l] is the accuracy on task t's test "
    "classes after training on task l and T the number of tasks (Chaudhry et al. 2018)")


# -- tasks ---------------------------------------------------------------------------------------
def parse_split(spec: str, classes: Iterable[int] | None = None) -> list[tuple[int, ...]]:
    """Tasks from a split string: tasks separated by ``,``, classes within a task by ``+``,
    ``a-b`` a range of consecutive classes (both ends included).

    ``"0-4,5-9"`` -> ``[(0..4), (5..9)]``; ``"0+2+4,1+3"`` -> ``[(0, 2, 4), (1, 3)]``.
    Tasks must be non-empty and disjoint; with ``classes``, every class must be one of them
    (classes missing from the split are left out of the stream).

    Raises
    ------
    ParameterError
        On a malformed string, an empty task, a class in two tasks or an unknown class.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ParameterError(f"split must be a string such as '0-4,5-9', got {spec!r}")
    tasks: list[tuple[int, ...]] = []
    owner: dict[int, int] = {}
    for k, part in enumerate(spec.split(",")):
        members: list[int] = []
        for item in part.split("+"):
            item = item.strip()
            m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", item)
            if m is None:
                raise ParameterError(f"split {spec!r}: cannot read {item!r} in task {k + 1} "
                                     "(write classes as 3, ranges as 0-4, join with +, "
                                     "separate tasks with ,)")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            if hi < lo:
                raise ParameterError(f"split {spec!r}: range {item!r} runs backwards")
            members.extend(range(lo, hi + 1))
        for c in members:
            if c in owner and owner[c] != k:
                raise ParameterError(f"split {spec!r}: class {c} is in task {owner[c] + 1} and "
                                     f"task {k + 1}; tasks must be disjoint")
            if c in owner:
                raise ParameterError(f"split {spec!r}: class {c} appears twice in task {k + 1}")
            owner[c] = k
        tasks.append(tuple(members))
    if classes is not None:
        known = set(int(c) for c in classes)
        unknown = sorted(set(owner) - known)
        if unknown:
            raise ParameterError(f"split {spec!r}: class(es) {unknown} are not in the data set "
                                 f"(classes {min(known)}..{max(known)})")
    return tasks


def equal_tasks(classes: Iterable[int], n_tasks: int) -> list[tuple[int, ...]]:
    """Split the sorted ``classes`` into ``n_tasks`` groups of consecutive classes whose sizes
    differ by at most one (the first groups get the extra class)."""
    cls = sorted(set(int(c) for c in classes))
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) \
            or not 1 <= n_tasks <= len(cls):
        raise ParameterError(f"tasks must be an integer from 1 to the number of classes "
                             f"({len(cls)}), got {n_tasks!r}")
    return [tuple(int(c) for c in g) for g in np.array_split(np.array(cls), int(n_tasks))]


def task_indices(y: np.ndarray, tasks: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """Indices (sorted) of the examples of each task's classes in labels ``y``."""
    y = np.asarray(y)
    return [np.flatnonzero(np.isin(y, list(t))) for t in tasks]


# -- metrics ---------------------------------------------------------------------------------------
def average_forgetting(acc: np.ndarray) -> float:
    """Average forgetting of an accuracy matrix ``acc[t, l]`` (task t, after task l; NaN
    where l < t): the mean over tasks t < T-1 of the drop from the best accuracy task t had
    at any evaluation before the last to its accuracy after the last task.  0.0 for a
    single task.

    Examples
    --------
    >>> a = np.array([[0.9, 0.7, 0.5], [np.nan, 0.8, 0.8], [np.nan, np.nan, 0.9]])
    >>> round(average_forgetting(a), 3)   # ((0.9 - 0.5) + (0.8 - 0.8)) / 2
    0.2
    """
    a = np.asarray(acc, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ParameterError(f"accuracy matrix must be square (tasks x evaluation points), got {a.shape}")
    T = a.shape[0]
    if T < 2:
        return 0.0
    drops = [np.nanmax(a[t, t:T - 1]) - a[t, T - 1] for t in range(T - 1)]
    return float(np.mean(drops))


def _summary(acc: np.ndarray, seen: np.ndarray) -> dict:
    """JSON-ready metrics of one learner (NaN -> None)."""
    def clean(x):
        return None if not np.isfinite(x) else float(x)
    T = acc.shape[0]
    return {"accuracy_matrix": [[clean(v) for v in row] for row in acc],
            "accuracy_seen": [clean(v) for v in seen],
            "final_accuracy_first_task": clean(acc[0, T - 1]),
            "final_accuracy_all": clean(seen[T - 1]),
            "average_forgetting": average_forgetting(acc)}


# -- the stability mechanism ------------------------------------------------------------------------
@dataclasses.dataclass
class ControlledForgetting:
    """Consolidate selective neurons, recycle the others: a per-neuron plasticity gain in the
    spirit of Allred & Roy (2020), "Controlled Forgetting".

    *Consolidation* (after each task).  From the frozen responses ``m[c, j]`` -- the mean
    spike count of excitatory neuron j on the stored labelled examples of class c, for every
    class seen so far: the counts the readout was just fitted on -- every neuron gets a
    preferred class ``c_j = argmax_c m[c, j]`` and a selectivity

        s_j = m[c_j, j] / sum_c m[c, j]

    (its spike share for that class: 1/C for a neuron that answers all C classes alike, 1 for
    one that answers a single class).  A neuron that is not frozen yet and has
    ``s_j >= min_share`` is frozen if its class has room in the budget of ``per_class``
    frozen neurons; candidates are taken in order of ``s_j * m[c_j, j]`` (purity times
    response).  The gain of ``proj.plasticity_gain`` is then::

        gain_j = 0  once neuron j has been consolidated (never undone), else 1

    so a frozen neuron's incoming weights never change again.  Frozen neurons keep firing,
    competing and adapting their thresholds.

    *Controlled forgetting* (before each task but the first), with ``recycle=True``: every
    neuron that is not frozen is made a fresh neuron again -- weights drawn afresh from the
    initial distribution (``(U(0, 1) + w_offset) * w_scale``, clipped at ``w_max``) and
    adaptive threshold ``theta = 0``.  Its unconsolidated knowledge is given up on purpose so
    that the new classes are learnt by free, excitable neurons rather than by slowly blending
    old prototypes (without it the network keeps the old classes but learns new ones poorly,
    see ``docs/continual.md``).

    *Threshold equalisation* (``equalize=True``, after consolidating): the adaptive
    thresholds of the neurons consolidated in this task are shifted, all by one amount, so
    that their mean equals the mean theta of the neurons consolidated in earlier tasks, and
    the readouts are refitted.  Theta equalises firing only among neurons that competed for
    the same inputs; groups consolidated on different tasks never did, and the group trained
    last has the highest thresholds (docs/continual.md has the effect on split-MNIST).

    The labels enter only in choosing which neurons to freeze (the same labelled examples the
    readout uses); the weights change by unsupervised STDP alone.

    Parameters
    ----------
    per_class : int, optional
        Most frozen neurons per class; default ``n_exc // n_classes`` with ``n_classes`` the
        number of classes of the whole stream (given to :meth:`after_task`).
    min_share : float
        Selectivity ``s_j`` needed to be frozen (0..1).
    recycle : bool
        Fresh weights and theta = 0 for the neurons not frozen, before each task but the first.
    equalize : bool
        Shift each newly consolidated group's thresholds to the mean of the older groups.
    seed : int
        Seed of the fresh weights.

    Attributes
    ----------
    gain_ : np.ndarray (n_exc,) -- the gains set after the last task.
    frozen_class_ : np.ndarray (n_exc,) -- class a neuron was frozen for, -1 if free.
    selectivity_, response_, preferred_ : np.ndarray (n_exc,) -- ``s_j``, ``m[c_j, j]`` and
        ``c_j`` (a class label) after the last task.
    history_ : list of dict -- per task: neurons frozen then and in all, per class.
    """

    per_class: int | None = None
    min_share: float = 0.5
    recycle: bool = True
    equalize: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.per_class is not None and (isinstance(self.per_class, bool) or
                                           not isinstance(self.per_class, (int, np.integer))
                                           or self.per_class < 1):
            raise ParameterError(f"ControlledForgetting.per_class must be None or an integer >= 1, "
                                 f"got {self.per_class!r}")
        if not 0.0 <= float(self.min_share) <= 1.0:
            raise ParameterError(f"ControlledForgetting.min_share must be in [0, 1], got {self.min_share!r}")
        self.history_: list[dict] = []

    def selectivity(self, counts: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(classes, preferred class index c_j, selectivity s_j, response m[c_j, j])`` of
        spike counts ``counts`` (n_examples, n_exc) with labels ``y``."""
        counts = np.asarray(counts, dtype=float)
        y = np.asarray(y)
        classes = np.unique(y)
        m = np.stack([counts[y == c].mean(axis=0) for c in classes])        # (C, n_exc)
        total = m.sum(axis=0)
        best = np.argmax(m, axis=0)
        resp = m[best, np.arange(m.shape[1])]
        share = np.divide(resp, total, out=np.zeros_like(resp), where=total > 0)
        return classes, best, share, resp

    def after_task(self, clf, n_classes: int) -> np.ndarray:
        """Consolidate after a task (``clf`` was just trained with ``partial_fit``, which
        relabelled its neurons); returns and sets the new gains."""
        proj = clf.network_.proj
        n_exc = proj.post.n
        if not hasattr(self, "frozen_class_"):
            self.frozen_class_ = np.full(n_exc, -1, dtype=np.int64)
        per_class = self.per_class if self.per_class is not None else max(n_exc // max(n_classes, 1), 1)
        classes, best, share, resp = self.selectivity(clf.label_counts_, clf._label_y)
        self.selectivity_, self.response_, self.preferred_ = share, resp, classes[best]
        older = np.flatnonzero(self.frozen_class_ >= 0)     # consolidated in earlier tasks
        cand = np.flatnonzero((self.frozen_class_ < 0) & (share >= self.min_share) & (resp > 0))
        newly = []
        for k, c in enumerate(classes):
            room = per_class - int(np.sum(self.frozen_class_ == c))
            mine = cand[best[cand] == k]
            if room <= 0 or mine.size == 0:
                continue
            order = mine[np.argsort(-(share[mine] * resp[mine]), kind="stable")][:room]
            self.frozen_class_[order] = int(c)
            newly.extend(order.tolist())
        gain = np.where(self.frozen_class_ >= 0, 0.0, 1.0)
        proj.plasticity_gain = gain
        self.gain_ = gain
        shift = 0.0
        if self.equalize and newly and older.size:
            # a second labelling pass: the shift changes the responses the readouts saw
            theta = clf.network_.exc.get_state("theta")
            shift = float(theta[older].mean() - theta[newly].mean())
            theta[newly] += shift
            clf.network_.exc.set_state(theta=theta)
            clf.relabel()
        self.history_.append({
            "theta_shift_mv": 1e3 * shift,
            "frozen_now": len(newly), "frozen_total": int(np.sum(gain == 0)),
            "per_class_budget": int(per_class),
            "frozen_per_class": {int(c): int(np.sum(self.frozen_class_ == c)) for c in classes}})
        return gain

    def before_task(self, clf, task: int) -> np.ndarray:
        """Recycle the neurons that are not frozen (``recycle``; tasks after the first):
        fresh weights and theta = 0.  Returns the indices of the recycled neurons."""
        if not self.recycle or task == 0 or not hasattr(self, "frozen_class_"):
            return np.zeros(0, dtype=np.int64)
        dc = clf.network_
        p = dc.params
        free = np.flatnonzero(self.frozen_class_ < 0)
        pre, post, w = dc.proj.get_weights("sparse")
        renew = self.frozen_class_[post] < 0
        rng = np.random.default_rng([self.seed, 11, task])
        w[renew] = np.minimum((rng.random(int(renew.sum())) + p.w_offset) * p.w_scale, p.w_max)
        dc.proj.set_weights(w)
        theta = dc.exc.get_state("theta")
        theta[free] = 0.0
        dc.exc.set_state(theta=theta)
        return free

    def describe(self) -> dict:
        return {"mechanism": "ControlledForgetting", **dataclasses.asdict(self)}


# -- learners --------------------------------------------------------------------------------------
class _LabelMemory:
    """The labelled training examples seen so far, at most ``per_class`` (the last) per class."""

    def __init__(self, per_class: int = LABEL_MEMORY):
        self.per_class = per_class
        self.X = None
        self.y = None

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        if self.X is None:
            self.X, self.y = X[:0], np.asarray(y)[:0]
        keep_X = np.concatenate([self.X, X])
        keep_y = np.concatenate([self.y, y])
        sel = np.sort(np.concatenate([np.flatnonzero(keep_y == c)[-self.per_class:]
                                      for c in np.unique(keep_y)]))
        self.X, self.y = keep_X[sel], keep_y[sel]


class STDPLearner:
    """An :class:`~snnsim.learning.classifier.STDPClassifier` trained with ``partial_fit`` per task,
    optionally with a :class:`ControlledForgetting` mechanism (``n_classes``: classes of
    the whole stream, for its default budget)."""

    readouts = ("voting", "proportion", "linear")
    repeats_stream = True     # gets the task's stream ``epochs`` times (the MLPs: once)

    def __init__(self, clf, stability: ControlledForgetting | None = None, n_classes: int = 10):
        self.clf = clf
        self.stability = stability
        self.n_classes = n_classes
        self.primary = clf.readout

    def learn(self, X: np.ndarray, y: np.ndarray, task: int) -> None:
        if self.stability is not None:
            self.stability.before_task(self.clf, task)
        self.clf.partial_fit(X, y)
        if self.stability is not None:
            self.stability.after_task(self.clf, self.n_classes)

    def predict_all(self, X: np.ndarray, seen: Sequence[int]) -> dict[str, np.ndarray]:
        return self.clf.predict_all(X)


def _mlp(n_hidden: int, seed: int, batch: int):
    from sklearn.neural_network import MLPClassifier
    return MLPClassifier(hidden_layer_sizes=(n_hidden,), random_state=seed, batch_size=batch,
                         learning_rate_init=1e-3)


def _masked_predict(model, X: np.ndarray, seen: Sequence[int]) -> np.ndarray:
    proba = model.predict_proba(X)
    allowed = np.isin(model.classes_, list(seen))
    proba = np.where(allowed[None, :], proba, -np.inf)
    return model.classes_[np.argmax(proba, axis=1)]


class SequentialMLP:
    """Backprop MLP trained with ``partial_fit`` on each task in turn (``epochs`` passes),
    never seeing earlier tasks again.  Readouts: ``output`` (its softmax, restricted to the
    classes seen so far) and ``probe`` (logistic regression on its hidden layer, refitted
    after each task on the stored labelled examples, as the STDP readouts are)."""

    readouts = ("output", "probe")
    repeats_stream = False    # its own ``epochs`` passes; run_continual's ``epochs`` is STDP's

    def __init__(self, classes: Sequence[int], n_hidden: int = 100, epochs: int = 10,
                 max_value: float = 255.0, seed: int = 0, batch_size: int = 128):
        self.classes = np.asarray(sorted(classes))
        self.model = _mlp(n_hidden, seed, batch_size)
        self.epochs = epochs
        self.max_value = max_value
        self.seed = seed
        self.batch_size = batch_size
        self.memory = _LabelMemory()
        self.primary = "output"

    def _hidden(self, X):
        h = X / self.max_value @ self.model.coefs_[0] + self.model.intercepts_[0]
        return np.maximum(h, 0.0)

    def learn(self, X: np.ndarray, y: np.ndarray, task: int) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        Xs = np.asarray(X, dtype=float) / self.max_value
        self.model.set_params(batch_size=min(self.batch_size, len(y)))
        for e in range(self.epochs):
            order = np.random.default_rng([self.seed, 5, task, e]).permutation(len(y))
            self.model.partial_fit(Xs[order], y[order], classes=self.classes)
        self.memory.add(X, y)
        h = self._hidden(self.memory.X)
        self._scale = max(float(h.max()), 1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.probe = LogisticRegression(max_iter=2000).fit(h / self._scale, self.memory.y)

    def predict_all(self, X: np.ndarray, seen: Sequence[int]) -> dict[str, np.ndarray]:
        Xs = np.asarray(X, dtype=float) / self.max_value
        return {"output": _masked_predict(self.model, Xs, seen),
                "probe": self.probe.predict(self._hidden(np.asarray(X, dtype=float)) / self._scale)}


class JointMLP:
    """The same MLP trained from scratch, after each task, on all training data of the tasks
    seen so far (``epochs`` epochs): the upper bound."""

    readouts = ("output",)
    repeats_stream = False

    def __init__(self, classes: Sequence[int], n_hidden: int = 100, epochs: int = 10,
                 max_value: float = 255.0, seed: int = 0, batch_size: int = 128):
        self.n_hidden, self.epochs, self.max_value = n_hidden, epochs, max_value
        self.seed, self.batch_size = seed, batch_size
        self.X: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.primary = "output"

    def learn(self, X: np.ndarray, y: np.ndarray, task: int) -> None:
        from sklearn.exceptions import ConvergenceWarning
        self.X.append(np.asarray(X, dtype=float) / self.max_value)
        self.y.append(np.asarray(y))
        n = sum(len(v) for v in self.y)
        self.model = _mlp(self.n_hidden, self.seed, min(self.batch_size, n))
        self.model.set_params(max_iter=self.epochs, shuffle=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(np.concatenate(self.X), np.concatenate(self.y))

    def predict_all(self, X: np.ndarray, seen: Sequence[int]) -> dict[str, np.ndarray]:
        return {"output": _masked_predict(self.model, np.asarray(X, dtype=float) / self.max_value, seen)}


def build_learners(names: Sequence[str], *, n_exc: int, classes: Sequence[int], max_value: float,
                   model=None, model_params: dict | None = None, readout: str = "voting",
                   rest_mode: str = "reset", n_jobs: int = 2, engine: str = "numba", seed: int = 0,
                   progress: bool = False, mlp_epochs: int = 10,
                   stability: ControlledForgetting | None = None) -> dict:
    """The learners by name (see :data:`LEARNERS`), built alike: the two STDP learners are the
    same network (same seed), the MLPs have ``n_exc`` hidden units."""
    from ..classifier import STDPClassifier
    if not names:
        raise ParameterError(f"no learners given; choose from {', '.join(LEARNERS)}")
    unknown = [n for n in names if n not in LEARNERS]
    if unknown:
        raise ParameterError(f"unknown learner(s) {unknown}; choose from {', '.join(LEARNERS)}")

    def stdp():
        return STDPClassifier(n_exc=n_exc, model=model, model_params=model_params, readout=readout,
                              input_max=max_value, rest_mode=rest_mode, n_jobs=n_jobs,
                              engine=engine, seed=seed, progress=progress)

    out = {}
    for name in names:
        if name == "stdp":
            out[name] = STDPLearner(stdp(), None, n_classes=len(classes))
        elif name == "stdp_cf":
            cf = stability if stability is not None else ControlledForgetting(seed=seed)
            out[name] = STDPLearner(stdp(), cf, n_classes=len(classes))
        elif name == "mlp_sequential":
            out[name] = SequentialMLP(classes, n_hidden=n_exc, epochs=mlp_epochs,
                                      max_value=max_value, seed=seed)
        else:
            out[name] = JointMLP(classes, n_hidden=n_exc, epochs=mlp_epochs,
                                 max_value=max_value, seed=seed)
    return out


# -- the experiment ---------------------------------------------------------------------------------
def run_continual(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, tasks: Sequence[Sequence[int]], learners: dict,
                  *, seed: int = 0, epochs: int = 1,
                  say: Callable[[str], None] = lambda s: None) -> dict:
    """Run ``learners`` ({name: learner}) on the class-incremental stream ``tasks``.

    Images are flattened.  The stream of task k is its training examples in an order drawn
    from ``seed`` (``epochs`` passes, each freshly shuffled); every STDP learner gets the
    same arrays, and learners with ``repeats_stream = False`` (the MLPs, which make their own
    ``mlp_epochs`` passes) get the first pass only, so ``epochs`` never multiplies their
    passes.  After each task every learner predicts the test examples of all classes seen so
    far.  Returns ``{name: {readout: summary}}`` plus timings, see :func:`_summary`.
    """
    x_train = np.asarray(x_train).reshape(len(x_train), -1)
    x_test = np.asarray(x_test).reshape(len(x_test), -1)
    T = len(tasks)
    tr_idx = task_indices(y_train, tasks)
    te_idx = task_indices(y_test, tasks)
    for k, (a, b) in enumerate(zip(tr_idx, te_idx)):
        if a.size == 0 or b.size == 0:
            raise ParameterError(f"task {k + 1} (classes {list(tasks[k])}) has "
                                 f"{a.size} training and {b.size} test examples; it needs both")
    acc = {name: {r: np.full((T, T), np.nan) for r in L.readouts} for name, L in learners.items()}
    seen_acc = {name: {r: np.full(T, np.nan) for r in L.readouts} for name, L in learners.items()}
    timing = {name: {"train_seconds": [], "eval_seconds": []} for name in learners}
    for k in range(T):
        rng = np.random.default_rng([seed, 3, k])
        order = np.concatenate([rng.permutation(tr_idx[k]) for _ in range(epochs)])
        X, y = x_train[order].astype(float), y_train[order]
        once = slice(0, tr_idx[k].size)           # the first pass, for learners that repeat
        X1, y1 = X[once], y[once]                 # it themselves (the MLPs: mlp_epochs)
        seen_classes = [c for t in tasks[:k + 1] for c in t]
        test = np.concatenate(te_idx[:k + 1])
        Xt, yt = x_test[test].astype(float), y_test[test]
        task_of = np.concatenate([np.full(te_idx[t].size, t) for t in range(k + 1)])
        for name, L in learners.items():
            t0 = time.perf_counter()
            if getattr(L, "repeats_stream", True):
                L.learn(X, y, k)
            else:
                L.learn(X1, y1, k)
            t1 = time.perf_counter()
            preds = L.predict_all(Xt, seen_classes)
            t2 = time.perf_counter()
            timing[name]["train_seconds"].append(t1 - t0)
            timing[name]["eval_seconds"].append(t2 - t1)
            for r, p in preds.items():
                hit = p == yt
                seen_acc[name][r][k] = hit.mean()
                for t in range(k + 1):
                    acc[name][r][t, k] = hit[task_of == t].mean()
            main = L.primary
            say(f"task {k + 1}/{T} {list(tasks[k])}: {name:15s} seen {100 * seen_acc[name][main][k]:5.1f} %  "
                "per task " + " ".join(f"{100 * acc[name][main][t, k]:5.1f}" for t in range(k + 1))
                + f"   ({t1 - t0:.1f} s train, {t2 - t1:.1f} s test)")
    out = {}
    for name, L in learners.items():
        main = L.primary
        entry = _summary(acc[name][main], seen_acc[name][main])
        entry["readout"] = main
        entry["readouts"] = {r: _summary(acc[name][r], seen_acc[name][r]) for r in L.readouts}
        tm = timing[name]
        entry["timings"] = {**tm, "total_train_seconds": float(sum(tm["train_seconds"])),
                            "total_eval_seconds": float(sum(tm["eval_seconds"]))}
        out[name] = entry
    return out


def format_table(results: dict, extra_readouts: dict[str, Sequence[str]] | None = None) -> str:
    """A plain-text table: accuracy on all seen classes after each task, on the first task's
    classes after the last one, and the average forgetting, one row per learner (and per
    readout named in ``extra_readouts``, e.g. ``{"mlp_sequential": ["probe"]}``)."""
    rows = []
    for name, entry in results.items():
        rows.append((f"{name} ({entry['readout']})", entry))
        for r in (extra_readouts or {}).get(name, ()):
            rows.append((f"{name} ({r})", entry["readouts"][r]))
    T = len(next(iter(results.values()))["accuracy_seen"])
    head = ["learner"] + [f"after {k + 1}" for k in range(T)] + ["first task", "forgetting", "train s"]
    lines = [head]
    for label, e in rows:
        tm = results[label.split(" (")[0]]["timings"]["total_train_seconds"]
        lines.append([label] + [f"{100 * v:.1f}" for v in e["accuracy_seen"]]
                     + [f"{100 * e['final_accuracy_first_task']:.1f}",
                        f"{100 * e['average_forgetting']:.1f}", f"{tm:.0f}"])
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    text = []
    for k, r in enumerate(lines):
        text.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            text.append("  ".join("-" * w for w in widths))
    text.append("accuracy (%) on the test examples of all classes seen after each task; first task: "
                "on the first task's classes after the last task; forgetting (% points): "
                "mean over earlier tasks of best earlier accuracy - final accuracy")
    return "\n".join(text)


def format_matrices(results: dict, tasks: Sequence[Sequence[int]]) -> str:
    """Each learner's accuracy matrix (rows: task, columns: after task k) as text."""
    T = len(tasks)
    out = []
    for name, e in results.items():
        out.append(f"{name} ({e['readout']}): accuracy (%) on each task's classes after each task")
        out.append("  task              " + "".join(f"{'after ' + str(k + 1):>10s}" for k in range(T)))
        for t, row in enumerate(e["accuracy_matrix"]):
            label = f"{t + 1} {{{','.join(map(str, tasks[t]))}}}"
            out.append(f"  {label:16s}" + "".join(f"{'-' if v is None else f'{100 * v:.1f}':>10s}"
                                                for v in row))
        out.append("")
    return "\n".join(out)


# -- names that moved ------------------------------------------------------------------------------
_MOVED_TO_PLOT = ("plot_task_accuracy", "plot_seen_accuracy", "plot_continual")


def __getattr__(name: str):
    # the plots live in snnsim.plot; old code that took them from here keeps working
    if name in _MOVED_TO_PLOT:
        from .. import plot
        return getattr(plot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
