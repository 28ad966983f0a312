"""Tests of snnsim.learning.datasets: IDX reading, MD5 checks, file lookup, built-in data sets.

No test reads a real MNIST download: IDX files are written here, in tmp_path.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from snnsim.errors import DataError, ParameterError
from snnsim.learning import datasets
from snnsim.learning.datasets import (DATASETS, Dataset, load_dataset, load_digits, load_fashion_mnist,
                                      load_mnist, load_mnist_mini, read_idx)

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, written independently of snnsim."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_set(folder: Path, n_train: int = 30, n_test: int = 12, seed: int = 0) -> dict:
    """Four MNIST-named IDX files of random images and labels; returns the arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        FILES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        FILES[1]: rng.integers(0, 10, n_train).astype(np.uint8),
        FILES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        FILES[3]: rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, arr in arrays.items():
        write_idx(folder / name, arr)
    return arrays


@pytest.fixture(scope="module")
def mini() -> Dataset:
    return load_mnist_mini()


def row_hashes(x: np.ndarray) -> set[bytes]:
    return {hashlib.sha1(row.tobytes()).digest() for row in x}


# ---------------------------------------------------------------- read_idx

@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("shape", [(7,), (5, 4, 3)])
def test_read_idx_round_trip(tmp_path, gz, shape):
    arr = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    got = read_idx(write_idx(tmp_path / "f.idx", arr, gz=gz))
    assert got.dtype == np.uint8 and got.shape == shape
    np.testing.assert_array_equal(got, arr)
    got[...] = 0  # an ordinary writable array
    assert read_idx(tmp_path / "f.idx").tobytes() == arr.tobytes()


def test_read_idx_detects_gzip_by_magic_not_name(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "plain.gz", arr, gz=False)), arr)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "packed.idx", arr, gz=True)), arr)


@settings(max_examples=40, deadline=None)
@given(arr=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)),
       gz=st.booleans())
def test_read_idx_round_trip_property(tmp_path_factory, arr, gz):
    path = write_idx(tmp_path_factory.mktemp("idx") / "a", arr, gz=gz)
    got = read_idx(path)
    assert got.shape == arr.shape and got.dtype == np.uint8
    np.testing.assert_array_equal(got, arr)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="no-such-file.gz") as err:
        read_idx(tmp_path / "no-such-file.gz")
    assert "train-images-idx3-ubyte.gz" in str(err.value)  # says what the official files are


def test_read_idx_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((20, 8, 8), np.uint8) + 3))
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.gz.*truncated"):
        read_idx(tmp_path / "cut.gz")


def test_read_idx_truncated_payload(tmp_path):
    data = idx_bytes(np.ones((4, 3, 3), np.uint8))
    (tmp_path / "short.idx").write_bytes(data[:-5])
    with pytest.raises(DataError, match=r"short\.idx.*\(4, 3, 3\).*truncated"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "long.idx").write_bytes(data + b"\0")
    with pytest.raises(DataError, match="long.idx"):
        read_idx(tmp_path / "long.idx")
    (tmp_path / "header.idx").write_bytes(data[:9])
    with pytest.raises(DataError, match="header"):
        read_idx(tmp_path / "header.idx")


@pytest.mark.parametrize("magic, what", [
    (b"\x01\x00\x08\x01", "not an IDX file"),      # non-zero leading byte
    (b"\x00\x00\x07\x01", "not an IDX file"),      # unknown type code
    (b"\x00\x00\x08\x00", "not an IDX file"),      # zero dimensions
    (b"\x00\x00\x08\x05", "not an IDX file"),      # five dimensions
    (b"\x00\x00\x0d\x01", "0x0D"),                 # float32: valid IDX but not supported
])
def test_read_idx_wrong_magic(tmp_path, magic, what):
    good = idx_bytes(np.arange(3, dtype=np.uint8))
    (tmp_path / "bad.idx").write_bytes(magic + good[4:])
    with pytest.raises(DataError, match=what) as err:
        read_idx(tmp_path / "bad.idx")
    assert "bad.idx" in str(err.value)


def test_read_idx_text_file_is_rejected(tmp_path):
    (tmp_path / "page.html").write_text("<html>404 Not Found</html>")
    with pytest.raises(DataError, match="page.html"):
        read_idx(tmp_path / "page.html")


