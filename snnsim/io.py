"""Saving and loading networks and recordings as HDF5 files (layout: ``docs/hdf5-format.md``).

A saved network holds its whole engine-independent description -- time step, seed,
populations with their model parameters and initial values, projections with their
synapses, delays and weights, plasticity rules, recorders -- and, once it has been compiled,
its whole dynamic state: the step, neuron state, refractory counters, Poisson next-spike
steps and random streams, spike-source positions, the spike history ring (spikes still in
flight), plasticity traces, and the state of the builder's random generator.  Loading it
gives a network whose further runs are bitwise the runs the original would have made, and
whose further ``connect`` calls draw the same random numbers.

Loading never executes anything from the file: there is no pickle and no eval; model
classes are looked up by name in a fixed table of snnsim classes, and every parameter goes
through the class's validation.  Files written by :func:`save` carry a checksum seal that
:func:`load` checks before the HDF5 library reads them, and every dataset and attribute is
validated (type, dtype, shape, range, finiteness, consistency with the network being built)
before it reaches the network or compiled code; a bad file raises
:class:`~snnsim.errors.FileFormatError` naming the file, the dataset, the value and what is
allowed (``docs/hdf5-format.md``, "Validation on read").

Examples
--------
>>> import os, tempfile
>>> import snnsim as sn
>>> from snnsim import io
>>> net = sn.Network(dt=1e-4, seed=3)
>>> inp = net.add(sn.PoissonInput(5, rate=50.0), name="input")
>>> out = net.add(sn.LIF(2), name="out")
>>> proj = net.connect(inp, out, weight=1e-3)
>>> spikes = net.record_spikes(inp)
>>> result = net.run(0.05)
>>> path = os.path.join(tempfile.mkdtemp(), "net.h5")
>>> io.save(path, net, result)
>>> net2, result2 = io.load(path)
>>> bool((result2[spikes].times == result[spikes].times).all())
True
>>> bool((net2.run(0.05)[spikes].times == net.run(0.05)[spikes].times).all())
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import re
import tempfile
import warnings
from typing import Iterator

import h5py
import numpy as np

from . import plan as _p
from ._params import Params
from .connectivity import (AllToAll, ConnectivityRule, FixedInDegree, FixedProbability, FromArrays,
                           OneToOne)
from .distributions import Constant, Normal, Uniform
from .errors import (FileFormatError, NetworkError, ParameterError, ResourceError, SnnsimError,
                     SnnsimWarning)
from .inputs import InputModel, PoissonInput, SpikeSource
from .monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from .network import Network, available_memory
from .neurons import LIF, AdaptiveLIF, NeuronModel
from .plasticity import DiehlCookSTDP, PairSTDP, PlasticityRule, TripletSTDP, WeightNormalization
from .results import Result
from .synapses import Conductance, Current

__all__ = ["save", "load", "atomic_write", "new_file", "seal", "write_network", "read_network",
           "open_snnsim", "check_header", "FORMAT", "FORMAT_VERSION"]

FORMAT = "snnsim"
FORMAT_VERSION = 1

# The only classes a file may name (no import or eval of names read from a file).
RECORD_CLASSES: dict[str, type] = {c.__name__: c for c in (
    LIF, AdaptiveLIF, PoissonInput, SpikeSource, Current, Conductance,
    AllToAll, OneToOne, FixedProbability, FixedInDegree, FromArrays,
    PairSTDP, TripletSTDP, DiehlCookSTDP, WeightNormalization, Constant, Uniform, Normal)}
_MONITORS = {"SpikeMonitor": SpikeMonitor, "StateMonitor": StateMonitor, "RateMonitor": RateMonitor}
# rows of the plan's float state, by their name in the file
_ROWS = (("v", _p.S_V), ("g_e", _p.S_GE), ("g_i", _p.S_GI), ("theta", _p.S_THETA),
         ("bias", _p.S_BIAS), ("p_spike", _p.S_P), ("log_q", _p.S_LOGQ))
_COMPRESS_FROM = 1024  # datasets with at least this many elements are gzip-compressed
_INITIAL = ("v", "g_e", "g_i", "theta")
_STATE_1D = tuple(name for name, _ in _ROWS) + ("ref", "next_spike")  # float64/int[N] of state/
# Bounds on what a file may hold (docs/hdf5-format.md, "Validation on read"):
_MAX_ABS = 1e30        # |state value|, |weight|, traces, gains: far beyond anything a network
#                        built with snnsim's bounds reaches, far below where a step overflows
_MAX_STEP = 2 ** 53    # step counters (step * dt stays exact)
_MAX_DELAY = 2 ** 30   # delays in steps: int32 per synapse in the plan (as Network.connect)
_MAX_INDEX = 2 ** 62   # counts and indices that only need to be non-negative
_MAX_NEURONS = 2 ** 31 - 1  # a population's size (int32 synapse indices)


# -- atomic writing ---------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[str]:
    """Write a file atomically: yield a temporary path in the same directory; when the block
    ends without an exception the file is flushed to disk (``fsync``) and renamed over
    ``path`` (``os.replace``), so ``path`` always holds either the old or the new complete
    file, even if the process is killed.  On an exception the temporary file is removed and
    ``path`` is untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> with atomic_write(p) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("hello")
    >>> with open(p) as f:
    ...     f.read()
    'hello'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
        os.chmod(tmp, mode)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- small helpers -----------------------------------------------------------------------------

def _key(name: str) -> str:
    """HDF5 member name of a population/projection name ('/' and '%' escaped)."""
    k = name.replace("%", "%25").replace("/", "%2F")
    return "%2E" if k == "." else k


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _strs(values) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=h5py.string_dtype())


def _ds(g: h5py.Group, name: str, data) -> h5py.Dataset:
    arr = np.ascontiguousarray(data)
    if arr.size >= _COMPRESS_FROM:
        return g.create_dataset(name, data=arr, compression="gzip", compression_opts=4, shuffle=True)
    return g.create_dataset(name, data=arr)


# -- validated reading (docs/hdf5-format.md, "Validation on read") ------------------------------
#
# Every value read from a file goes through one of these before it reaches a Network, a plan
# or compiled code: datasets are checked for type, dtype and shape before they are read (so
# that a damaged size allocates nothing) and for finiteness and range after; errors are
# FileFormatError naming the HDF5 path, the element, the value found and what is allowed.

