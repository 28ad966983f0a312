"""benchmarks/compare_v010.py: its comparison, timing summary, git worktree handling, worker
isolation and worker protocol (the script's full run is a benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("compare_v010", ROOT / "benchmarks" / "compare_v010.py")
cv = importlib.util.module_from_spec(_spec)
sys.modules["compare_v010"] = cv
_spec.loader.exec_module(cv)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


# -- the bitwise comparison ----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(a=hnp.arrays(np.float64, st.integers(1, 50), elements=finite), data=st.data())
def test_compare_array_finds_the_first_difference(a, data):
    """Changed elements: the first index, both values, the count and the largest absolute
    difference are those numpy computes independently; an unchanged copy is identical."""
    assert cv.compare_array("x", a, a.copy()) is None
    idx = sorted(data.draw(st.sets(st.integers(0, a.size - 1), min_size=1, max_size=a.size)))
    b = a.copy()
    b[idx] = np.nextafter(a[idx], np.inf) + data.draw(st.sampled_from([0.0, 1.0, -3.5]))
    changed = np.flatnonzero(a.view(np.uint64) != b.view(np.uint64))
    d = cv.compare_array("x", a, b)
    assert d["kind"] == "values" and d["array"] == "x"
    assert d["first_index"] == changed[0]
    assert d["old_value"] == a[changed[0]] and d["new_value"] == b[changed[0]]
    assert d["n_differing"] == changed.size
    assert d["max_abs_diff"] == np.max(np.abs(a - b))


def test_compare_array_is_bitwise_not_numeric():
    """-0.0 and 0.0 are equal to numpy but not bitwise; a NaN equals the same NaN bitwise."""
    a, b = np.array([1.0, 0.0]), np.array([1.0, -0.0])
    assert np.array_equal(a, b)
    d = cv.compare_array("w", a, b)
    assert d["first_index"] == 1 and d["n_differing"] == 1 and d["max_abs_diff"] == 0.0
    nan = np.array([np.nan, 2.0])
    assert not np.array_equal(nan, nan.copy())
    assert cv.compare_array("w", nan, nan.copy()) is None


def test_compare_array_lengths_and_dtypes():
    """A spike train one spike longer: a shape difference at the end of the common part; the
    same values in another dtype: a dtype difference with no differing value."""
    old = np.array([0.1, 0.2, 0.3])
    d = cv.compare_array("spikes_exc.times", old, np.append(old, 0.4))
    assert d["kind"] == "shape" and d["first_index"] == 3 and d["n_differing"] == 1
    assert d["old_shape"] == [3] and d["new_shape"] == [4]
    d = cv.compare_array("spikes_exc.times", old, np.array([0.1, 0.25, 0.3, 0.4]))
    assert d["kind"] == "shape" and d["first_index"] == 1 and d["n_differing"] == 2
    d = cv.compare_array("idx", np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int32))
    assert d["kind"] == "dtype" and d["n_differing"] == 0
    assert "old_value" not in d


def test_compare_arrays_reports_missing_arrays_and_describes_them():
    old = {"a": np.zeros(2), "theta": np.ones(3)}
    new = {"a": np.zeros(2), "b": np.zeros(1), "theta": np.array([1.0, 1.5, 1.0])}
    diffs = cv.compare_arrays(old, new)
    assert [d["array"] for d in diffs] == ["b", "theta"]
    assert diffs[0]["kind"] == "missing in old"
    assert cv.compare_arrays(new, old)[0]["kind"] == "missing in new"
    text = cv._first_difference(diffs[1:])
    assert "theta" in text and "index 1" in text and "1.0 vs 1.5" in text
    assert cv.compare_arrays(old, {k: v.copy() for k, v in old.items()}) == []


# -- the timing summary --------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(old=st.lists(st.floats(1e-4, 1e3), min_size=1, max_size=7),
       new=st.lists(st.floats(1e-4, 1e3), min_size=1, max_size=7))
def test_timing_summary_min_median_ratio_flag(old, new):
    s = cv.timing_summary(old, new)
    assert s["old_min"] == min(old) and s["new_min"] == min(new)
    assert s["old_median"] == pytest.approx(float(np.median(old)), rel=1e-12)
    assert s["new_median"] == pytest.approx(float(np.median(new)), rel=1e-12)
    for stat in ("min", "median"):
        ratio = s[f"new_{stat}"] / s[f"old_{stat}"]
        assert s[f"ratio_{stat}"] == pytest.approx(ratio, rel=1e-12)
        assert s[f"slower_{stat}"] == (s[f"ratio_{stat}"] > 1.05)


def test_timing_summary_flags_five_percent_slower():
    assert not cv.timing_summary([1.0, 1.0, 1.0], [1.05, 1.04, 1.05])["slower_median"]
    s = cv.timing_summary([1.0, 2.0, 1.0], [1.06, 1.0, 1.2])
    assert not s["slower_min"] and s["slower_median"]
    s = cv.timing_summary([1.0, 1.5, 1.5], [1.1, 1.5, 1.5])
    assert s["slower_min"] and not s["slower_median"]
    assert cv._ratio(1.06).endswith("⚠**") and "⚠" not in cv._ratio(1.05)


# -- git worktree --------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def two_commit_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for text in ("old", "new"):
        (repo / "f.txt").write_text(text)
        _git(repo, "add", "f.txt")
        _git(repo, "commit", "-q", "-m", text)
    return repo, _git(repo, "rev-parse", "HEAD~1")


def test_old_worktree_checks_out_the_revision_and_is_removed(two_commit_repo, tmp_path):
    repo, first = two_commit_repo
    with cv.old_worktree(repo, first[:7], tmp_path) as (path, sha):
        assert sha == first
        assert (path / "f.txt").read_text() == "old"
        assert len(_git(repo, "worktree", "list").splitlines()) == 2
    assert not path.exists()
    assert len(_git(repo, "worktree", "list").splitlines()) == 1
    assert (repo / "f.txt").read_text() == "new" and _git(repo, "status", "--porcelain") == ""


def test_old_worktree_is_removed_on_error_too(two_commit_repo, tmp_path):
    repo, first = two_commit_repo
    with pytest.raises(KeyboardInterrupt):
        with cv.old_worktree(repo, first, tmp_path) as (path, _):
            (path / "untracked.txt").write_text("x")   # a dirty worktree goes too
            raise KeyboardInterrupt
    assert not path.exists()
    assert len(_git(repo, "worktree", "list").splitlines()) == 1


def test_old_worktree_bad_revision(two_commit_repo, tmp_path):
    repo, _ = two_commit_repo
    with pytest.raises(cv.CompareError, match="'nosuchrev' is not a commit"):
        with cv.old_worktree(repo, "nosuchrev", tmp_path):
            pass


# -- worker isolation ----------------------------------------------------------------------------

def test_worker_env_is_one_thread_and_only_the_tree(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    env = cv.worker_env(tmp_path, tmp_path / "cache")
    assert env["PYTHONPATH"] == str(tmp_path)
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "cache")
    assert "NUMBA_NUM_THREADS" not in env
    assert all(env[v] == "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                       "OPENBLAS_NUM_THREADS"))


def test_worker_imports_snnsim_from_its_tree_or_refuses(tmp_path):
    """A worker with PYTHONPATH=<tree> imports that tree's snnsim (not the editable install);
    a tree without snnsim (the installed one would be imported) is refused by name."""
    fake = tmp_path / "fake"
    (fake / "snnsim").mkdir(parents=True)
    (fake / "snnsim" / "__init__.py").write_text('__version__ = "fake"\n')
    info = cv.launch({"kind": "probe", "tree": str(fake)}, None, 120)
    assert Path(info["snnsim_file"]) == (fake / "snnsim" / "__init__.py").resolve()
    assert info["snnsim_version"] == "fake"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(cv.CompareError, match=r"PYTHONPATH=.*empty but 'import snnsim' gave"):
        cv.launch({"kind": "probe", "tree": str(empty)}, None, 120)


def test_locate_falls_back_to_the_models_folder_and_names_what_it_tried(monkeypatch, tmp_path):
    """A builder that moved out of the package (to models/<name>.py, as DESIGN.md plans) is
    still found; one found nowhere is an error naming every place tried."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "cuba.py").write_text("def brette2007_cuba(n, seed=0):\n"
                                                 "    return ('moved', n, seed)\n")
    monkeypatch.setitem(cv.PLACES, "brette2007_cuba", ("snnsim.no_such_module", "models/cuba.py"))
    assert cv.locate("brette2007_cuba", str(tmp_path))(7, seed=2) == ("moved", 7, 2)
    monkeypatch.setitem(cv.PLACES, "brette2007_cuba", ("snnsim.no_such_module", "models/none.py"))
    with pytest.raises(cv.CompareError, match=r"no 'brette2007_cuba' \(looked in "
                                               r"snnsim.no_such_module, .*none.py\)"):
        cv.locate("brette2007_cuba", str(tmp_path))