def test_read_idx_corrupt_gzip_bytes(tmp_path):
    arr = np.random.default_rng(2).integers(0, 256, (50, 10, 10), dtype=np.uint8)
    data = bytearray(gzip.compress(idx_bytes(arr)))
    for i in range(20, len(data) - 20, 7):  # scramble the deflate stream, keep the gzip header
        data[i] ^= 0x5A
    (tmp_path / "corrupt.gz").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"corrupt\.gz.*(corrupt|truncated)"):
        read_idx(tmp_path / "corrupt.gz")


def test_read_idx_gzip_crc_mismatch(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))))
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    (tmp_path / "crc.gz").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"crc\.gz.*corrupt"):
        read_idx(tmp_path / "crc.gz")


def test_data_error_is_value_error():
    assert issubclass(DataError, ValueError)


# ---------------------------------------------------------------- load_mnist / load_fashion_mnist

def test_load_mnist_from_path(tmp_path):
    arrays = write_set(tmp_path / "m")
    ds = load_mnist(tmp_path / "m", verify=False)
    assert ds.name == "mnist" and ds.n_classes == 10 and ds.max_value == 255
    assert ds.image_shape == (28, 28)
    np.testing.assert_array_equal(ds.x_train, arrays[FILES[0]])
    np.testing.assert_array_equal(ds.y_train, arrays[FILES[1]])
    np.testing.assert_array_equal(ds.x_test, arrays[FILES[2]])
    np.testing.assert_array_equal(ds.y_test, arrays[FILES[3]])
    assert ds.y_train.dtype == np.int64 and ds.x_train.dtype == np.uint8


def test_load_mnist_path_with_subdirectory(tmp_path):
    arrays = write_set(tmp_path / "mnist")
    np.testing.assert_array_equal(load_mnist(str(tmp_path), verify=False).y_test, arrays[FILES[3]])


def test_md5_verification_rejects_other_files(tmp_path):
    write_set(tmp_path)
    with pytest.raises(DataError, match=r"(?i)md5 checksum") as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg and "verify=False" in msg
    with pytest.raises(DataError, match="8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        load_fashion_mnist(tmp_path)
    assert len(load_fashion_mnist(tmp_path, verify=False).y_train) == 30


def test_md5_error_recognises_the_other_data_set(tmp_path, monkeypatch):
    write_set(tmp_path)
    sums = {f: hashlib.md5((tmp_path / f).read_bytes()).hexdigest() for f in FILES}
    monkeypatch.setitem(datasets._MD5, "mnist", sums)  # pretend these are the MNIST files
    with pytest.raises(DataError, match="it is the official mnist file"):
        load_fashion_mnist(tmp_path)


def test_md5_verification_accepts_matching_files(tmp_path, monkeypatch):
    write_set(tmp_path)
    sums = {f: hashlib.md5((tmp_path / f).read_bytes()).hexdigest() for f in FILES}
    monkeypatch.setitem(datasets._MD5, "mnist", sums)
    assert len(load_mnist(tmp_path).y_test) == 12
    write_idx(tmp_path / FILES[3], np.ones(12, np.uint8))  # same shape, other content
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)