def _show(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _num(x) -> str:
    return str(x) if isinstance(x, (int, np.integer)) else f"{x:g}"


def _allowed(lo, hi, unit: str = "", finite: bool = False) -> str:
    """'in [lo, hi] unit' and the like (None: unbounded on that side)."""
    u = f" {unit}" if unit else ""
    what = "finite, " if finite else ""
    if lo is not None and hi is not None:
        return (f"{what}equal to {_num(lo)}{u}" if lo == hi
                else f"{what}in [{_num(lo)}, {_num(hi)}]{u}")
    if lo is not None:
        return f"{what}>= {_num(lo)}{u}"
    if hi is not None:
        return f"{what}<= {_num(hi)}{u}"
    return "finite" if finite else "any value"


def _get(g, name: str, kind: type | None = None):
    """Member ``name`` of group ``g`` (a hard link: snnsim files hold no soft or external
    links), of type ``kind`` (h5py.Group or h5py.Dataset) when given."""
    where = f"{g.name.rstrip('/')}/{name}"
    if not isinstance(g, h5py.Group):
        raise FileFormatError(f"{g.name} must be a group, got a dataset")
    link = g.get(name, getlink=True)
    if link is None:
        raise FileFormatError(f"{where} is missing")
    if not isinstance(link, h5py.HardLink):
        raise FileFormatError(f"{where} is a {type(link).__name__}; snnsim files hold no links")
    item = g[name]
    if kind is not None and not isinstance(item, kind):
        want = "group" if kind is h5py.Group else "dataset"
        raise FileFormatError(f"{where} must be a {want}, got {type(item).__name__}")
    return item


def _attr(g, name: str):
    try:
        return g.attrs[name]
    except KeyError:
        raise FileFormatError(f"{g.name}/@{name} is missing") from None


def _int(g, name: str, lo: int | None = None, hi: int | None = None) -> int:
    v = _attr(g, name)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise FileFormatError(f"{g.name}/@{name} must be an integer, got {_show(v)}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise FileFormatError(f"{g.name}/@{name} = {v}; allowed: an integer {_allowed(lo, hi)}")
    return v


def _float(g, name: str, lo: float | None = None, hi: float | None = None) -> float:
    v = _attr(g, name)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise FileFormatError(f"{g.name}/@{name} must be a number, got {_show(v)}")
    v = float(v)
    if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise FileFormatError(f"{g.name}/@{name} = {v!r}; allowed: {_allowed(lo, hi, finite=True)}")
    return v


def _bool(g, name: str) -> bool:
    v = _attr(g, name)
    if not isinstance(v, (bool, np.bool_)):
        raise FileFormatError(f"{g.name}/@{name} must be a boolean, got {_show(v)}")
    return bool(v)


def _str(g, name: str) -> str:
    v = _attr(g, name)
    if not isinstance(v, (str, bytes, np.bytes_)):
        raise FileFormatError(f"{g.name}/@{name} must be a string, got {_show(v)}")
    try:
        return _s(v)
    except UnicodeDecodeError:
        raise FileFormatError(f"{g.name}/@{name} is not valid UTF-8") from None


def _str_list(g, name: str) -> list[str]:
    v = _attr(g, name)
    arr = np.asarray(v)
    if arr.dtype.kind not in "OSU" or arr.ndim > 1:
        raise FileFormatError(f"{g.name}/@{name} must be a list of strings, got {_show(v)}")
    out = []
    for x in arr.ravel():
        if not isinstance(x, (str, bytes, np.bytes_, np.str_)):
            raise FileFormatError(f"{g.name}/@{name} must be a list of strings, got {_show(x)}")
        out.append(_s(x))
    return out


def _int_list(g, name: str, lo: int = 0) -> list[int]:
    arr = np.asarray(_attr(g, name))
    if arr.dtype.kind not in "iu" or arr.ndim > 1:
        raise FileFormatError(f"{g.name}/@{name} must be a list of integers, got {_show(arr)}")
    vals = [int(x) for x in arr.ravel()]
    if any(x < lo or x > _MAX_INDEX for x in vals):
        raise FileFormatError(f"{g.name}/@{name} = {_show(arr)}; allowed: integers in "
                              f"[{lo}, {_MAX_INDEX}]")
    return vals


def _need_memory(nbytes: int, what: str) -> None:
    if nbytes < 2 ** 26:
        return
    avail = available_memory()
    if avail is not None and nbytes > 0.9 * avail:
        raise ResourceError(f"{what} needs {nbytes / 2 ** 30:.3g} GiB of memory, more than 90 % "
                            f"of the {avail / 2 ** 30:.3g} GiB available")


def _reject(where: str, a: np.ndarray, bad: np.ndarray, allowed: str) -> None:
    """Raise FileFormatError naming the first element of ``a`` where ``bad`` is True."""
    k = int(np.flatnonzero(bad)[0])
    idx = np.unravel_index(k, a.shape) if a.ndim else ()
    at = "".join(f"[{int(i)}]" for i in idx)
    raise FileFormatError(f"{where}{at} = {_show(a[idx])}; allowed: {allowed}")


def _read(node, dtype, shape=None, *, ndim: int | None = None, lo=None, hi=None,
          finite: bool = True, unit: str = "") -> np.ndarray:
    """Dataset ``node`` as a new array of ``dtype``.  Checked before reading: a dataset of a
    numeric dtype that converts to ``dtype`` without loss of meaning (integers for integer
    targets), of ``shape`` (or ``ndim`` dimensions), small enough for the memory.  After:
    every element finite (floats, unless ``finite=False``: then only NaN is refused) and
    in ``[lo, hi]`` -- compared in the stored type, before a cast could wrap."""
    if not isinstance(node, h5py.Dataset):
        raise FileFormatError(f"{node.name} must be a dataset, got {type(node).__name__}")
    want = np.dtype(dtype)
    kinds = "iuf" if want.kind == "f" else "iu"
    if node.dtype.kind not in kinds or node.dtype.fields is not None or node.shape is None:
        raise FileFormatError(f"{node.name} has dtype {node.dtype} and shape {node.shape}; "
                              f"expected {want}" + ("" if shape is None else f"{list(shape)}"))
    if shape is not None and node.shape != tuple(shape):
        raise FileFormatError(f"{node.name} has shape {node.shape}; expected {tuple(shape)}")
    if ndim is not None and len(node.shape) != ndim:
        raise FileFormatError(f"{node.name} has {len(node.shape)} dimensions; expected {ndim}")
    _need_memory(node.size * 8, f"dataset {node.name}")
    a = np.asarray(node[()])
    if want.kind == "f":
        a = a.astype(np.float64)
        bad = np.isnan(a) if not finite else ~np.isfinite(a)
        if lo is not None:
            bad |= a < lo
        if hi is not None:
            bad |= a > hi
        if bad.any():
            _reject(node.name, a, bad, _allowed(lo, hi, unit, finite=finite))
        return a
    info, have = np.iinfo(want), np.iinfo(a.dtype)
    lo_ = info.min if lo is None else max(int(lo), info.min)
    hi_ = info.max if hi is None else min(int(hi), info.max)
    if lo_ > have.max or hi_ < have.min or lo_ > hi_:
        bad = np.ones(a.shape, dtype=bool)
    else:
        bad = np.zeros(a.shape, dtype=bool)
        if lo_ > have.min:
            bad |= a < a.dtype.type(lo_)
        if hi_ < have.max:
            bad |= a > a.dtype.type(hi_)
    if bad.any():
        _reject(node.name, a, bad, "an integer " + _allowed(lo, hi, unit))
    return a.astype(want)


@contextlib.contextmanager
def _building(where: str) -> Iterator[None]:
    """Name ``where`` (an HDF5 path) in the errors of builder calls made with values read
    there (the builder's own checks apply to a file as to a script)."""
    try:
        yield
    except (FileFormatError, ResourceError):
        raise
    except SnnsimError as exc:
        raise FileFormatError(f"{where}: {type(exc).__name__}: {exc}") from None


def _py(v, where: str):
    """An attribute value as the plain Python value a parameter record expects."""
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (np.ndarray, np.generic)):
        raise FileFormatError(f"{where} must be a single number, boolean or string, got {_show(v)}")
    return v


# -- parameter records -------------------------------------------------------------------------

def _write_record(parent: h5py.Group, name: str, rec: Params, strict: bool = True) -> None:
    g = parent.create_group(name)
    tname = type(rec).__name__
    g.attrs["type"] = tname
    if RECORD_CLASSES.get(tname) is not type(rec):
        if strict:
            raise NetworkError(f"cannot save {tname}: only snnsim's own model classes can be "
                               f"saved ({', '.join(sorted(RECORD_CLASSES))})")
        g.attrs["user_defined"] = np.bool_(True)
        return  # a user-defined connectivity rule: kept by name only (synapses are stored)
    nulls = []
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        if v is None:
            nulls.append(f.name)
        elif isinstance(v, Params):
            _write_record(g, f.name, v, strict)
        elif isinstance(v, np.ndarray):
            _ds(g, f.name, v)
        elif isinstance(v, (bool, np.bool_)):
            g.attrs[f.name] = np.bool_(v)
        elif isinstance(v, (int, np.integer)):
            g.attrs[f.name] = np.int64(v)
        elif isinstance(v, (float, np.floating)):
            g.attrs[f.name] = np.float64(v)
        elif isinstance(v, str):
            g.attrs[f.name] = v
        else:
            raise NetworkError(f"cannot save {tname}.{f.name} = {v!r}")
    if nulls:
        g.attrs["null_fields"] = _strs(nulls)


def _read_record(g: h5py.Group, base: type, allow_unknown: bool = False):
    if not isinstance(g, h5py.Group):
        raise FileFormatError(f"{g.name} must be a group (a parameter record), got a dataset")
    tname = _str(g, "type")
    cls = RECORD_CLASSES.get(tname)
    if "user_defined" in g.attrs and _bool(g, "user_defined"):
        cls = None
    if cls is None or not issubclass(cls, base):
        if allow_unknown:
            return None
        raise FileFormatError(f"{g.name}: unknown or misplaced model class {tname!r} (expected a "
                              f"{base.__name__}; known: {', '.join(sorted(RECORD_CLASSES))})")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    nulls = _str_list(g, "null_fields") if "null_fields" in g.attrs else []
    for key, value in g.attrs.items():
        if key in ("type", "null_fields"):
            continue
        if key not in names:
            raise FileFormatError(f"{g.name}: {tname} has no parameter {key!r}")
        kwargs[key] = _py(value, f"{g.name}/@{key}")
    for key in g:
        item = _get(g, key)
        if key not in names:
            raise FileFormatError(f"{g.name}: {tname} has no parameter {key!r}")
        # arrays of records (i_bias, times, indices, rate, pre/post) are 1-D; the record checks
        # their values
        kwargs[key] = (_read_record(item, Params) if isinstance(item, h5py.Group)
                       else _read(item, np.float64 if item.dtype.kind == "f" else np.int64,
                                  ndim=1, finite=False))
    for key in nulls:
        if key not in names:
            raise FileFormatError(f"{g.name}: {tname} has no parameter {key!r}")
        kwargs[key] = None
    try:
        return cls(**kwargs)
    except SnnsimError as exc:
        raise FileFormatError(f"{g.name}: {type(exc).__name__}: {exc}") from None


# -- monitors ------------------------------------------------------------------------------------

def _write_monitor(g: h5py.Group, h: Monitor) -> None:
    g.attrs["type"] = type(h).__name__
    g.attrs["population"] = h.population
    g.attrs["id"] = np.int64(h.id)
    if isinstance(h, (SpikeMonitor, StateMonitor)) and h.indices is not None:
        _ds(g, "indices", np.asarray(h.indices, dtype=np.int64))
    if isinstance(h, StateMonitor):
        g.attrs["variables"] = _strs(h.variables)
        g.attrs["every"] = np.int64(h.every)


def _read_monitor(g: h5py.Group) -> Monitor:
    typ = _str(g, "type")
    if typ not in _MONITORS:
        raise FileFormatError(f"{g.name}/@type = {typ!r}; allowed: {', '.join(_MONITORS)}")
    pop, mid = _str(g, "population"), _int(g, "id", 0, _MAX_INDEX)
    idx = (_read(_get(g, "indices", h5py.Dataset), np.int64, ndim=1, lo=0, hi=_MAX_INDEX)
           if "indices" in g else None)
    if typ == "SpikeMonitor":
        return SpikeMonitor(pop, mid, idx)
    if typ == "StateMonitor":
        if idx is None:
            raise FileFormatError(f"{g.name}/indices is missing")
        return StateMonitor(pop, mid, variables=tuple(_str_list(g, "variables")),
                            indices=idx, every=_int(g, "every", 1, _MAX_STEP))
    return RateMonitor(pop, mid)


def _same_monitor(a: Monitor, b: Monitor) -> bool:
    if type(a) is not type(b) or a.population != b.population or a.id != b.id:
        return False
    if isinstance(a, (SpikeMonitor, StateMonitor)):
        ia, ib = a.indices, b.indices
        if (ia is None) != (ib is None) or (ia is not None and not np.array_equal(ia, ib)):
            return False
    if isinstance(a, StateMonitor):
        return tuple(a.variables) == tuple(b.variables) and a.every == b.every
    return True


# -- writing ----------------------------------------------------------------------------------------

def write_network(g: h5py.Group, network: Network, result: Result | None = None) -> None:
    """Write ``network`` (and optionally ``result``) into an open HDF5 file or group ``g``,
    with the ``format`` attributes on ``g``.  :func:`save` is this plus an atomic file."""
    from . import __version__
    if not isinstance(network, Network):
        raise NetworkError(f"save takes a snnsim Network, got {type(network).__name__}")
    if result is not None and not isinstance(result, Result):
        raise NetworkError(f"result must be a snnsim Result, got {type(result).__name__}")
    g.attrs["format"] = FORMAT
    g.attrs["format_version"] = np.int64(FORMAT_VERSION)
    g.attrs["snnsim_version"] = __version__
    net = network
    net._sync_from_engine()
    plan = net.compile() if (net._plan is not None and net.populations) else None
    ng = g.create_group("network")
    ng.attrs["dt"] = np.float64(net.dt)
    ng.attrs["seed"] = np.int64(net.seed)
    ng.attrs["compiled"] = np.bool_(plan is not None)
    if plan is not None:
        ng.attrs["step"] = np.int64(plan.step[0])
        ng.attrs["history_depth"] = np.int64(plan.R)
    _write_generator(ng, net._rng)

    pg = ng.create_group("populations")
    pg.attrs["order"] = _strs(p.name for p in net.populations)
    for p, pop in enumerate(net.populations):
        h = pg.create_group(_key(pop.name))
        h.attrs["name"] = pop.name
        h.attrs["index"] = np.int64(p)
        h.attrs["n"] = np.int64(pop.n)
        h.attrs["model"] = type(pop.model).__name__
        h.attrs["theta_frozen"] = np.bool_(pop._frozen)
        _write_record(h, "params", pop.model)
        if pop._init:
            ini = h.create_group("initial")
            for k in ("v", "g_e", "g_i", "theta"):
                _ds(ini, k, np.asarray(pop._init[k], dtype=np.float64))
        if pop._rates is not None:
            _ds(h, "rates", pop._rates)
        if plan is not None:
            lo, hi = pop._lo, pop._lo + pop.n
            s = h.create_group("state")
            for name, row in _ROWS:
                _ds(s, name, plan.st[row, lo:hi])
            _ds(s, "ref", plan.ref[lo:hi])
            _ds(s, "next_spike", plan.nxt[lo:hi])
            _ds(s, "rng", plan.rng[p])
            _ds(s, "hist", plan.hist[:, lo:hi])
            _ds(s, "hist_count", plan.hist_cnt[:, p])
            s.attrs["source_pos"] = np.int64(plan.pop_i[p, _p.PI_SRC_PTR] - plan.pop_i[p, _p.PI_SRC_LO])
            s.attrs["redraw"] = np.bool_(plan.pop_i[p, _p.PI_REDRAW])
            s.attrs["frozen"] = np.bool_(plan.pop_i[p, _p.PI_FROZEN])

    qg = ng.create_group("projections")
    qg.attrs["order"] = _strs(pr.name for pr in net.projections)
    for q, pr in enumerate(net.projections):
        _check_saveable_weights(net, pr)
        h = qg.create_group(_key(pr.name))
        h.attrs["name"] = pr.name
        h.attrs["index"] = np.int64(q)
        h.attrs["pre_population"] = pr.pre.name
        h.attrs["post_population"] = pr.post.name
        h.attrs["receptor"] = pr.receptor
        h.attrs["plastic"] = np.bool_(pr._plastic)
        h.attrs["on_step"] = np.int64(pr._on_step)
        h.attrs["n_synapses"] = np.int64(pr.n_synapses)
        _write_record(h, "rule", pr.rule, strict=False)
        if pr.plasticity is not None:
            _write_record(h, "plasticity", pr.plasticity)
        if pr.normalization is not None:
            _write_record(h, "normalization", pr.normalization)
        _ds(h, "pre", pr._pre)
        _ds(h, "post", pr._post)
        _ds(h, "delay_steps", pr._delay)
        _ds(h, "weights", pr._w)
        if plan is not None and pr._traces is not None:
            x, y, hx, _ = pr._traces
            t = h.create_group("traces")
            _ds(t, "x", x)
            _ds(t, "y", y)
            _ds(t, "x_history", hx)
            _ds(t, "gain", pr._gain)

    mg = ng.create_group("monitors")
    mg.attrs["count"] = np.int64(len(net.monitors))
    for h in net.monitors:
        _write_monitor(mg.create_group(str(h.id)), h)

    if result is not None:
        _write_result(g, result)


def _check_saveable_weights(net: Network, pr) -> None:
    """Refuse weights that :func:`load` would refuse, so that every file ``save`` writes
    loads: outside ``[w_min, w_max]`` of a plastic projection's rule (without a
    WeightNormalization, nothing else puts them there; the rule clips them at its next
    update), or what the builder refuses."""
    if pr.normalization is not None:
        return
    w, rule = pr._w, pr.plasticity
    if rule is not None and w.size:
        out = (w < rule.w_min) | (w > rule.w_max)
        if out.any():
            k = int(np.flatnonzero(out)[0])
            raise NetworkError(f"cannot save projection {pr.name!r}: synapse {k} has weight "
                               f"{w[k]:.6g}, outside [w_min, w_max] = [{rule.w_min:.6g}, "
                               f"{rule.w_max:.6g}] of its {type(rule).__name__} (its next update "
                               "would clip it; a file holding it is refused as damaged); clip "
                               "the weights with set_weights, or give the projection a "
                               "WeightNormalization")
    net._check_weights(pr.name, pr.post, w)


def _write_generator(ng: h5py.Group, rng: np.random.Generator) -> None:
    st = rng.bit_generator.state
    if st.get("bit_generator") != "PCG64":
        raise NetworkError(f"cannot save a network whose generator is {st.get('bit_generator')!r}")
    g = ng.create_group("generator")
    g.attrs["bit_generator"] = "PCG64"
    m = (1 << 64) - 1
    for k in ("state", "inc"):
        v = int(st["state"][k])
        g.attrs[k] = np.array([v >> 64, v & m], dtype=np.uint64)
    g.attrs["has_uint32"] = np.int64(st["has_uint32"])
    g.attrs["uinteger"] = np.uint64(st["uinteger"])


def _unique_key(group: h5py.Group, base: str, mid: int) -> str:
    key = base if base not in group else f"{base}#{mid}"
    while key in group:
        key += "_"
    return key


def _write_result(g: h5py.Group, res: Result) -> None:
    rg = g.create_group("results")
    rg.attrs["dt"] = np.float64(res.dt)
    rg.attrs["step0"] = np.int64(res.step0)
    rg.attrs["n_steps"] = np.int64(res.n_steps)
    rg.attrs["t_start"] = np.float64(res.t_start)
    rg.attrs["t_stop"] = np.float64(res.t_stop)
    raw = rg.create_group("raw")
    _ds(raw, "spike_steps", np.asarray(res._raw["spk_t"], dtype=np.int64))
    _ds(raw, "spike_ids", np.asarray(res._raw["spk_i"], dtype=np.int64))
    _ds(raw, "state_samples", np.asarray(res._raw["srec_out"], dtype=np.float64))
    _ds(raw, "rate_counts", np.asarray(res._raw["rrec_out"], dtype=np.int64))
    mg = rg.create_group("monitors")
    mg.attrs["ids"] = np.array(list(res._layout), dtype=np.int64)
    groups = {k: rg.create_group(k) for k in ("spikes", "states", "rates")}
    for hid, (h, info) in res._layout.items():
        m = mg.create_group(str(hid))
        _write_monitor(m, h)
        data = res[h]
        if isinstance(h, SpikeMonitor):
            m.attrs["lo"], m.attrs["n"] = np.int64(info["lo"]), np.int64(info["n"])
            s = groups["spikes"].create_group(_unique_key(groups["spikes"], _key(h.population), hid))
            _ds(s, "times", data.times)
            _ds(s, "steps", np.rint(data.times / res.dt).astype(np.int64))
            _ds(s, "indices", data.indices)
            _ds(s, "recorded", data.recorded)
            s.attrs["n_neurons"] = np.int64(data.n_neurons)
        elif isinstance(h, StateMonitor):
            m.attrs["n_samples"] = np.int64(info["n_samples"])
            rows = info["rows"]
            m.attrs["row_variables"] = _strs(rows)
            m.attrs["row_offsets"] = np.array([rows[v][0] for v in rows], dtype=np.int64)
            m.attrs["row_counts"] = np.array([rows[v][1] for v in rows], dtype=np.int64)
            s = groups["states"].create_group(_unique_key(groups["states"], _key(h.population), hid))
            _ds(s, "times", data.times)
            _ds(s, "indices", data.indices)
            for v in data.variables:
                _ds(s, v, data[v])
        else:
            m.attrs["row"], m.attrs["n"] = np.int64(info["row"]), np.int64(info["n"])
            s = groups["rates"].create_group(_unique_key(groups["rates"], _key(h.population), hid))
            _ds(s, "times", data.times)
            _ds(s, "counts", data.counts)
            s.attrs["n_neurons"] = np.int64(data.n_neurons)
        s.attrs["monitor_id"] = np.int64(hid)
        s.attrs["population"] = h.population


def save(path: str | os.PathLike, network: Network, result: Result | None = None) -> None:
    """Save ``network`` (description and current state) and optionally one ``result`` to an
    HDF5 file at ``path``, atomically (see :func:`atomic_write`).

    Parameters
    ----------
    path : str or path
        File to write (replaced if it exists).
    network : Network
        The network; if it has been compiled (run), its whole dynamic state is saved too.
    result : Result, optional
        A recording to store with it (``load`` then returns ``(network, result)``).
    """
    with new_file(path) as f:
        write_network(f, network, result)


# -- the checksum seal --------------------------------------------------------------------------
#
# A file written by save (or new_file) starts with an HDF5 user block of _SEAL_SIZE bytes that
# HDF5 itself ignores; it holds the SHA-256 and the size of the rest of the file.  load checks
# them before the HDF5 library parses anything, so that a truncated file or one with flipped
# bits is refused cleanly (the HDF5 library can hang or misread damaged metadata).

_SEAL_SIZE = 512
_SEAL_MAGIC = b"snnsim-seal 1\n"
_SEAL_RE = re.compile(rb"snnsim-seal 1\nsha256 ([0-9a-f]{64})\nbytes ([0-9]{1,19})\n\0*\Z")


def _digest(path: str, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(_SEAL_SIZE)
        left = size - _SEAL_SIZE
        while left > 0:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def seal(path: str | os.PathLike) -> None:
    """Write the checksum block of a file written by :func:`save` or :func:`new_file`
    anew, after the file was changed on purpose (e.g. with h5py in ``"r+"`` mode):
    :func:`load` refuses a sealed file whose checksum does not match."""
    src = os.fspath(path)
    with open(src, "rb") as f:
        head = f.read(_SEAL_SIZE)
    if not head.startswith(_SEAL_MAGIC) and head.strip(b"\0"):
        raise FileFormatError(f"cannot seal {src!r}: it has no snnsim checksum block (only files "
                              "written by snnsim.io.save or new_file have one)")
    size = os.path.getsize(src)
    text = _SEAL_MAGIC + b"sha256 %s\nbytes %d\n" % (_digest(src, size).encode(), size)
    with open(src, "r+b") as f:
        f.write(text.ljust(_SEAL_SIZE, b"\0"))


@contextlib.contextmanager
def new_file(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Create an snnsim HDF5 file atomically (see :func:`atomic_write`): yields an
    ``h5py.File`` open for writing; when the block ends, the file is sealed with its
    checksum (see :func:`seal`) and renamed over ``path``."""
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=_SEAL_SIZE) as f:
            yield f
        seal(tmp)


def _check_seal(src: str) -> None:
    """Verify the checksum block of ``src`` if it has one (files written before snnsim
    sealed its files, or by other programs, have none and are read unchecked)."""
    try:
        with open(src, "rb") as f:
            head = f.read(_SEAL_SIZE)
        size = os.path.getsize(src)
    except OSError as exc:
        raise FileFormatError(f"cannot read {src!r}: {exc}") from None
    if not head.startswith(_SEAL_MAGIC):
        return
    m = _SEAL_RE.match(head) if len(head) == _SEAL_SIZE else None
    if m is None:
        raise FileFormatError(f"cannot read {src!r}: its checksum block (the first {_SEAL_SIZE} "
                              "bytes) is damaged or the file is truncated")
    want = int(m.group(2))
    if size != want:
        why = "truncated or incomplete" if size < want else "longer than written"
        raise FileFormatError(f"cannot read {src!r}: the file is {why} ({size} bytes; it was "
                              f"written with {want})")
    if _digest(src, size) != m.group(1).decode():
        raise FileFormatError(f"cannot read {src!r}: checksum mismatch: the file was damaged or "
                              "changed after snnsim wrote it (if you changed it on purpose, "
                              "snnsim.io.seal(path) records the change)")


# -- reading ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def open_snnsim(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open an snnsim HDF5 file for reading and check its header; errors are
    :class:`~snnsim.errors.FileFormatError` naming the file (``FileNotFoundError`` if absent)."""
    src = os.fspath(path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"no such file: {src!r}")
    if os.path.isdir(src):
        raise FileFormatError(f"cannot read {src!r}: it is a directory, not an snnsim file")
    _check_seal(src)
    try:
        is_hdf5 = h5py.is_hdf5(src)
    except OSError as exc:
        raise FileFormatError(f"cannot read {src!r}: {exc}") from None
    if not is_hdf5:
        raise FileFormatError(f"cannot read {src!r}: not an HDF5 file (no HDF5 signature); snnsim "
                              "files are HDF5 files written by snnsim.io.save")
    try:
        f = h5py.File(src, "r")
    except OSError as exc:
        why = "truncated or incomplete" if "truncated" in str(exc) else "damaged"
        raise FileFormatError(f"cannot read {src!r}: the HDF5 file is {why} ({exc})") from None
    try:
        check_header(f, src)
        yield f
    finally:
        f.close()


def check_header(g: h5py.Group, src: str) -> int:
    """Check the ``format``/``format_version`` attributes of ``g``; return the version."""
    try:
        fmt = g.attrs.get("format")
        ver = g.attrs.get("format_version")
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise FileFormatError(f"cannot read {src!r}: its attributes are damaged ({exc})") from None
    if not isinstance(fmt, (str, bytes)) or _s(fmt) != FORMAT:
        raise FileFormatError(f"{src!r} is an HDF5 file but not an snnsim file (its root attribute "
                              f"'format' is {None if fmt is None else _show(fmt)}, expected "
                              "'snnsim')")
    if isinstance(ver, (bool, np.bool_)) or not isinstance(ver, (int, np.integer)):
        raise FileFormatError(f"{src!r}: attribute 'format_version' must be an integer, got "
                              f"{_show(ver)}")
    if ver > FORMAT_VERSION:
        from . import __version__
        raise FileFormatError(f"{src!r} has format_version {int(ver)}, newer than this snnsim "
                              f"({__version__}) can read (up to {FORMAT_VERSION}); upgrade snnsim")
    if ver < 1:
        raise FileFormatError(f"{src!r}: invalid format_version {int(ver)}")
    return int(ver)


def read_network(g: h5py.Group, src: str = "<hdf5>") -> tuple[Network, Result | None]:
    """Rebuild the network (and result, if any) stored in an open file or group ``g``.

    Every dataset and attribute is validated (see docs/hdf5-format.md, "Validation on read")
    before anything is built from it.  Raises :class:`~snnsim.errors.FileFormatError` naming
    ``src`` and the offending dataset or attribute, or
    :class:`~snnsim.errors.ResourceError` when the stored network is too large for the
    memory available.
    """
    check_header(g, src)
    try:
        net = _read_network(_get(g, "network", h5py.Group))
        res = _read_result(_get(g, "results", h5py.Group), net) if "results" in g else None
    except FileFormatError as exc:
        raise FileFormatError(f"{src!r}: {exc}") from None
    except ResourceError as exc:
        raise ResourceError(f"{src!r}: {exc}") from None
    except MemoryError as exc:
        raise ResourceError(f"{src!r}: not enough memory to load it ({exc})") from None
    except SnnsimError as exc:   # the builder refused what the file describes
        raise FileFormatError(f"{src!r} is inconsistent ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:     # HDF5 errors of a damaged file (OSError, KeyError, ...)
        raise FileFormatError(f"{src!r} is damaged or inconsistent ({type(exc).__name__}: {exc})"
                              ) from exc
    return net, res


def load(path: str | os.PathLike, *, with_result: bool | None = None):
    """Load a file written by :func:`save`.

    Every array is validated before it reaches the network or compiled code (shape, dtype,
    range, finiteness and consistency with the network it describes: see
    ``docs/hdf5-format.md``, "Validation on read").

    Returns
    -------
    Network, or (Network, Result)
        By default (``with_result=None``) the network alone if the file holds no result and
        ``(network, result)`` if it holds one.  ``with_result=True`` always returns a pair
        (the result may be None); ``with_result=False`` always returns the network alone.

    Raises
    ------
    FileNotFoundError
        There is no file at ``path``.
    FileFormatError
        The file is not HDF5, not an snnsim file, truncated or damaged, of a newer
        ``format_version``, or holds a value that is not allowed (the message names the
        dataset or attribute, the value and what is allowed).
    ResourceError
        The stored network needs more memory than is available.
    """
    if with_result is not None and not isinstance(with_result, (bool, np.bool_)):
        raise ParameterError(f"load: with_result must be None, True or False, got {with_result!r}")
    src = os.fspath(path)
    with open_snnsim(src) as f:
        net, res = read_network(f, src)
    if with_result is None:
        return net if res is None else (net, res)
    return (net, res) if with_result else net


def _read_network(ng: h5py.Group) -> Network:
    with _building(ng.name):
        net = Network(dt=_float(ng, "dt"), seed=_int(ng, "seed", 0))
    compiled = _bool(ng, "compiled")
    step = _int(ng, "step", 0, _MAX_STEP) if compiled else 0
    pg = _get(ng, "populations", h5py.Group)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnnsimWarning)  # already said when it was built
        for name in _str_list(pg, "order"):
            _read_population(net, _get(pg, _key(name), h5py.Group), name, compiled)
    qg = _get(ng, "projections", h5py.Group)
    for name in _str_list(qg, "order"):
        _read_projection(net, _get(qg, _key(name), h5py.Group), name, step)

    mg = _get(ng, "monitors", h5py.Group)
    for i in range(_int(mg, "count", 0, len(mg))):
        m = _read_monitor(_get(mg, str(i), h5py.Group))
        if m.id != i:
            raise FileFormatError(f"{mg.name}/{i}/@id = {m.id}; allowed: {i} (its position)")
        if m.population not in {p.name for p in net.populations}:
            raise FileFormatError(f"{mg.name}/{i}/@population = {m.population!r} is not a "
                                  "population of the network")
        pop = net[m.population]
        with _building(f"{mg.name}/{i}"):
            if isinstance(m, SpikeMonitor):
                got = net.record_spikes(pop, m.indices)
            elif isinstance(m, StateMonitor):
                got = net.record_state(pop, m.variables, m.indices, every=m.every * net.dt)
            else:
                got = net.population_rate(pop)
        if not _same_monitor(got, m):
            raise FileFormatError(f"{mg.name}/{i}: recorder could not be recreated exactly")

    if compiled and net.populations:
        _restore_state(ng, net, step)
    _read_generator(_get(ng, "generator", h5py.Group), net._rng)
    return net


def _read_population(net: Network, h: h5py.Group, name: str, compiled: bool) -> None:
    if _str(h, "name") != name:
        raise FileFormatError(f"{h.name}/@name = {_str(h, 'name')!r}; allowed: {name!r} (the "
                              "name in the parent's @order)")
    model = _read_record(_get(h, "params", h5py.Group), Params)
    if not isinstance(model, (NeuronModel, InputModel)):
        raise FileFormatError(f"{h.name}: {type(model).__name__} is not a population model")
    n = model.n
    _int(h, "n", n, n)
    neuron = isinstance(model, NeuronModel)
    # the sizes of the per-neuron datasets first, so that a wrong n allocates nothing
    ini = _get(h, "initial", h5py.Group) if neuron else None
    shaped = [_get(ini, k, h5py.Dataset) for k in _INITIAL] if neuron else []
    if isinstance(model, PoissonInput):
        shaped.append(_get(h, "rates", h5py.Dataset))
    if compiled:
        s = _get(h, "state", h5py.Group)
        shaped += [_get(s, k, h5py.Dataset) for k in _STATE_1D]
    for node in shaped:
        if node.shape != (n,):
            raise FileFormatError(f"{node.name} has shape {node.shape}; expected ({n},) "
                                  f"({h.name}/params/@n)")
    with _building(h.name):
        pop = net.add(model, name=name)
    if neuron:
        pop._init = {k: _read(ini[k], np.float64, (n,), **_state_range(model, k)) for k in _INITIAL}
    if isinstance(model, PoissonInput):
        rates = _read(h["rates"], np.float64, (n,), lo=0.0, hi=1.0 / net.dt, unit="Hz")
        with _building(f"{h.name}/rates"):
            pop._rates = pop._checked_rates(rates)
    frozen = _bool(h, "theta_frozen")
    if frozen and not getattr(model, "adaptive", False):
        raise FileFormatError(f"{h.name}/@theta_frozen is True, but {type(model).__name__} has no "
                              "adaptive threshold")
    pop._frozen = frozen


def _state_range(model, k: str) -> dict:
    """Bounds on a neuron population's state variable ``k`` (keyword arguments of _read)."""
    cond = isinstance(model.synapses, Conductance)
    if k == "theta" and not model.adaptive:
        return dict(lo=0.0, hi=0.0, unit="V (no adaptive threshold)")
    if cond and k in ("g_e", "g_i"):
        return dict(lo=0.0, hi=_MAX_ABS, unit="(conductance / leak conductance)")
    return dict(lo=-_MAX_ABS, hi=_MAX_ABS, unit="V")


def _read_projection(net: Network, h: h5py.Group, name: str, step: int) -> None:
    if _str(h, "name") != name:
        raise FileFormatError(f"{h.name}/@name = {_str(h, 'name')!r}; allowed: {name!r} (the "
                              "name in the parent's @order)")
    names = [p.name for p in net.populations]
    ends = []
    for k in ("pre_population", "post_population"):
        pname = _str(h, k)
        if pname not in names:
            raise FileFormatError(f"{h.name}/@{k} = {pname!r} is not a population of the network")
        ends.append(net[pname])
    pre, post = ends
    if post.is_input:
        raise FileFormatError(f"{h.name}/@post_population = {post.name!r} is an input "
                              f"({type(post.model).__name__}); it cannot receive synapses")
    ns = _int(h, "n_synapses", 0, _MAX_INDEX)
    for k in ("pre", "post", "delay_steps", "weights"):
        node = _get(h, k, h5py.Dataset)
        if node.shape != (ns,):
            raise FileFormatError(f"{node.name} has shape {node.shape}; expected ({ns},) "
                                  f"({h.name}/@n_synapses)")
    pre_idx = _read(h["pre"], np.int64, (ns,), lo=0, hi=pre.n - 1)
    post_idx = _read(h["post"], np.int64, (ns,), lo=0, hi=post.n - 1)
    d = _read(h["delay_steps"], np.int64, (ns,), lo=1, hi=_MAX_DELAY)
    plast = (_read_record(_get(h, "plasticity", h5py.Group), PlasticityRule)
             if "plasticity" in h else None)
    norm = (_read_record(_get(h, "normalization", h5py.Group), WeightNormalization)
            if "normalization" in h else None)
    lo, hi, unit = -_MAX_ABS, _MAX_ABS, "V"
    if isinstance(post.model.synapses, Conductance):
        lo, unit = 0.0, "(conductance weights, in units of the leak conductance)"
    if plast is not None and norm is None:
        # the rule keeps weights in its bounds; only a normalisation may scale them out
        lo, hi = max(lo, plast.w_min), plast.w_max
        unit = f"(the [w_min, w_max] of its {type(plast).__name__})"
    w = _read(h["weights"], np.float64, (ns,), lo=lo, hi=hi, unit=unit)
    if norm is None:  # only a normalisation changes weights beyond what the builder takes
        with _building(f"{h.name}/weights"):
            net._check_weights(name, post, w)
    with _building(h.name):
        pr = net.connect(pre, post, FromArrays(pre_idx, post_idx), weight=0.0,
                         delay=d * net.dt, receptor=_str(h, "receptor"), plasticity=plast,
                         normalization=norm, name=name)
    if (pr.name != name or not np.array_equal(pr._pre, pre_idx)
            or not np.array_equal(pr._post, post_idx) or not np.array_equal(pr._delay, d)):
        raise FileFormatError(f"{h.name}: synapses are not stored in (delay, pre, post) order")
    pr._w[:] = w
    rule = _read_record(_get(h, "rule", h5py.Group), ConnectivityRule, allow_unknown=True)
    pr.rule = rule if rule is not None else FromArrays(pre_idx, post_idx)
    plastic = _bool(h, "plastic")
    if plastic and plast is None:
        raise FileFormatError(f"{h.name}/@plastic is True, but there is no plasticity rule")
    pr._plastic = plastic
    pr._on_step = _int(h, "on_step", 0, step)


def _restore_state(ng: h5py.Group, net: Network, step: int) -> None:
    # the history depth follows from the delays; check it before the plan allocates R x N
    R = _int(ng, "history_depth", 3, _MAX_DELAY + 2)
    want = max((int(pr._delay.max()) for pr in net.projections if pr._delay.size), default=1) + 2
    if R != want:
        raise FileFormatError(f"{ng.name}/@history_depth = {R}; allowed: {want} (the largest "
                              "delay in steps + 2)")
    plan = net.compile()
    plan.step[0] = step
    pg = _get(ng, "populations", h5py.Group)
    for p, pop in enumerate(net.populations):
        _restore_population(_get(_get(pg, _key(pop.name), h5py.Group), "state", h5py.Group),
                            plan, p, pop, step)
    qg = _get(ng, "projections", h5py.Group)
    for pr in net.projections:
        if pr._traces is None:
            continue
        t = _get(_get(qg, _key(pr.name), h5py.Group), "traces", h5py.Group)
        x, y, hx, _ = pr._traces
        kp = pr.plasticity.kernel_params(net.dt)
        # nearest-spike traces are set to 1 at a spike and decay; all-to-all ones add 1
        xmax = 1.0 if kp["near_x"] else _MAX_ABS
        ymax = 1.0 if kp["near_y"] else _MAX_ABS
        x[:] = _read(_get(t, "x", h5py.Dataset), np.float64, x.shape, lo=0.0, hi=xmax)
        y[:] = _read(_get(t, "y", h5py.Dataset), np.float64, y.shape, lo=0.0, hi=ymax)
        hx[:] = _read(_get(t, "x_history", h5py.Dataset), np.float64, hx.shape, lo=0.0, hi=xmax)
        if "gain" in t:  # files written before per-neuron gains default to 1
            pr._gain[:] = _read(_get(t, "gain", h5py.Dataset), np.float64, pr._gain.shape,
                                lo=0.0, hi=_MAX_ABS)
    plan.version += 1


def _restore_population(s: h5py.Group, plan, p: int, pop, step: int) -> None:
    lo, hi, n, R = pop._lo, pop._lo + pop.n, pop.n, plan.R
    model = pop.model
    kind = int(plan.pop_i[p, _p.PI_KIND])
    poisson = kind == _p.KIND_POISSON
    neuron = isinstance(model, NeuronModel)
    for name, row in _ROWS:
        node = _get(s, name, h5py.Dataset)
        if name in _INITIAL and neuron and (name != "theta" or model.adaptive):
            plan.st[row, lo:hi] = _read(node, np.float64, (n,), **_state_range(model, name))
            continue
        # the other rows follow from the model (and rates): they must be what compile made
        if name == "p_spike" and poisson:
            got = _read(node, np.float64, (n,), lo=0.0, hi=1.0, unit="(a probability per step)")
            why = "rates * dt"
        elif name == "log_q" and poisson:
            got = _read(node, np.float64, (n,), hi=0.0, finite=False)
            why = "log(1 - p_spike)"
        else:
            got = _read(node, np.float64, (n,))
            why = ("R_m * i_bias of params" if name == "bias" else
                   f"{type(model).__name__} does not use it")
        want = plan.st[row, lo:hi]
        if not np.array_equal(got, want):
            _reject(node.name, got, got != want, f"{_show(want[got != want][0])} ({why})")
    plan.ref[lo:hi] = _read(_get(s, "ref", h5py.Dataset), np.int32, (n,), lo=0,
                            hi=int(plan.pop_i[p, _p.PI_REF]), unit="steps (t_ref / dt)")
    redraw = _bool(s, "redraw")
    if redraw and not poisson:
        raise FileFormatError(f"{s.name}/@redraw is True, but {pop.name!r} is not a PoissonInput")
    # a pending Poisson spike lies in the future (a redraw replaces them all)
    first = step if poisson and not redraw else 0
    plan.nxt[lo:hi] = _read(_get(s, "next_spike", h5py.Dataset), np.int64, (n,), lo=first,
                            unit="(steps; >= @step for a pending spike)")
    frozen = _bool(s, "frozen")
    if frozen != pop._frozen:
        raise FileFormatError(f"{s.name}/@frozen = {frozen}; allowed: {pop._frozen} (the "
                              "population's @theta_frozen)")
    rng = _read(_get(s, "rng", h5py.Dataset), np.uint64, (4,))
    if not rng.any():
        raise FileFormatError(f"{s.name}/rng is all zero; allowed: any other state (xoshiro256** "
                              "never leaves the zero state)")
    plan.rng[p] = rng
    pop._rng_state = rng.copy()
    cnt = _read(_get(s, "hist_count", h5py.Dataset), np.int64, (R,), lo=0, hi=n,
                unit="(spikes of the population in one step)")
    node = _get(s, "hist", h5py.Dataset)
    hist = _read(node, np.int64, (R, n))
    used = np.arange(n)[None, :] < cnt[:, None]
    bad = used & ((hist < 0) | (hist >= n))
    if bad.any():
        _reject(node.name, hist, bad, f"a neuron index in [0, {n - 1}] (the first "
                "hist_count[r] entries of row r)")
    srt = np.sort(np.where(used, hist, -1 - np.arange(n)[None, :]), axis=1)
    dup = srt[:, 1:] == srt[:, :-1]
    if dup.any():
        r = int(np.flatnonzero(dup.any(axis=1))[0])
        raise FileFormatError(f"{node.name}[{r}] lists neuron {int(srt[r][1:][dup[r]][0])} twice; "
                              "allowed: each neuron at most once per step")
    plan.hist[:, lo:hi] = hist
    plan.hist_cnt[:, p] = cnt
    e_lo, e_hi = int(plan.pop_i[p, _p.PI_SRC_LO]), int(plan.pop_i[p, _p.PI_SRC_HI])
    passed = int(np.count_nonzero(plan.src_step[e_lo:e_hi] < step))
    pos = _int(s, "source_pos", 0, passed)
    plan.pop_i[p, _p.PI_SRC_PTR] = e_lo + pos
    plan.pop_i[p, _p.PI_REDRAW] = int(redraw)
    plan.pop_i[p, _p.PI_FROZEN] = int(frozen)


def _read_generator(g: h5py.Group, rng: np.random.Generator) -> None:
    if _str(g, "bit_generator") != "PCG64":
        raise FileFormatError(f"{g.name}/@bit_generator = {_str(g, 'bit_generator')!r}; allowed: "
                              "'PCG64'")
    words = {}
    for k in ("state", "inc"):
        a = np.asarray(_attr(g, k))
        if a.shape != (2,) or a.dtype != np.uint64:
            raise FileFormatError(f"{g.name}/@{k} = {_show(a)}; allowed: 2 uint64 words")
        words[k] = (int(a[0]) << 64) | int(a[1])
    if words["inc"] % 2 == 0:
        raise FileFormatError(f"{g.name}/@inc is even; allowed: an odd PCG64 increment")
    rng.bit_generator.state = {"bit_generator": "PCG64", "state": words,
                               "has_uint32": _int(g, "has_uint32", 0, 1),
                               "uinteger": _int(g, "uinteger", 0, 2 ** 32 - 1)}


def _read_result(rg: h5py.Group, net: Network) -> Result:
    dt = _float(rg, "dt", lo=1e-300)
    step0 = _int(rg, "step0", 0, _MAX_STEP)
    n_steps = _int(rg, "n_steps", 0, _MAX_STEP - step0)
    raw_g = _get(rg, "raw", h5py.Group)
    spk_t = _read(_get(raw_g, "spike_steps", h5py.Dataset), np.int64, ndim=1, lo=step0,
                  hi=step0 + n_steps - 1, unit="(steps of the run)")
    if spk_t.size > 1 and np.any(np.diff(spk_t) < 0):
        _reject(f"{raw_g.name}/spike_steps", spk_t[1:], np.diff(spk_t) < 0,
                "non-decreasing steps (spikes in time order)")
    spk_i = _read(_get(raw_g, "spike_ids", h5py.Dataset), np.int64, spk_t.shape, lo=0,
                  hi=_MAX_INDEX)
    srec = _read(_get(raw_g, "state_samples", h5py.Dataset), np.float64, ndim=1)
    rrec = _read(_get(raw_g, "rate_counts", h5py.Dataset), np.int64, ndim=2, lo=0, hi=_MAX_INDEX)
    if rrec.shape[1] != n_steps:
        raise FileFormatError(f"{raw_g.name}/rate_counts has shape {rrec.shape}; expected "
                              f"(k, {n_steps}) (@n_steps)")
    raw = {"spk_t": spk_t, "spk_i": spk_i, "srec_out": srec, "rrec_out": rrec}
    mg = _get(rg, "monitors", h5py.Group)
    layout = {}
    for hid in _int_list(mg, "ids"):
        m = _get(mg, str(hid), h5py.Group)
        h = _read_monitor(m)
        if h.id != hid:
            raise FileFormatError(f"{m.name}/@id = {h.id}; allowed: {hid} (its name)")
        if isinstance(h, SpikeMonitor):
            info = {"lo": _int(m, "lo", 0, _MAX_INDEX), "n": _int(m, "n", 1, _MAX_NEURONS)}
            _need_memory(24 * info["n"], f"the spike trains of {m.name} (@n neurons)")
            if h.indices is not None and h.indices.size and h.indices.max() >= info["n"]:
                _reject(f"{m.name}/indices", h.indices, h.indices >= info["n"],
                        f"a neuron index in [0, {info['n'] - 1}] (@n)")
        elif isinstance(h, StateMonitor):
            names = _str_list(m, "row_variables")
            offs, counts = _int_list(m, "row_offsets"), _int_list(m, "row_counts")
            ns = _int(m, "n_samples", -(-n_steps // h.every), -(-n_steps // h.every))
            _need_memory(8 * ns, f"the sample times of {m.name} (@n_samples)")
            if tuple(names) != tuple(h.variables) or len(offs) != len(names) \
                    or counts != [h.indices.size] * len(names):
                raise FileFormatError(f"{m.name}: @row_variables, @row_offsets and @row_counts "
                                      f"do not describe {len(h.variables)} variables of "
                                      f"{h.indices.size} neurons ({', '.join(h.variables)})")
            for v, o, c in zip(names, offs, counts):
                if o + c * ns > srec.size:
                    raise FileFormatError(f"{m.name}: the samples of {v!r} ({c} x {ns} from "
                                          f"{o}) lie beyond raw/state_samples ({srec.size})")
            info = {"rows": {v: (o, c) for v, o, c in zip(names, offs, counts)}, "n_samples": ns}
        else:
            info = {"row": _int(m, "row", 0, rrec.shape[0] - 1),
                    "n": _int(m, "n", 1, _MAX_NEURONS)}
            row = rrec[info["row"]]
            if row.size and row.max() > info["n"]:
                _reject(f"{raw_g.name}/rate_counts[{info['row']}]", row, row > info["n"],
                        f"at most {info['n']} spikes a step (@n of {m.name})")
        if hid < len(net.monitors) and _same_monitor(net.monitors[hid], h):
            # the loaded network's handle indexes the result if it describes the same neurons
            mine = net.monitors[hid]
            k = [p.name for p in net.populations].index(mine.population)
            lo, n = sum(p.n for p in net.populations[:k]), net.populations[k].n
            if isinstance(h, StateMonitor) or (info["n"] == n and info.get("lo", lo) == lo):
                h = mine
        layout[hid] = (h, info)
    return Result(dt=dt, step0=step0, n_steps=n_steps, raw=raw, layout=layout)
