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
through the class's validation.

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
import os
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
from .errors import FileFormatError, NetworkError, SnnsimError, SnnsimWarning
from .inputs import InputModel, PoissonInput, SpikeSource
from .monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from .network import Network
from .neurons import LIF, AdaptiveLIF, NeuronModel
from .plasticity import DiehlCookSTDP, PairSTDP, PlasticityRule, TripletSTDP, WeightNormalization
from .results import Result
from .synapses import Conductance, Current

__all__ = ["save", "load", "atomic_write", "write_network", "read_network", "open_snnsim",
           "check_header", "FORMAT", "FORMAT_VERSION"]

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


def _str_list(attr) -> list[str]:
    return [_s(v) for v in np.asarray(attr).ravel()]


def _ds(g: h5py.Group, name: str, data) -> h5py.Dataset:
    arr = np.ascontiguousarray(data)
    if arr.size >= _COMPRESS_FROM:
        return g.create_dataset(name, data=arr, compression="gzip", compression_opts=4, shuffle=True)
    return g.create_dataset(name, data=arr)


def _arr(node, dtype, shape=None, what: str = "") -> np.ndarray:
    if not isinstance(node, h5py.Dataset):
        raise FileFormatError(f"{what or node.name} must be a dataset")
    a = node[()]
    a = np.asarray(a)
    if a.dtype.kind not in "biuf" or (np.dtype(dtype).kind in "iu" and a.dtype.kind == "f"):
        raise FileFormatError(f"{node.name} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    if shape is not None and a.shape != tuple(shape):
        raise FileFormatError(f"{node.name} has shape {a.shape}, expected {tuple(shape)}")
    return a.astype(dtype, copy=True)


def _int(g, name: str) -> int:
    v = g.attrs[name]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise FileFormatError(f"attribute {name!r} of {g.name} must be an integer, got {v!r}")
    return int(v)


def _py(v):
    """An attribute value as the plain Python value a parameter record expects."""
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        raise FileFormatError(f"unexpected array attribute {v!r}")
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
    tname = _s(g.attrs["type"])
    cls = RECORD_CLASSES.get(tname)
    if g.attrs.get("user_defined", False):
        cls = None
    if cls is None or not issubclass(cls, base):
        if allow_unknown:
            return None
        raise FileFormatError(f"{g.name}: unknown or misplaced model class {tname!r} (expected a "
                              f"{base.__name__}; known: {', '.join(sorted(RECORD_CLASSES))})")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    nulls = _str_list(g.attrs["null_fields"]) if "null_fields" in g.attrs else []
    for key, value in g.attrs.items():
        if key in ("type", "null_fields"):
            continue
        if key not in names:
            raise FileFormatError(f"{g.name}: {tname} has no parameter {key!r}")
        kwargs[key] = _py(value)
    for key, item in g.items():
        if key not in names:
            raise FileFormatError(f"{g.name}: {tname} has no parameter {key!r}")
        kwargs[key] = (_read_record(item, Params) if isinstance(item, h5py.Group)
                       else np.asarray(item[()]))
    for key in nulls:
        if key not in names:
            raise FileFormatError(f"{g.name}: {tname} has no parameter {key!r}")
        kwargs[key] = None
    return cls(**kwargs)


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
    typ = _s(g.attrs["type"])
    if typ not in _MONITORS:
        raise FileFormatError(f"{g.name}: unknown recorder type {typ!r}")
    pop, mid = _s(g.attrs["population"]), _int(g, "id")
    idx = _arr(g["indices"], np.int64) if "indices" in g else None
    if typ == "SpikeMonitor":
        return SpikeMonitor(pop, mid, idx)
    if typ == "StateMonitor":
        return StateMonitor(pop, mid, variables=tuple(_str_list(g.attrs["variables"])),
                            indices=idx, every=_int(g, "every"))
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
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as f:
            write_network(f, network, result)


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
    if not h5py.is_hdf5(src):
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
    except (OSError, KeyError, ValueError) as exc:
        raise FileFormatError(f"cannot read {src!r}: its attributes are damaged ({exc})") from None
    if fmt is None or _s(fmt) != FORMAT:
        raise FileFormatError(f"{src!r} is an HDF5 file but not an snnsim file (its root attribute "
                              f"'format' is {None if fmt is None else _s(fmt)!r}, expected 'snnsim')")
    if isinstance(ver, (bool, np.bool_)) or not isinstance(ver, (int, np.integer)):
        raise FileFormatError(f"{src!r}: attribute 'format_version' must be an integer, got {ver!r}")
    if ver > FORMAT_VERSION:
        from . import __version__
        raise FileFormatError(f"{src!r} has format_version {int(ver)}, newer than this snnsim "
                              f"({__version__}) can read (up to {FORMAT_VERSION}); upgrade snnsim")
    if ver < 1:
        raise FileFormatError(f"{src!r}: invalid format_version {int(ver)}")
    return int(ver)


def read_network(g: h5py.Group, src: str = "<hdf5>") -> tuple[Network, Result | None]:
    """Rebuild the network (and result, if any) stored in an open file or group ``g``.
    Any inconsistency raises :class:`~snnsim.errors.FileFormatError` naming ``src``."""
    check_header(g, src)
    try:
        net = _read_network(g["network"])
        res = _read_result(g["results"], net) if "results" in g else None
    except FileFormatError as exc:
        raise FileFormatError(f"{src!r}: {exc}") from None
    except (KeyError, OSError, ValueError, TypeError, IndexError, RuntimeError, SnnsimError) as exc:
        raise FileFormatError(f"{src!r} is damaged or inconsistent ({type(exc).__name__}: {exc})"
                              ) from exc
    return net, res


def load(path: str | os.PathLike, *, with_result: bool | None = None):
    """Load a file written by :func:`save`.

    Returns
    -------
    Network, or (Network, Result)
        By default (``with_result=None``) the network alone if the file holds no result and
        ``(network, result)`` if it holds one.  ``with_result=True`` always returns a pair
        (the result may be None); ``with_result=False`` always returns the network alone.

    Raises
    ------
    FileFormatError
        The file is not HDF5, not an snnsim file, truncated or damaged, or of a newer
        ``format_version``.
    """
    src = os.fspath(path)
    with open_snnsim(src) as f:
        net, res = read_network(f, src)
    if with_result is None:
        return net if res is None else (net, res)
    return (net, res) if with_result else net


def _read_network(ng: h5py.Group) -> Network:
    net = Network(dt=float(ng.attrs["dt"]), seed=_int(ng, "seed"))
    dt = net.dt
    pg = ng["populations"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnnsimWarning)  # already said when it was built
        for name in _str_list(pg.attrs["order"]):
            h = pg[_key(name)]
            model = _read_record(h["params"], Params)
            if not isinstance(model, (NeuronModel, InputModel)):
                raise FileFormatError(f"{h.name}: {type(model).__name__} is not a population model")
            pop = net.add(model, name=name)
            if isinstance(model, NeuronModel):
                ini = h["initial"]
                pop._init = {k: _arr(ini[k], np.float64, (pop.n,)) for k in ("v", "g_e", "g_i", "theta")}
            if isinstance(model, PoissonInput):
                pop._rates = pop._checked_rates(_arr(h["rates"], np.float64, (pop.n,)))
            pop._frozen = bool(h.attrs["theta_frozen"])

    qg = ng["projections"]
    for name in _str_list(qg.attrs["order"]):
        h = qg[_key(name)]
        pre, post = net[_s(h.attrs["pre_population"])], net[_s(h.attrs["post_population"])]
        ns = _int(h, "n_synapses")
        pre_idx = _arr(h["pre"], np.int64, (ns,))
        post_idx = _arr(h["post"], np.int64, (ns,))
        d = _arr(h["delay_steps"], np.int64, (ns,))
        w = _arr(h["weights"], np.float64, (ns,))
        if ns and d.min() < 1:
            raise FileFormatError(f"{h.name}: delays must be >= 1 step")
        plast = _read_record(h["plasticity"], PlasticityRule) if "plasticity" in h else None
        norm = _read_record(h["normalization"], WeightNormalization) if "normalization" in h else None
        pr = net.connect(pre, post, FromArrays(pre_idx, post_idx), weight=0.0, delay=d * dt,
                         receptor=_s(h.attrs["receptor"]), plasticity=plast,
                         normalization=norm, name=name)
        if (pr.name != name or not np.array_equal(pr._pre, pre_idx)
                or not np.array_equal(pr._post, post_idx) or not np.array_equal(pr._delay, d)):
            raise FileFormatError(f"{h.name}: synapses are not stored in (delay, pre, post) order")
        pr._w[:] = w
        rule = _read_record(h["rule"], ConnectivityRule, allow_unknown=True)
        pr.rule = rule if rule is not None else FromArrays(pre_idx, post_idx)
        plastic = bool(h.attrs["plastic"])
        if plastic and plast is None:
            raise FileFormatError(f"{h.name}: plastic but without a plasticity rule")
        pr._plastic = plastic
        pr._on_step = _int(h, "on_step")

    mg = ng["monitors"]
    for i in range(_int(mg, "count")):
        m = _read_monitor(mg[str(i)])
        if m.id != i:
            raise FileFormatError(f"{mg.name}/{i}: recorder id {m.id} out of order")
        pop = net[m.population]
        if isinstance(m, SpikeMonitor):
            got = net.record_spikes(pop, m.indices)
        elif isinstance(m, StateMonitor):
            got = net.record_state(pop, m.variables, m.indices, every=m.every * dt)
        else:
            got = net.population_rate(pop)
        if not _same_monitor(got, m):
            raise FileFormatError(f"{mg.name}/{i}: recorder could not be recreated exactly")

    if bool(ng.attrs["compiled"]) and net.populations:
        _restore_state(ng, net)
    _read_generator(ng["generator"], net._rng)
    return net


def _restore_state(ng: h5py.Group, net: Network) -> None:
    plan = net.compile()
    R = _int(ng, "history_depth")
    if R != plan.R:
        raise FileFormatError(f"{ng.name}: history depth {R} does not match the synapses' "
                              f"delays (expected {plan.R})")
    plan.step[0] = _int(ng, "step")
    pg = ng["populations"]
    for p, pop in enumerate(net.populations):
        s = pg[_key(pop.name)]["state"]
        lo, hi, n = pop._lo, pop._lo + pop.n, pop.n
        for name, row in _ROWS:
            plan.st[row, lo:hi] = _arr(s[name], np.float64, (n,))
        plan.ref[lo:hi] = _arr(s["ref"], np.int32, (n,))
        plan.nxt[lo:hi] = _arr(s["next_spike"], np.int64, (n,))
        plan.rng[p] = _arr(s["rng"], np.uint64, (4,))
        pop._rng_state = plan.rng[p].copy()
        plan.hist[:, lo:hi] = _arr(s["hist"], np.int64, (R, n))
        plan.hist_cnt[:, p] = _arr(s["hist_count"], np.int64, (R,))
        pos = _int(s, "source_pos")
        lo_e, hi_e = plan.pop_i[p, _p.PI_SRC_LO], plan.pop_i[p, _p.PI_SRC_HI]
        if not 0 <= pos <= hi_e - lo_e:
            raise FileFormatError(f"{s.name}: source_pos {pos} out of range")
        plan.pop_i[p, _p.PI_SRC_PTR] = lo_e + pos
        plan.pop_i[p, _p.PI_REDRAW] = int(bool(s.attrs["redraw"]))
        plan.pop_i[p, _p.PI_FROZEN] = int(bool(s.attrs["frozen"]))
    qg = ng["projections"]
    for pr in net.projections:
        h = qg[_key(pr.name)]
        if pr._traces is not None:
            x, y, hx, _ = pr._traces
            t = h["traces"]
            x[:] = _arr(t["x"], np.float64, x.shape)
            y[:] = _arr(t["y"], np.float64, y.shape)
            hx[:] = _arr(t["x_history"], np.float64, hx.shape)
            if "gain" in t:  # files written before per-neuron gains default to 1
                pr._gain[:] = _arr(t["gain"], np.float64, pr._gain.shape)
    plan.version += 1


def _read_generator(g: h5py.Group, rng: np.random.Generator) -> None:
    if _s(g.attrs["bit_generator"]) != "PCG64":
        raise FileFormatError(f"{g.name}: unsupported bit generator {_s(g.attrs['bit_generator'])!r}")
    words = {}
    for k in ("state", "inc"):
        a = np.asarray(g.attrs[k])
        if a.shape != (2,) or a.dtype != np.uint64:
            raise FileFormatError(f"{g.name}: attribute {k!r} must be 2 uint64 words")
        words[k] = (int(a[0]) << 64) | int(a[1])
    rng.bit_generator.state = {"bit_generator": "PCG64", "state": words,
                               "has_uint32": _int(g, "has_uint32"),
                               "uinteger": int(g.attrs["uinteger"])}


def _read_result(rg: h5py.Group, net: Network) -> Result:
    raw_g = rg["raw"]
    raw = {"spk_t": _arr(raw_g["spike_steps"], np.int64),
           "spk_i": _arr(raw_g["spike_ids"], np.int64),
           "srec_out": _arr(raw_g["state_samples"], np.float64),
           "rrec_out": _arr(raw_g["rate_counts"], np.int64)}
    if raw["spk_t"].shape != raw["spk_i"].shape or raw["rrec_out"].ndim != 2:
        raise FileFormatError(f"{raw_g.name}: inconsistent shapes")
    mg = rg["monitors"]
    layout = {}
    for hid in np.asarray(mg.attrs["ids"], dtype=np.int64).tolist():
        m = mg[str(hid)]
        h = _read_monitor(m)
        if hid < len(net.monitors) and _same_monitor(net.monitors[hid], h):
            h = net.monitors[hid]  # so that the loaded network's handles index the result
        if isinstance(h, SpikeMonitor):
            info = {"lo": _int(m, "lo"), "n": _int(m, "n")}
        elif isinstance(h, StateMonitor):
            names = _str_list(m.attrs["row_variables"])
            offs = np.asarray(m.attrs["row_offsets"], dtype=np.int64).tolist()
            counts = np.asarray(m.attrs["row_counts"], dtype=np.int64).tolist()
            info = {"rows": {v: (o, c) for v, o, c in zip(names, offs, counts, strict=True)},
                    "n_samples": _int(m, "n_samples")}
        else:
            info = {"row": _int(m, "row"), "n": _int(m, "n")}
        layout[hid] = (h, info)
    return Result(dt=float(rg.attrs["dt"]), step0=_int(rg, "step0"), n_steps=_int(rg, "n_steps"),
                  raw=raw, layout=layout)