def test_load_mnist_missing_lists_places(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNNSIM_DATA", str(tmp_path / "store"))
    (tmp_path / "store").mkdir()
    write_idx(tmp_path / "store" / FILES[0], np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(DataError, match="not found") as err:
        load_mnist()
    msg = str(err.value)
    assert str(tmp_path.resolve() / "store" / "mnist") in msg
    assert str(tmp_path.resolve() / "data" / "mnist") in msg
    assert "t10k-labels-idx1-ubyte.gz" in msg and "SNNSIM_DATA" in msg


def test_snnsim_data_environment_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = write_set(tmp_path / "env" / "mnist", seed=1)
    b = write_set(tmp_path / "env" / "fashion-mnist", seed=2)
    monkeypatch.setenv("SNNSIM_DATA", str(tmp_path / "env"))
    np.testing.assert_array_equal(load_mnist(verify=False).x_train, a[FILES[0]])
    np.testing.assert_array_equal(load_fashion_mnist(verify=False).x_train, b[FILES[0]])
    assert load_fashion_mnist(verify=False).name == "fashion-mnist"


def test_snnsim_data_directly_and_cwd_data_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flat = write_set(tmp_path / "flat", seed=3)
    monkeypatch.setenv("SNNSIM_DATA", str(tmp_path / "flat"))
    np.testing.assert_array_equal(load_mnist(verify=False).y_train, flat[FILES[1]])
    local = write_set(tmp_path / "data" / "mnist", seed=4)
    monkeypatch.setenv("SNNSIM_DATA", str(tmp_path / "elsewhere"))
    np.testing.assert_array_equal(load_mnist(verify=False).y_train, local[FILES[1]])
    monkeypatch.delenv("SNNSIM_DATA")
    np.testing.assert_array_equal(load_mnist(verify=False).y_train, local[FILES[1]])


def test_load_mnist_subset_and_mismatched_counts(tmp_path):
    write_set(tmp_path / "m", n_train=40, n_test=20)
    ds = load_mnist(tmp_path / "m", verify=False, n_train=10, n_test=5, seed=3)
    assert ds.x_train.shape == (10, 28, 28) and ds.x_test.shape == (5, 28, 28)
    write_idx(tmp_path / "m" / FILES[1], np.zeros(39, np.uint8))
    with pytest.raises(DataError, match="train-labels"):
        load_mnist(tmp_path / "m", verify=False)


# ---------------------------------------------------------------- mnist-mini

def test_mnist_mini_shapes(mini):
    assert (mini.name, mini.n_classes, mini.max_value) == ("mnist-mini", 10, 255)
    assert mini.x_train.shape == (8000, 28, 28) and mini.x_test.shape == (2000, 28, 28)
    assert mini.x_train.dtype == np.uint8 and mini.y_train.dtype == np.int64
    assert mini.y_train.shape == (8000,) and mini.y_test.shape == (2000,)
    for y in (mini.y_train, mini.y_test):
        assert set(np.unique(y)) == set(range(10))
    assert mini.x_train.max() == 255 and mini.x_train.min() == 0


def test_mnist_mini_split_is_fixed_and_disjoint(mini):
    again = load_mnist_mini()
    np.testing.assert_array_equal(again.x_train, mini.x_train)
    np.testing.assert_array_equal(again.y_test, mini.y_test)
    train, test = row_hashes(mini.x_train), row_hashes(mini.x_test)
    assert len(train) == 8000 and len(test) == 2000 and not train & test
    # pins the split itself: a change of NumPy's random streams must not move it
    assert mini.y_train[:12].tolist() == EXPECTED_MINI_TRAIN_LABELS
    assert mini.y_test[:12].tolist() == EXPECTED_MINI_TEST_LABELS


def test_mnist_mini_seed_picks_subsets_not_split(mini):
    a = load_mnist_mini(n_train=100, n_test=50, seed=1)
    b = load_mnist_mini(n_train=100, n_test=50, seed=1)
    c = load_mnist_mini(n_train=100, n_test=50, seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert row_hashes(a.x_train) <= row_hashes(mini.x_train)
    assert row_hashes(c.x_test) <= row_hashes(mini.x_test)
    np.testing.assert_array_equal(load_mnist_mini(seed=5).x_train, mini.x_train)


def test_mnist_mini_damaged_package_data(monkeypatch):
    sums = dict(datasets._MD5["mnist"], **{FILES[3]: "0" * 32})
    monkeypatch.setitem(datasets._MD5, "mnist", sums)
    with pytest.raises(DataError, match="mnist-mini package data is damaged.*reinstall"):
        load_mnist_mini()


def test_mnist_mini_arrays_are_read_only(mini):
    with pytest.raises(ValueError):
        mini.x_train[0, 0, 0] = 1


# ---------------------------------------------------------------- Dataset.subset

def toy(n_train: int = 50, n_test: int = 20) -> Dataset:
    x = np.arange(n_train + n_test, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 3), np.uint8)
    y = np.arange(n_train + n_test, dtype=np.int64) % 5
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], name="toy",
                   n_classes=5, max_value=255)


