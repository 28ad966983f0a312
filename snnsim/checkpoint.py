"""Checkpoints of :class:`~snnsim.classifier.STDPClassifier` training.

``STDPClassifier(checkpoint_dir=...)`` calls :func:`save_classifier_checkpoint` every
``checkpoint_every`` training examples and at the end of training, and
:func:`try_resume_classifier` at the start of ``fit``.  A checkpoint is one HDF5 file,
``<checkpoint_dir>/checkpoint.h5``: the trained network in the layout of
:mod:`snnsim.io` (description and complete dynamic state, random streams included) plus a
``/classifier`` group with the estimator's settings (as JSON text: data, not code) and its
progress counters (``docs/hdf5-format.md``).  It is written atomically (temporary file,
``fsync``, rename), so a job killed at any moment leaves the previous complete checkpoint;
the one before that is kept as ``checkpoint.prev.h5``.

Resuming continues bitwise: training N examples straight gives the same weights as
training some, stopping (even by killing the process) after a checkpoint, and resuming in a
new process, because the network's state, its Poisson random streams and its builder
generator are all restored and the training order is a fixed permutation per epoch.  The
running-accuracy window (``/classifier/curve_window``, since checkpoint version 2) is kept
too, so the resumed ``training_curve_`` is the uninterrupted one.

Examples
--------
>>> import tempfile
>>> from snnsim import datasets
>>> from snnsim.classifier import STDPClassifier
>>> ds = datasets.load_digits()
>>> X, y = ds.x_train[:20], ds.y_train[:20]
>>> folder = tempfile.mkdtemp()
>>> kw = dict(n_exc=5, input_max=16, rest_mode="reset", checkpoint_dir=folder, checkpoint_every=10)
>>> a = STDPClassifier(**kw).fit(X, y)
>>> b = STDPClassifier(**kw)
>>> try_resume_classifier(b, 64)      # what fit() does first: training is already complete
20
>>> bool((b.weights_ == a.weights_).all())
True
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from . import io
from .errors import FileFormatError, ParameterError
from .monitors import RateMonitor, SpikeMonitor

__all__ = ["CHECKPOINT_FILE", "PREVIOUS_FILE", "save_classifier_checkpoint",
           "try_resume_classifier", "read_checkpoint_info", "attach_diehl_cook", "data_fingerprint"]

CHECKPOINT_FILE = "checkpoint.h5"
#: Version of the ``/classifier`` group: 1 (snnsim 0.1.0, no attribute) has no
#: ``curve_window``; 2 adds it (the running-accuracy window, so that a resumed run's
#: ``training_curve_`` equals an uninterrupted one's).  Both are read.
CHECKPOINT_VERSION = 2
PREVIOUS_FILE = "checkpoint.prev.h5"
# settings that do not change what training computes (checkpoint_dir: where the file is;
# model: compared through the parameters it resolves to, so a moved model file still matches)
_IGNORED = ("progress", "n_jobs", "checkpoint_every", "checkpoint_dir", "model")
_MISSING = "<not set>"


def _jsonable(name: str, v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(f"{name}[{k!r}]", x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(f"{name}[{i}]", x) for i, x in enumerate(v)]
    raise ParameterError(f"cannot checkpoint STDPClassifier.{name} = {v!r}: checkpoints store "
                         "settings as JSON (numbers, strings, lists, dicts)")


def _settings(clf) -> dict:
    params = clf.get_params(deep=False)
    return json.loads(json.dumps({k: _jsonable(k, v) for k, v in params.items() if k not in _IGNORED},
                                 sort_keys=True))


def _model_settings(params) -> dict:
    return json.loads(json.dumps({k: _jsonable(k, v) for k, v in params.to_dict().items()},
                                 sort_keys=True))


def data_fingerprint(X) -> str:
    """A short SHA-256 fingerprint of a training array (shape, dtype and bytes)."""
    import hashlib
    a = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{a.shape}|{a.dtype.str}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:32]


def _keep_previous(current: Path, previous: Path) -> None:
    """Make ``previous`` a copy of ``current`` (a hard link where possible), atomically."""
    tmp = previous.with_name(f".{previous.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(current, tmp)
    except OSError:
        shutil.copy2(current, tmp)
    os.replace(tmp, previous)


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files left by a checkpoint write that was killed (``fit`` starting on
    a checkpoint folder means no other process is writing there)."""
    if not folder.is_dir():
        return
    for name in (CHECKPOINT_FILE, PREVIOUS_FILE):
        for tmp in folder.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def save_classifier_checkpoint(clf, n_done: int, final: bool = False) -> Path:
    """Write ``<clf.checkpoint_dir>/checkpoint.h5`` (atomically) and return its path.

    Parameters
    ----------
    clf : STDPClassifier
        A classifier being trained (``network_`` built).
    n_done : int
        Progress as the caller counts it (stored for information; resuming uses
        ``clf.n_trained_``, the number of training presentations done over all epochs).
    final : bool
        True for the checkpoint written when training is complete.
    """
    folder = Path(clf.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_FILE
    dc = clf.network_
    settings = json.dumps(_settings(clf), sort_keys=True)
    model = json.dumps(_model_settings(clf._params_), sort_keys=True)
    with io.new_file(path) as f:  # atomic, and sealed with its checksum (see snnsim.io.seal)
        io.write_network(f, dc.network)
        g = f.create_group("classifier")
        g.attrs["estimator"] = type(clf).__name__
        g.attrs["settings_json"] = settings
        g.attrs["model_params_json"] = model
        g.attrs["n_features_in"] = np.int64(clf.n_features_in_)
        g.attrs["n_trained"] = np.int64(clf.n_trained_)
        g.attrs["train_seconds"] = np.float64(clf.train_seconds_)
        g.attrs["n_done"] = np.int64(n_done)
        g.attrs["final"] = np.bool_(final)
        g.attrs["checkpoint_version"] = np.int64(CHECKPOINT_VERSION)
        curve = np.array(getattr(clf, "training_curve_", []), dtype=np.float64).reshape(-1, 2)
        io._ds(g, "training_curve", curve)
        window = getattr(clf, "_curve_window", None)
        if window is not None:
            w = g.create_group("curve_window")
            w.attrs["size"] = np.int64(window.size)
            for name, arr in window.arrays(dc.params.n_exc).items():
                io._ds(w, name, arr)
        fp = getattr(clf, "_checkpoint_fingerprint", None)
        if fp is not None:
            g.attrs["data_fingerprint"] = str(fp)
        d = g.create_group("diehl_cook")
        d.attrs["n_input"] = np.int64(dc.n_input)
        d.attrs["engine"] = str(dc.engine)
        d.attrs["rest_mode"] = str(dc.rest_mode)
        d.attrs["engine_options_json"] = json.dumps(_jsonable("engine_options",
                                                              dict(dc.engine_options)))
        d.attrs["synaptic_events"] = np.int64(dc.synaptic_events)
        d.attrs["n_presentations"] = np.int64(dc.n_presentations)
        if path.exists():
            _keep_previous(path, folder / PREVIOUS_FILE)
    return path


def read_checkpoint_info(path: str | os.PathLike) -> dict:
    """The ``/classifier`` attributes of a checkpoint file as a dict (settings decoded)."""
    src = os.fspath(path)
    with io.open_snnsim(src) as f:
        g = _classifier_group(f, src)
        info = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in g.attrs.items()}
    for k in ("settings_json", "model_params_json"):
        info[k[:-5]] = json.loads(info.pop(k))
    return info


