"""Parameter records (models, rules, distributions) and recorders in HDF5 groups: writing
them and reading them back through their classes' validation."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np

from .._params import Params
from ..errors import FileFormatError, NetworkError, SnnsimError
from ..monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from ._format import _MAX_INDEX, _MAX_STEP, _MONITORS, RECORD_CLASSES, _ds, _strs
from ._validate import _bool, _get, _int, _py, _read, _str, _str_list


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