def test_subset_deterministic_nested_and_independent():
    ds = toy()
    a = ds.subset(10, 5, seed=7)
    assert a.x_train.shape == (10, 2, 3) and a.y_test.shape == (5,)
    np.testing.assert_array_equal(a.x_train, ds.subset(10, 5, seed=7).x_train)
    assert len(set(a.x_train[:, 0, 0])) == 10  # without replacement
    np.testing.assert_array_equal(ds.subset(20, seed=7).x_train[:10], a.x_train)  # nested
    np.testing.assert_array_equal(ds.subset(3, 5, seed=7).x_test, a.x_test)  # n_train irrelevant
    assert not np.array_equal(ds.subset(10, seed=8).x_train, a.x_train)
    assert ds.subset().x_train is not None and len(ds.subset(n_test=2).y_train) == 50
    assert a.name == "toy" and a.n_classes == 5


@pytest.mark.parametrize("kw, err", [
    ({"n_train": 51}, DataError), ({"n_test": 21}, DataError), ({"n_train": -1}, ParameterError),
    ({"n_train": 2.5}, ParameterError), ({"seed": -3}, ParameterError),
])
def test_subset_rejects_bad_counts(kw, err):
    with pytest.raises(err):
        toy().subset(**kw)


def test_dataset_validates_arrays():
    x = np.zeros((3, 2, 2), np.uint8)
    y = np.zeros(3, np.int64)
    with pytest.raises(DataError, match="y_train"):
        Dataset(x, y[:2], x, y, name="bad", n_classes=2, max_value=1)
    with pytest.raises(DataError, match="x_test"):
        Dataset(x, y, x.astype(float), y, name="bad", n_classes=2, max_value=1)
    with pytest.raises(DataError, match="labels outside"):
        Dataset(x, y + 2, x, y, name="bad", n_classes=2, max_value=1)
    with pytest.raises(DataError, match="max_value"):
        Dataset(x + 2, y, x, y, name="bad", n_classes=2, max_value=1)
    with pytest.raises(DataError, match="test images"):
        Dataset(x, y, np.zeros((3, 2, 3), np.uint8), y, name="bad", n_classes=2, max_value=1)


# ---------------------------------------------------------------- digits and load_dataset

def test_load_digits():
    ds = load_digits()
    assert ds.x_train.shape == (1437, 8, 8) and ds.x_test.shape == (360, 8, 8)
    assert ds.x_train.dtype == np.uint8 and ds.y_test.dtype == np.int64
    assert ds.x_train.max() == 16 and ds.x_test.min() == 0 and ds.max_value == 16
    assert set(np.unique(ds.y_test)) == set(range(10))
    assert not row_hashes(ds.x_train) & row_hashes(ds.x_test)  # the 1797 images are distinct
    np.testing.assert_array_equal(load_digits().y_train, ds.y_train)
    assert load_digits(n_train=20, seed=1).x_train.shape == (20, 8, 8)


def test_load_dataset_dispatch(tmp_path):
    assert DATASETS == ("mnist-mini", "digits", "mnist", "fashion-mnist")
    assert load_dataset("digits", n_test=7).x_test.shape == (7, 8, 8)
    assert load_dataset("MNIST_mini", n_train=3).name == "mnist-mini"
    write_set(tmp_path)
    assert load_dataset("mnist", path=tmp_path, verify=False).name == "mnist"
    assert load_dataset("fashion-mnist", path=tmp_path, verify=False).name == "fashion-mnist"


def test_load_dataset_unknown_name_suggests():
    with pytest.raises(DataError, match="did you mean 'fashion-mnist'"):
        load_dataset("fashion_mnsit")
    with pytest.raises(DataError, match="did you mean 'mnist-mini'"):
        load_dataset("mnist-mni")
    with pytest.raises(ParameterError, match="did you mean 'n_train'"):
        load_dataset("digits", n_trian=3)


def test_no_network_or_pickle_in_module():
    source = Path(datasets.__file__).read_text()
    for word in ("urllib", "requests", "pickle", "socket", "http.client"):
        assert f"import {word}" not in source and f"from {word}" not in source


EXPECTED_MINI_TRAIN_LABELS = [3, 7, 3, 7, 4, 7, 1, 4, 5, 9, 9, 8]
EXPECTED_MINI_TEST_LABELS = [0, 4, 0, 1, 3, 6, 0, 8, 6, 8, 7, 4]