# -- the workers' protocol -----------------------------------------------------------------------

def test_network_worker_records_what_a_plain_run_gives():
    """The worker's warm-up network and ``run(0.0)`` leave the timed run bitwise equal to a
    user's plain ``net.run(duration)`` from the same seed: spikes and weights."""
    from snnsim.reference_networks import brette2007_cuba
    spec = {"kind": "cuba", "tree": str(ROOT), "n": 300, "duration": 0.03, "seed": 3}
    info, arrays = cv._network_workload(spec)
    net, h = brette2007_cuba(300, seed=3)
    res = net.run(0.03)
    spikes = 0
    for key in ("spikes_exc", "spikes_inh"):
        np.testing.assert_array_equal(arrays[f"{key}.times"], res[h[key]].times)
        np.testing.assert_array_equal(arrays[f"{key}.indices"], res[h[key]].indices)
        spikes += len(res[h[key]])
    assert spikes > 0 and info["spikes"] == spikes
    assert len([k for k in arrays if k.startswith("weights.")]) == 3 * len(net.projections) == 12
    for proj in net.projections:
        assert cv.compare_array("w", arrays[f"weights.{proj.name}.w"],
                                proj.get_weights("sparse")[2]) is None
    for pop in ("exc", "inh"):
        assert cv.compare_array("v", arrays[f"state.{pop}.v"], net[pop].get_state("v")) is None
    assert arrays["t_end"][0] == net.t
    assert info["n_synapses"] == sum(p.n_synapses for p in net.projections)
    assert info["wall_per_sim_s"] == pytest.approx(info["loop_s"] / 0.03)