def _classifier_group(f: h5py.File, src: str) -> h5py.Group:
    if "classifier" not in f or not isinstance(f["classifier"], h5py.Group):
        raise FileFormatError(f"{src!r} is an snnsim file but not a classifier checkpoint "
                              "(no /classifier group)")
    return f["classifier"]


def _diff(stored: dict, current: dict) -> list[str]:
    keys = sorted(set(stored) | set(current))
    return [f"{k}: checkpoint has {stored.get(k, _MISSING)!r}, this classifier {current.get(k, _MISSING)!r}"
            for k in keys if stored.get(k, _MISSING) != current.get(k, _MISSING)]


def try_resume_classifier(clf, n_features: int, fingerprint: str | None = None) -> int | None:
    """Restore ``clf`` from ``<clf.checkpoint_dir>/checkpoint.h5`` if there is one.

    Returns ``clf.n_trained_`` (training presentations already done) after restoring
    ``_params_``, ``network_``, ``n_features_in_``, ``n_trained_``, ``train_seconds_`` and
    ``training_curve_`` with the running-accuracy window it is computed from (checkpoint
    version 2; a version-1 checkpoint resumed mid-epoch starts a new window, as snnsim 0.1.0
    did);
    None when there is no checkpoint (or no ``checkpoint_dir``).  Temporary files left in
    the folder by a write that was killed are deleted.

    Raises
    ------
    ParameterError
        The checkpoint was written with other settings (every ``get_params()`` entry except
        ``progress``, ``n_jobs``, ``checkpoint_every`` and ``checkpoint_dir``; the ``model``
        file is compared by the parameters it gives), another number of features, or other
        training data (when a ``fingerprint`` is given and one is stored).  Nothing is
        overwritten: use another ``checkpoint_dir`` or delete the file to start over.
    FileFormatError
        The file is not a readable classifier checkpoint.
    """
    if getattr(clf, "checkpoint_dir", None) is None:
        return None
    _remove_stale_temporaries(Path(clf.checkpoint_dir))
    path = Path(clf.checkpoint_dir) / CHECKPOINT_FILE
    if not path.exists():
        return None
    src = str(path)
    how = ("use another checkpoint_dir, or delete the checkpoint files to start training over")
    params = clf._params()
    with io.open_snnsim(src) as f:
        g = _classifier_group(f, src)
        try:
            stored = json.loads(str(g.attrs["settings_json"]))
            stored_model = json.loads(str(g.attrs["model_params_json"]))
            n_stored = int(g.attrs["n_features_in"])
            n_trained = int(g.attrs["n_trained"])
            seconds = float(g.attrs["train_seconds"])
            d = g["diehl_cook"]
            counters = dict(synaptic_events=int(d.attrs["synaptic_events"]),
                            n_presentations=int(d.attrs["n_presentations"]))
            engine_options = json.loads(str(d.attrs["engine_options_json"]))
            stored_fp = g.attrs.get("data_fingerprint")
            curve = ([(int(n), float(a)) for n, a in g["training_curve"][()]]
                     if "training_curve" in g else [])
            version = int(g.attrs.get("checkpoint_version", 1))
        except (KeyError, ValueError, TypeError) as exc:
            raise FileFormatError(f"{src!r}: damaged classifier checkpoint ({exc})") from None
        if version not in (1, CHECKPOINT_VERSION):
            raise FileFormatError(f"{src!r}: classifier checkpoint version {version} is not known "
                                  f"to this snnsim (it reads versions 1 to {CHECKPOINT_VERSION}); "
                                  "a newer snnsim wrote it")
        diff = _diff(stored, _settings(clf)) + _diff(stored_model, _model_settings(params))
        if diff:
            raise ParameterError(f"checkpoint {src!r} was written by an STDPClassifier with other "
                                 f"settings ({'; '.join(diff)}); {how}")
        if n_stored != n_features:
            raise ParameterError(f"checkpoint {src!r} was trained on {n_stored} features, but X has "
                                 f"{n_features}; {how}")
        if fingerprint is not None and stored_fp is not None and str(stored_fp) != fingerprint:
            raise ParameterError(f"checkpoint {src!r} was written while training on other data "
                                 f"(fingerprint {str(stored_fp)} != {fingerprint}); {how}")
        window = _read_window(g, src, params.n_exc) if "curve_window" in g else None
        net, _ = io.read_network(f, src)
    dc = attach_diehl_cook(params, net, n_features, engine=clf.engine, rest_mode=clf.rest_mode,
                           engine_options=engine_options, **counters)
    clf._params_ = params
    clf.network_ = dc
    clf.n_features_in_ = n_features
    clf.n_trained_ = n_trained
    clf.train_seconds_ = seconds
    clf.training_curve_ = curve
    clf._curve_window = window
    return n_trained


