"""Validated reading of HDF5 datasets and attributes (``docs/hdf5-format.md``, "Validation
on read")."""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import h5py
import numpy as np

from ..errors import FileFormatError, ResourceError, SnnsimError
from .._memory import available_memory
from ._format import _MAX_INDEX, _s


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