def test_diehl_cook_worker_records_what_a_plain_training_gives():
    """Counts, thresholds and weights of the worker's timed training equal a plain training of
    a fresh network on the same images; the spike times it keeps add up to the counts."""
    from snnsim.learning.datasets import load_mnist_mini
    from snnsim.learning.diehl_cook import DiehlCookNetwork, DiehlCookParams
    spec = {"kind": "dc", "tree": str(ROOT), "n": 8, "n_images": 2, "seed": 1}
    info, arrays = cv._diehl_cook_workload(spec)
    images = load_mnist_mini().x_train[:2].reshape(2, -1)
    net = DiehlCookNetwork(DiehlCookParams(n_exc=8), n_input=784, seed=1)
    net.learning = True
    counts = np.stack([net.present(r) for r in net.rates_for(images, 255.0)])
    np.testing.assert_array_equal(arrays["counts"], counts)
    assert cv.compare_array("theta", arrays["theta"], net.exc.get_state("theta")) is None
    assert cv.compare_array("w", arrays["weights.input->exc.w"],
                            net.proj.get_weights("sparse")[2]) is None
    assert arrays["presentations"][0] == net.n_presentations
    assert info["spike_times_captured"] and arrays["spikes_exc.times"].size >= counts.sum()
    assert np.all(np.diff(arrays["spikes_exc.times"]) >= 0)


# -- command line --------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--workloads", "cuba4k,bogus"], "unknown workload 'bogus'; choose from cuba4k"),
    (["--workloads", ","], "unknown workload"),
    (["--repeats", "0"], "must be an integer >= 1, got '0'"),
    (["--repeats", "two"], "must be an integer >= 1, got 'two'"),
    (["--seed", "-1"], "must be an integer >= 0, got '-1'"),
    (["--worker-timeout", "0"], "--worker-timeout must be > 0 s, got 0"),
])
def test_bad_options_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cv.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_default_and_quick_workloads():
    assert cv.parse_args([]).workloads == list(cv.WORKLOADS)
    assert cv.parse_args(["--quick"]).workloads == ["cuba4k", "coba4k", "song", "dc400"]
    assert cv.parse_args(["--workloads", "song,song,dc400"]).workloads == ["song", "dc400"]