def _read_window(g: h5py.Group, src: str, n_exc: int):
    """The running-accuracy window stored in ``/classifier/curve_window``, checked."""
    from .learning.classifier import RunningAccuracy
    w = g["curve_window"]
    what = f"{src!r}: /classifier/curve_window"
    if not isinstance(w, h5py.Group):
        raise FileFormatError(f"{what} must be a group")
    try:
        size = int(w.attrs["size"])
        a = {name: w[name][()] for name in ("resp", "labels", "hits", "prev_resp", "prev_labels")}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FileFormatError(f"{what} is incomplete ({exc})") from None
    ok = (size >= 1
          and all(isinstance(x, np.ndarray) for x in a.values())
          and a["resp"].dtype.kind in "iu" and a["resp"].ndim == 2 and a["resp"].shape[1] == n_exc
          and a["prev_resp"].dtype.kind in "iu" and a["prev_resp"].ndim == 2
          and a["prev_resp"].shape[1] == n_exc
          and a["labels"].dtype.kind in "iu" and a["labels"].shape == (a["resp"].shape[0],)
          and a["prev_labels"].dtype.kind in "iu"
          and a["prev_labels"].shape == (a["prev_resp"].shape[0],)
          and a["prev_resp"].shape[0] in (0, size) and a["resp"].shape[0] < size
          and a["hits"].dtype.kind == "b" and a["hits"].shape == (a["hits"].shape[0],)
          and a["hits"].shape[0] <= a["resp"].shape[0]
          and (a["resp"].size == 0 or a["resp"].min() >= 0)
          and (a["prev_resp"].size == 0 or a["prev_resp"].min() >= 0))
    if not ok:
        raise FileFormatError(f"{what} has arrays of the wrong shape, type or range "
                              f"(expected counts of {n_exc} neurons, fewer than {size} examples)")
    return RunningAccuracy.from_arrays(size, a)


