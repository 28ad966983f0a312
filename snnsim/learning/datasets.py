"""Image data sets for training and testing: MNIST, Fashion-MNIST, mnist-mini, digits.

Every loader returns a :class:`Dataset` of uint8 images ``(n, H, W)`` and int64 labels
``(n,)``. MNIST and Fashion-MNIST are read from their official IDX files on disk (never
downloaded), ``mnist-mini`` ships inside the package, ``digits`` comes with scikit-learn.

Examples
--------
>>> from snnsim.learning import datasets
>>> ds = datasets.load_mnist_mini(n_train=100, n_test=50)
>>> ds.x_train.shape, ds.x_train.dtype, ds.y_test.shape
((100, 28, 28), dtype('uint8'), (50,))
>>> datasets.load_dataset("digits").image_shape
(8, 8)
"""

from __future__ import annotations

import dataclasses
import difflib
import gzip
import hashlib
import inspect
import os
import struct
import zlib
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import DataError, ParameterError

__all__ = [
    "DATASETS", "Dataset", "read_idx", "load_dataset",
    "load_mnist", "load_fashion_mnist", "load_mnist_mini", "load_digits",
]

DATASETS: tuple[str, ...] = ("mnist-mini", "digits", "mnist", "fashion-mnist")

_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_MD5 = {  # of the official gzip files, in the order of _FILES
    "mnist": dict(zip(_FILES, (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "fashion-mnist": dict(zip(_FILES, (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
}
_SOURCES = {
    "mnist": "MNIST (http://yann.lecun.com/exdb/mnist/ or a mirror of it)",
    "fashion-mnist": "Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist)",
}
_HOW_TO_GET = ("the official MNIST and Fashion-MNIST distribution files are named "
               + ", ".join(_FILES) + "; (re)download them from " + " or ".join(_SOURCES.values()))
_MINI_SPLIT_SEED = 20150801  # fixed: the mnist-mini split never changes
_DIGITS_SPLIT_SEED = 1797
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32",
              0x0D: "float32", 0x0E: "float64"}


def _permutation(n: int, seed: int | list[int]) -> np.ndarray:
    """A permutation of ``range(n)`` that depends only on ``seed``: argsort of raw PCG64 output.

    NumPy treats bit-generator streams as fixed algorithms, while ``Generator`` methods such
    as ``permutation`` may change between versions (NEP 19); so splits never move under users.
    """
    keys = np.random.PCG64(seed).random_raw(n)
    return np.argsort(keys, kind="stable").astype(np.int64)


def _check_count(name: str, value: Any, available: int, dataset: str, part: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"{name} must be None or an integer >= 0, got {value!r}")
    if value > available:
        raise DataError(f"{name}={value} asks for more {part} examples than data set "
                        f"{dataset!r} has ({available})")
    return int(value)


@dataclasses.dataclass(frozen=True, repr=False)
class Dataset:
    """Images and labels split into a training and a test part.

    Parameters
    ----------
    x_train, x_test : np.ndarray, uint8, shape (n_train, H, W) and (n_test, H, W)
        Images, grey levels 0 (background) to ``max_value``.
    y_train, y_test : np.ndarray, int64, shape (n_train,) and (n_test,)
        Class labels, 0 to ``n_classes - 1`` (other integer dtypes are converted).
    name : str
        Data set name, one of :data:`DATASETS` for the built-in loaders.
    n_classes : int
        Number of classes.
    max_value : int
        Largest possible grey level (255 for MNIST, 16 for digits).

    The arrays are stored as read-only views; ``image_shape`` is ``(H, W)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((4, 2, 3), np.uint8); y = np.array([0, 1, 0, 1])
    >>> ds = Dataset(x, y, x[:2], y[:2], name="toy", n_classes=2, max_value=1)
    >>> ds.image_shape, ds.subset(n_train=3).x_train.shape
    ((2, 3), (3, 2, 3))
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    n_classes: int
    max_value: int

    def __post_init__(self) -> None:
        shapes = []
        for part in ("train", "test"):
            x, y = getattr(self, "x_" + part), getattr(self, "y_" + part)
            if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 3:
                raise DataError(f"Dataset {self.name!r}: x_{part} must be a uint8 array of shape "
                                f"(n, H, W), got {getattr(x, 'dtype', type(x))} {np.shape(x)}")
            if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu" or y.shape != x.shape[:1]:
                raise DataError(f"Dataset {self.name!r}: y_{part} must be an integer array of "
                                f"shape ({x.shape[0]},), got {getattr(y, 'dtype', type(y))} "
                                f"{np.shape(y)}")
            y = y.astype(np.int64, copy=False)
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise DataError(f"Dataset {self.name!r}: y_{part} has labels outside "
                                f"0..{self.n_classes - 1} ({y.min()}..{y.max()})")
            if x.size and x.max() > self.max_value:
                raise DataError(f"Dataset {self.name!r}: x_{part} has values up to {x.max()}, "
                                f"above max_value={self.max_value}")
            shapes.append(x.shape[1:])
            for field, arr in (("x_" + part, x), ("y_" + part, y)):
                view = arr.view()
                view.flags.writeable = False
                object.__setattr__(self, field, view)
        if shapes[0] != shapes[1]:
            raise DataError(f"Dataset {self.name!r}: training images are {shapes[0]} "
                            f"but test images are {shapes[1]}")

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)``, the shape of one image in pixels."""
        return tuple(int(s) for s in self.x_train.shape[1:])  # type: ignore[return-value]

    def __repr__(self) -> str:
        h, w = self.image_shape
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
                f"image_shape=({h}, {w}), n_classes={self.n_classes}, max_value={self.max_value})")

    def subset(self, n_train: int | None = None, n_test: int | None = None,
               seed: int = 0) -> Dataset:
        """A smaller data set drawn at random, without replacement and *not* stratified.

        Parameters
        ----------
        n_train, n_test : int or None
            How many training / test examples to keep; ``None`` keeps a whole part as it is.
        seed : int
            Picks the subset: the first ``n`` of a permutation that depends only on ``seed``
            and the part's size. So a larger ``n`` extends a smaller one, ``n_train`` does not
            change the test examples drawn, and class proportions are kept only on average
            (a small subset may miss a class).

        Returns
        -------
        Dataset
            A new data set with the same name, ``n_classes`` and ``max_value``.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
        parts = {}
        for i, part in enumerate(("train", "test")):
            x, y = getattr(self, "x_" + part), getattr(self, "y_" + part)
            n = _check_count("n_" + part, (n_train, n_test)[i], len(y), self.name, part)
            if n is not None:
                keep = _permutation(len(y), [int(seed), i])[:n]
                x, y = x[keep], y[keep]
            parts["x_" + part], parts["y_" + part] = x, y
        return dataclasses.replace(self, **parts)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file of unsigned bytes, gzip-compressed or raw.

    Parameters
    ----------
    path : str or path-like
        The file. Compression is recognised by its magic bytes (``1f 8b``), not its name.

    Returns
    -------
    np.ndarray, uint8, shape as declared in the header (1 to 4 dimensions)
        e.g. ``(60000, 28, 28)`` for an MNIST image file, ``(60000,)`` for a label file.

    Raises
    ------
    DataError
        If the file is missing, truncated, corrupt, or not an unsigned-byte IDX file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "labels.idx"
    >>> _ = f.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(f)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def _fail(path: Path, what: str) -> DataError:
    return DataError(f"cannot read IDX file '{path}': {what}. Note: {_HOW_TO_GET}")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from None


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Decode the (possibly gzip-compressed) bytes of IDX file ``path``."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except EOFError:
            raise _fail(path, "the gzip stream is truncated (incomplete download?)") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise _fail(path, f"the gzip data is corrupt ({exc})") from None
    if len(data) < 4:
        raise _fail(path, f"only {len(data)} bytes, too short for an IDX header")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\0\0" or code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise _fail(path, f"not an IDX file (magic bytes {data[:4].hex(' ')}, expected "
                          "00 00 08 0n with n = 1..4)")
    if code != 0x08:
        raise _fail(path, f"IDX type code 0x{code:02X} ({_IDX_TYPES[code]}) is not supported; "
                          "only unsigned-byte (0x08) files such as MNIST's are")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _fail(path, f"truncated header ({len(data)} bytes, a {ndim}-D header has {header})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != expected:
        raise _fail(path, f"header declares shape {shape} ({expected} bytes of data) but the "
                          f"file holds {len(data) - header} (truncated or corrupt)")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape).copy()


def _read_verified(path: Path, expected: str | None, dataset: str) -> np.ndarray:
    """Read IDX file ``path``, first checking its MD5 sum unless ``expected`` is None."""
    data = _read_bytes(path)
    got = expected and hashlib.md5(data).hexdigest()
    if got != expected:
        other = [k for k, sums in _MD5.items() if got in sums.values()]
        what = f"the official {other[0]} file" if other else "damaged or a different file"
        raise DataError(f"md5 checksum of '{path}' is {got}, expected {expected} for the official "
                        f"{dataset} file: it is {what}. Download it again "
                        f"from {_SOURCES[dataset]}, or pass verify=False to load a custom file "
                        "in the same format")
    return _parse_idx(data, path)


def _find_files(dataset: str, subdir: str, path: str | os.PathLike[str] | None) -> Path:
    if path is not None:
        base = Path(path).expanduser()
        places = [base, base / subdir]
    else:
        places = []
        env = os.environ.get("SNNSIM_DATA", "")
        if env:
            places += [Path(env).expanduser() / subdir, Path(env).expanduser()]
        places.append(Path("data") / subdir)
    for place in places:
        if all((place / f).is_file() for f in _FILES):
            return place
    lines = []
    for place in places:
        missing = [f for f in _FILES if not (place / f).is_file()]
        lines.append(f"  {place.resolve()}: missing {', '.join(missing)}")
    raise DataError(f"{dataset} files not found; looked in\n" + "\n".join(lines) + "\n"
                    f"Download {', '.join(_FILES)} from {_SOURCES[dataset]} into ./data/{subdir}/ "
                    f"or $SNNSIM_DATA/{subdir}/, or pass path= to the directory holding them")


def _load_idx_set(dataset: str, path: str | os.PathLike[str] | None, n_train: int | None,
                  n_test: int | None, seed: int, verify: bool) -> Dataset:
    where = _find_files(dataset, dataset, path)
    x_train, y_train, x_test, y_test = (
        _read_verified(where / f, _MD5[dataset][f] if verify else None, dataset) for f in _FILES)
    for x, y, fx, fy in ((x_train, y_train, *_FILES[:2]), (x_test, y_test, *_FILES[2:])):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{dataset} files in '{where}': {fx} holds images of shape {x.shape} "
                            f"and {fy} labels of shape {y.shape}; expected (n, H, W) and (n,)")
    ds = Dataset(x_train, y_train, x_test, y_test, name=dataset, n_classes=10, max_value=255)
    return ds.subset(n_train, n_test, seed)


def load_mnist(path: str | os.PathLike[str] | None = None, *, n_train: int | None = None,
               n_test: int | None = None, seed: int = 0, verify: bool = True) -> Dataset:
    """Load MNIST from its four official IDX files (60,000 train / 10,000 test).

    Parameters
    ----------
    path : str or path-like, optional
        Directory holding ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (or holding them in
        ``path/mnist/``). If omitted, the first of ``$SNNSIM_DATA/mnist/``, ``$SNNSIM_DATA/``
        (when that environment variable is set) and ``./data/mnist/`` (relative to the working
        directory) that holds all four files is used.
    n_train, n_test, seed
        Optional random subset, see :meth:`Dataset.subset`.
    verify : bool
        Check the files' MD5 sums against the official ones (default); False loads custom
        files in the same format.

    Returns
    -------
    Dataset
        ``x_*`` uint8 (n, 28, 28), values 0..255; ``y_*`` int64 (n,), 0..9.

    Raises
    ------
    DataError
        If a file is missing (the message lists the places searched), damaged, or fails the
        MD5 check.

    Examples
    --------
    >>> ds = load_mnist("data/mnist", n_train=1000)  # doctest: +SKIP
    """
    return _load_idx_set("mnist", path, n_train, n_test, seed, verify)


def load_fashion_mnist(path: str | os.PathLike[str] | None = None, *,
                       n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                       verify: bool = True) -> Dataset:
    """Load Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from its four official IDX files.

    Same file names, parameters, checks and result as :func:`load_mnist` (labels 0 T-shirt/top,
    1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot),
    looked for in ``path``, ``path/fashion-mnist/``, else ``$SNNSIM_DATA/fashion-mnist/``,
    ``$SNNSIM_DATA/`` and ``./data/fashion-mnist/``.

    Examples
    --------
    >>> ds = load_fashion_mnist(n_train=1000)  # doctest: +SKIP
    """
    return _load_idx_set("fashion-mnist", path, n_train, n_test, seed, verify)


def load_mnist_mini(n_train: int | None = None, n_test: int | None = None,
                    seed: int = 0) -> Dataset:
    """MNIST's 10,000 *test* images, shipped with snnsim and re-split 8,000 / 2,000.

    The original MNIST test files (``t10k-*``) are read from the package data and checked
    against their MD5 sums. They are split by a fixed permutation, the same on every machine
    and NumPy version (``np.argsort`` of ``np.random.PCG64(20150801).random_raw(10000)``):
    its first 8,000 indices are the training part, the last 2,000 the test part. The split
    does not depend on ``seed``. Accuracies on mnist-mini are not comparable with published
    MNIST results; use :func:`load_mnist` for those.

    Parameters
    ----------
    n_train, n_test, seed
        Optional random subset of each part, see :meth:`Dataset.subset`.

    Returns
    -------
    Dataset
        ``x_*`` uint8 (n, 28, 28), values 0..255; ``y_*`` int64 (n,), 0..9.

    Examples
    --------
    >>> ds = load_mnist_mini()
    >>> len(ds.y_train), len(ds.y_test), ds.image_shape
    (8000, 2000, (28, 28))
    """
    folder = resources.files("snnsim").joinpath("data", "mnist_mini")
    arrays = []
    for f in _FILES[2:]:
        with resources.as_file(folder.joinpath(f)) as file:
            if not file.is_file():
                raise DataError(f"mnist-mini package data '{file}' is missing: snnsim was "
                                "installed without its data files; reinstall snnsim")
            try:
                arrays.append(_read_verified(file, _MD5["mnist"][f], "mnist"))
            except DataError as exc:
                raise DataError(f"snnsim's mnist-mini package data is damaged ({exc}); "
                                "reinstall snnsim") from None
    x, y = arrays
    perm = _permutation(len(y), _MINI_SPLIT_SEED)
    train, test = perm[:8000], perm[8000:]
    ds = Dataset(x[train], y[train], x[test], y[test], name="mnist-mini", n_classes=10,
                 max_value=255)
    return ds.subset(n_train, n_test, seed)


def load_digits(n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits, split 1,437 train / 360 test (80/20).

    The 1,797 images (values 0..16, UCI "Optical Recognition of Handwritten Digits") are split
    by a fixed permutation (``np.argsort`` of ``np.random.PCG64(1797).random_raw(1797)``):
    first 1,437 indices train, last 360 test. The split does not depend on ``seed``.

    Parameters
    ----------
    n_train, n_test, seed
        Optional random subset of each part, see :meth:`Dataset.subset`.

    Returns
    -------
    Dataset
        ``x_*`` uint8 (n, 8, 8), values 0..16; ``y_*`` int64 (n,), 0..9.

    Examples
    --------
    >>> ds = load_digits()
    >>> ds.x_train.shape, ds.max_value
    ((1437, 8, 8), 16)
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = np.asarray(bunch.images).astype(np.uint8)
    y = np.asarray(bunch.target)
    perm = _permutation(len(y), _DIGITS_SPLIT_SEED)
    train, test = perm[:1437], perm[1437:]
    ds = Dataset(x[train], y[train], x[test], y[test], name="digits", n_classes=10, max_value=16)
    return ds.subset(n_train, n_test, seed)


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "mnist-mini": load_mnist_mini, "digits": load_digits,
    "mnist": load_mnist, "fashion-mnist": load_fashion_mnist,
}


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load a data set by name: ``"mnist-mini"``, ``"digits"``, ``"mnist"`` or ``"fashion-mnist"``.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` (case and ``_`` / ``-`` are not significant).
    **kwargs
        Passed to the loader (:func:`load_mnist_mini`, :func:`load_digits`,
        :func:`load_mnist`, :func:`load_fashion_mnist`).

    Examples
    --------
    >>> load_dataset("digits", n_train=10).x_train.shape
    (10, 8, 8)
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in _LOADERS:
        close = difflib.get_close_matches(key, DATASETS, n=1, cutoff=0.4)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(f"unknown data set {name!r}{hint} (known: {', '.join(DATASETS)})")
    loader = _LOADERS[key]
    allowed = list(inspect.signature(loader).parameters)
    for kw in kwargs:
        if kw not in allowed:
            close = difflib.get_close_matches(kw, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"unknown parameter {kw!r} for data set {key!r}{hint} "
                                 f"(allowed: {', '.join(allowed)})")
    return loader(**kwargs)