def _monitor(net, kind: type, population: str):
    for h in net.monitors:
        if type(h) is kind and h.population == population:
            return h
    raise FileFormatError(f"the saved Diehl & Cook network has no {kind.__name__} of {population!r}")


def attach_diehl_cook(params, network, n_input: int, *, engine: str = "numba",
                      rest_mode: str = "simulate", engine_options: dict | None = None,
                      synaptic_events: int = 0, n_presentations: int = 0):
    """A :class:`~snnsim.diehl_cook.DiehlCookNetwork` around an already built (e.g. loaded)
    ``network``, without building or drawing anything: its handles (``input``, ``exc``,
    ``inh``, ``proj``, ``spikes_exc``, ``input_count``, ``inh_count``) are found by name."""
    from .learning.diehl_cook import DiehlCookNetwork
    from .errors import NetworkError
    try:
        inp, exc, inh = network["input"], network["exc"], network["inh"]
        proj = network.projection("input->exc")
    except NetworkError as exc_:
        raise FileFormatError(f"not a Diehl & Cook network: {exc_}") from None
    if inp.n != n_input or exc.n != params.n_exc or inh.n != params.n_exc:
        raise FileFormatError(f"the saved Diehl & Cook network has {inp.n} inputs and {exc.n} "
                              f"excitatory neurons, expected {n_input} and {params.n_exc}")
    dc = object.__new__(DiehlCookNetwork)
    dc.params = params
    dc.n_input = n_input
    dc.engine = engine
    dc.engine_options = dict(engine_options or {})
    dc.rest_mode = rest_mode
    dc.network = network
    dc.input, dc.exc, dc.inh, dc.proj = inp, exc, inh, proj
    dc.spikes_exc = _monitor(network, SpikeMonitor, "exc")
    dc.input_count = _monitor(network, RateMonitor, "input")
    dc.inh_count = _monitor(network, RateMonitor, "inh")
    dc.synaptic_events = int(synaptic_events)
    dc.n_presentations = int(n_presentations)
    return dc
