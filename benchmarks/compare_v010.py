"""Before/after check for the restructuring: snnsim 0.1.0 beside this tree, bitwise and speed.

    python benchmarks/compare_v010.py [--quick] [--workloads cuba4k,coba4k,cuba64k,coba64k,song,dc400]
                                      [--repeats 3] [--old-rev b8be68c] [--new-tree DIR]
                                      [--skip-timing] [--skip-jit] [--seed 0] [--out DIR]

The old revision (``--old-rev``, default b8be68c = 0.1.0) is checked out with ``git worktree
add --detach`` into a temporary folder outside the repository (removed at the end, also on an
error or Ctrl-C); the new tree is this script's working tree as it is, uncommitted changes
included (``--new-tree`` for another checkout).  Every (tree, workload) runs in its own Python
process with ``PYTHONPATH=<tree>`` (the process checks that ``snnsim.__file__`` lies in that
tree), one Numba cache folder per tree (``NUMBA_CACHE_DIR``, so the trees never share compiled
kernels), the numba engine's default of one thread and OMP/MKL/OpenBLAS threads set to 1.

Workloads (``--quick``: sizes for checking the script itself, in brackets):

* ``cuba4k``, ``coba4k``, ``cuba64k``, ``coba64k``: ``brette2007_cuba`` /
  ``vogels_abbott2005_coba`` with 4,000 or 64,000 neurons for 1 s [1,000 neurons, 0.2 s];
* ``song``: ``song_miller_abbott2000`` (1000 inputs, one neuron) for 100 s [5 s];
* ``dc400``: ``DiehlCookNetwork`` with 400 excitatory neurons trained (``learning=True``,
  ``rest_mode="simulate"``) on the first 200 mnist-mini training images [100 neurons, 20 images].

Each worker builds its workload once and runs it briefly (compiling the kernels or loading them
from the cache), then builds it again from the same seed, calls ``net.run(0.0)`` (preparation)
and times one ``net.run(duration)`` (for Diehl & Cook: the ``present()`` calls over all images).
It saves the recorded spikes (times and indices), the final weights of every projection
(pre, post, w in storage order), the final ``v`` of every neuron population and the final time
and, for Diehl & Cook, the spike counts returned by ``present()`` and the thresholds
``theta`` to an ``.npz``.  The comparison is bitwise (same
dtype, shape and bytes; for an array that differs: its first differing index, both values,
the number of differing elements and the largest absolute difference).  Repeats of the same
tree are checked to give the same digests (reproducibility).

Timings are interleaved (old, new, old, new, ... ``--repeats`` times) so that drift hits both;
min and median of each and the ratios new/old are reported, a ratio above 1.05 is flagged.
Start-up (``jit``, on the first workload's CUBA size: 4,000 neurons [1,000]): with an empty,
fresh Numba cache per tree and repeat, the whole first ``net.run(duration)`` call (compilation
included); then, in a second process with the cache that run filled, the first call of a
one-step run (cached start).

Output: one JSON line per measurement on stdout (``benchmark``: ``compare_v010_run``,
``compare_v010_bitwise``, ``compare_v010_timing``, ``compare_v010_start``,
``compare_v010_error``), then markdown tables; ``--out DIR`` also writes them to
``DIR/compare_v010.jsonl`` and ``DIR/compare_v010.md``.  Exit status 1 when a workload differs
or a worker failed, 0 otherwise (slow ratios are flagged, not failed).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
OLD_REV = "b8be68c"
FLAG_RATIO = 1.05

# name -> (kind, full size, quick size); sizes: neurons and seconds, or neurons and images
WORKLOADS = {
    "cuba4k": ("cuba", (4000, 1.0), (1000, 0.2)),
    "coba4k": ("coba", (4000, 1.0), (1000, 0.2)),
    "cuba64k": ("cuba", (64000, 1.0), (1000, 0.2)),
    "coba64k": ("coba", (64000, 1.0), (1000, 0.2)),
    "song": ("song", (1, 100.0), (1, 5.0)),
    "dc400": ("dc", (400, 200), (100, 20)),
}
QUICK_DEFAULT = ("cuba4k", "coba4k", "song", "dc400")   # the 64k ones are 1k in --quick too
BUILDERS = {"cuba": "brette2007_cuba", "coba": "vogels_abbott2005_coba",
            "song": "song_miller_abbott2000"}
# where a tree keeps each name: modules first, then files relative to the tree root.  0.1.0
# has them in snnsim.models / snnsim.diehl_cook / snnsim.datasets; the restructuring may move
# the reference networks to models/ (DESIGN.md) -- extend these lists if it moves them elsewhere.
PLACES = {
    "brette2007_cuba": ("snnsim.reference_networks", "snnsim.models", "models/brette2007_cuba.py"),
    "vogels_abbott2005_coba": ("snnsim.reference_networks", "snnsim.models",
                               "models/vogels_abbott2005_coba.py"),
    "song_miller_abbott2000": ("snnsim.reference_networks", "snnsim.models",
                               "models/song_miller_abbott2000.py"),
    "DiehlCookNetwork": ("snnsim.learning.diehl_cook", "snnsim.diehl_cook", "snnsim"),
    "DiehlCookParams": ("snnsim.learning.diehl_cook", "snnsim.diehl_cook", "snnsim"),
    "load_mnist_mini": ("snnsim.learning.datasets", "snnsim.datasets", "snnsim"),
}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


class CompareError(RuntimeError):
    """The comparison itself cannot go on (git, a worker, a tree without snnsim)."""


# ================================================================================================
# worker side: runs inside a child process with PYTHONPATH=<tree>
# ================================================================================================

def locate(name: str, tree: str):
    """The object ``name`` (a builder, class or loader) of the snnsim in ``tree``.

    Tries the modules and files of ``PLACES[name]`` in order; a module that is missing is
    skipped, one that fails to import for another reason raises.
    """
    tried = []
    for place in PLACES[name]:
        if place.endswith(".py"):
            path = Path(tree) / place
            tried.append(str(path))
            if not path.is_file():
                continue
            spec = importlib.util.spec_from_file_location(f"_compare_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            tried.append(place)
            try:
                module = importlib.import_module(place)
            except ModuleNotFoundError as exc:
                if exc.name is not None and place.startswith(exc.name):
                    continue
                raise
            # an editable install of another tree can serve a module this tree lacks
            if not str(Path(module.__file__).resolve()).startswith(str(Path(tree).resolve())):
                continue
        if hasattr(module, name):
            return getattr(module, name)
    raise CompareError(f"tree {tree} has no {name!r} (looked in {', '.join(tried)}); "
                       "add its new place to PLACES in benchmarks/compare_v010.py")


def digest(a: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes (16 hex digits)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:16]


def _projection_arrays(projections) -> dict:
    out = {}
    for proj in projections:
        pre, post, w = proj.get_weights("sparse")
        out.update({f"weights.{proj.name}.pre": pre, f"weights.{proj.name}.post": post,
                    f"weights.{proj.name}.w": w})
    return out


def _import_snnsim(tree: str):
    """Import snnsim and check that it is the one in ``tree`` (not an installed copy)."""
    t0 = time.perf_counter()
    import snnsim
    import_s = time.perf_counter() - t0
    where = Path(snnsim.__file__).resolve()
    if Path(tree).resolve() not in where.parents:
        raise CompareError(f"PYTHONPATH={tree} but 'import snnsim' gave {where}; the other tree's "
                           "snnsim must not be importable ahead of PYTHONPATH")
    return snnsim, import_s, str(where)


def _network_workload(spec: dict) -> tuple[dict, dict]:
    """CUBA, COBA or Song: warm-up build and short run, then a fresh build and one timed run."""
    kind, n, duration, seed = spec["kind"], spec["n"], spec["duration"], spec["seed"]
    build = locate(BUILDERS[kind], spec["tree"])
    args = (1000, n) if kind == "song" else (n,)
    t0 = time.perf_counter()
    net, h = build(*args, seed=seed)
    net.run(min(duration, 20 * net.dt))             # compiles or loads the kernels
    warmup_s = time.perf_counter() - t0
    del net, h
    t0 = time.perf_counter()
    net, h = build(*args, seed=seed)
    net.compile()
    net.run(0.0)                                    # prepares the engine; no step
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = net.run(duration)
    loop_s = time.perf_counter() - t0
    arrays = {}
    for key in sorted(k for k in h if k.startswith("spikes")):
        st = res[h[key]]
        arrays[f"{key}.times"] = np.asarray(st.times)
        arrays[f"{key}.indices"] = np.asarray(st.indices)
    arrays.update(_projection_arrays(net.projections))
    for pop in net.populations:                     # final membrane potentials and time
        if not pop.is_input:
            arrays[f"state.{pop.name}.v"] = np.asarray(pop.get_state("v"))
    arrays["t_end"] = np.array([net.t])
    spikes = sum(arrays[k].size for k in arrays if k.endswith(".times"))
    info = {"n_neurons": int(sum(len(p) for p in net.populations)), "duration_s": duration,
            "n_synapses": int(sum(p.n_synapses for p in net.projections)),
            "loop_s": loop_s, "wall_per_sim_s": loop_s / duration, "build_s": build_s,
            "warmup_s": warmup_s, "spikes": int(spikes)}
    return info, arrays


def _diehl_cook_workload(spec: dict) -> tuple[dict, dict]:
    """Diehl & Cook training: warm-up network on one image, then a fresh one timed on all."""
    tree, n_exc, n_images, seed = spec["tree"], spec["n"], spec["n_images"], spec["seed"]
    network_cls = locate("DiehlCookNetwork", tree)
    params_cls = locate("DiehlCookParams", tree)
    ds = locate("load_mnist_mini", tree)()
    images = np.asarray(ds.x_train[:n_images]).reshape(n_images, -1)
    t0 = time.perf_counter()
    net = network_cls(params_cls(n_exc=n_exc), n_input=images.shape[1], seed=seed)
    rates = np.asarray(net.rates_for(images, 255.0))
    net.learning = True
    net.present(rates[0])                           # compiles or loads the kernels
    warmup_s = time.perf_counter() - t0
    del net
    t0 = time.perf_counter()
    net = network_cls(params_cls(n_exc=n_exc), n_input=images.shape[1], seed=seed)
    net.learning = True
    build_s = time.perf_counter() - t0
    chunks = []
    plain_run = net.network.run

    def run(*args, **kwargs):                       # keeps the spike times of every run call
        res = plain_run(*args, **kwargs)
        st = res[net.spikes_exc]
        chunks.append((np.asarray(st.times), np.asarray(st.indices)))
        return res

    net.network.run = run
    t0 = time.perf_counter()
    counts = [np.asarray(net.present(r)) for r in rates]
    loop_s = time.perf_counter() - t0
    arrays = {"counts": np.stack(counts),
              "theta": np.asarray(net.exc.get_state("theta")),
              "presentations": np.array([net.n_presentations])}
    if chunks:
        arrays["spikes_exc.times"] = np.concatenate([c[0] for c in chunks])
        arrays["spikes_exc.indices"] = np.concatenate([c[1] for c in chunks])
    arrays.update(_projection_arrays(net.network.projections))
    info = {"n_exc": n_exc, "n_images": n_images, "loop_s": loop_s,
            "seconds_per_image": loop_s / n_images,
            "presentations_per_image": net.n_presentations / n_images,
            "n_synapses": int(sum(p.n_synapses for p in net.network.projections)),
            "build_s": build_s, "warmup_s": warmup_s,
            "spikes": int(arrays.get("spikes_exc.times", np.empty(0)).size),
            "spike_times_captured": bool(chunks), "input_digest": digest(rates)}
    return info, arrays


def _start_workload(spec: dict) -> tuple[dict, dict]:
    """CUBA start-up: the whole first ``net.run(duration)`` call (``phase='jit'``, empty cache)
    or the first call of a one-step run (``phase='cached'``)."""
    build = locate(BUILDERS["cuba"], spec["tree"])
    t0 = time.perf_counter()
    net, h = build(spec["n"], seed=spec["seed"])
    net.compile()
    build_s = time.perf_counter() - t0
    duration = spec["duration"] if spec["phase"] == "jit" else net.dt
    t0 = time.perf_counter()
    net.run(duration)
    first_run_s = time.perf_counter() - t0
    return {"n_neurons": spec["n"], "phase": spec["phase"], "run_duration_s": duration,
            "first_run_s": first_run_s, "build_s": build_s}, {}


def worker(spec: dict) -> dict:
    """Run one workload of ``spec`` in this process; write its arrays to ``spec['npz']``."""
    snnsim, import_s, where = _import_snnsim(spec["tree"])
    import numba
    info = {"snnsim_file": where, "snnsim_version": getattr(snnsim, "__version__", None),
            "numba": numba.__version__, "import_s": import_s}
    if spec["kind"] == "probe":
        return info
    run = {"dc": _diehl_cook_workload, "start": _start_workload}.get(spec["kind"],
                                                                    _network_workload)
    measured, arrays = run(spec)
    info.update(measured)
    if arrays:
        np.savez(spec["npz"], **arrays)
        info["digests"] = {k: digest(v) for k, v in arrays.items()}
    return info


# ================================================================================================
# comparison side: pure functions on arrays and timings
# ================================================================================================

def _differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean mask of the elements of two flat arrays of equal size that differ: bit for bit
    when the dtypes agree (NaN equals the same NaN, -0.0 differs from 0.0), else by value."""
    if a.dtype == b.dtype:
        size = a.dtype.itemsize
        ba = np.ascontiguousarray(a).view(np.uint8).reshape(a.size, size)
        bb = np.ascontiguousarray(b).view(np.uint8).reshape(b.size, size)
        return (ba != bb).any(axis=1)
    same = a == b
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        same |= np.isnan(a.astype(complex)) & np.isnan(b.astype(complex))
    return ~same


def compare_array(key: str, old: np.ndarray, new: np.ndarray) -> dict | None:
    """None if ``old`` and ``new`` are bitwise identical (dtype, shape, bytes), else a
    description: kind (``dtype``, ``shape``, ``values``), shapes, dtypes, the first differing
    flat index and both values there, the number of differing elements and the largest
    absolute difference (over the common leading part when the lengths differ)."""
    old, new = np.asarray(old), np.asarray(new)
    if old.dtype == new.dtype and old.shape == new.shape and old.tobytes() == new.tobytes():
        return None
    diff = {"array": key, "old_shape": list(old.shape), "new_shape": list(new.shape),
            "old_dtype": old.dtype.str, "new_dtype": new.dtype.str}
    if old.shape != new.shape:
        diff["kind"] = "shape"
    elif old.dtype != new.dtype:
        diff["kind"] = "dtype"
    else:
        diff["kind"] = "values"
    a, b = old.ravel(), new.ravel()
    m = min(a.size, b.size)
    a, b = a[:m], b[:m]
    differ = _differ(a, b)
    diff["n_differing"] = int(differ.sum()) + abs(old.size - new.size)
    if differ.any():
        i = int(np.argmax(differ))
        diff.update(first_index=i, old_value=a[i].item(), new_value=b[i].item())
        with np.errstate(invalid="ignore", over="ignore"):
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        diff["max_abs_diff"] = float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")
    else:
        diff.update(first_index=m, max_abs_diff=0.0)   # equal common part, lengths differ
    return diff


def compare_arrays(old: dict, new: dict) -> list[dict]:
    """Differences between two dicts of arrays (missing keys included), sorted by key."""
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new or key not in old:
            out.append({"array": key, "kind": "missing in " + ("new" if key in old else "old")})
            continue
        d = compare_array(key, old[key], new[key])
        if d is not None:
            out.append(d)
    return out


def timing_summary(old: list[float], new: list[float], limit: float = FLAG_RATIO) -> dict:
    """min and median of both lists of seconds, the ratios new/old of each, and flags
    (ratio > ``limit``)."""
    if not old or not new:
        raise ValueError("timing_summary needs at least one time per tree")
    s = {"old_min": min(old), "old_median": statistics.median(old),
         "new_min": min(new), "new_median": statistics.median(new),
         "old_times": list(old), "new_times": list(new)}
    for stat in ("min", "median"):
        ratio = s[f"new_{stat}"] / s[f"old_{stat}"] if s[f"old_{stat}"] > 0 else float("inf")
        s[f"ratio_{stat}"] = ratio
        s[f"slower_{stat}"] = bool(ratio > limit)
    return s


# ================================================================================================
# driver side: git worktree, child processes, tables
# ================================================================================================

def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompareError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()}")
    return proc.stdout.strip()


@contextlib.contextmanager
def old_worktree(repo: Path, rev: str, parent: Path):
    """``git worktree add --detach parent/v<rev> rev``; removed (and pruned) on exit."""
    try:
        sha = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except CompareError:
        raise CompareError(f"--old-rev {rev!r} is not a commit of {repo}") from None
    path = parent / f"snnsim-{sha[:10]}"
    _git(repo, "worktree", "add", "--detach", str(path), sha)
    try:
        yield path, sha
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
                       capture_output=True, text=True)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True,
                       text=True)


def worker_env(tree: Path, cache_dir: Path | None) -> dict:
    """The environment of a worker: PYTHONPATH=tree only, its own Numba cache, one thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.pop("NUMBA_NUM_THREADS", None)      # the engine's threads=1 default decides
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    for var in THREAD_VARS:
        env[var] = "1"
    return env


def launch(spec: dict, cache_dir: Path | None, timeout: float | None = None) -> dict:
    """Run ``worker(spec)`` in a fresh Python process; its JSON answer (raises CompareError
    with the worker's stderr when it fails)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    cwd = Path(spec.get("npz") or tempfile.gettempdir()).parent
    try:
        proc = subprocess.run(cmd, env=worker_env(Path(spec["tree"]), cache_dir), cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CompareError(f"worker {spec['kind']} in {spec['tree']} ran past {timeout} s") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-15:]
        raise CompareError(f"worker {spec['kind']} in {spec['tree']} failed (exit "
                           f"{proc.returncode}):\n" + "\n".join(tail))
    return json.loads(lines[-1])


def _load_npz(path: str) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


class Comparison:
    """One invocation: both trees, the workloads, the records and the tables."""

    def __init__(self, args, old_tree: Path, old_sha: str, new_tree: Path, tmp: Path, emit):
        self.args, self.tmp, self.emit = args, tmp, emit
        self.trees = {"old": old_tree, "new": new_tree}
        self.caches = {t: tmp / f"numba-cache-{t}" for t in self.trees}
        self.labels = {"old": f"0.1.0 ({old_sha[:7]})", "new": _describe(new_tree)}
        self.runs: dict[str, dict[str, list[dict]]] = {}
        self.bitwise: dict[str, dict] = {}
        self.timing: dict[str, dict] = {}
        self.start: dict[str, dict] = {}
        self.failed: dict[str, str] = {}   # workload -> last line of the worker's error

    def _spec(self, tree: str, workload: str, repeat: int) -> dict:
        kind, full, quick = WORKLOADS[workload]
        size = quick if self.args.quick else full
        spec = {"kind": kind, "tree": str(self.trees[tree]), "seed": self.args.seed, "n": size[0],
                "npz": str(self.tmp / f"{workload}-{tree}-{repeat}.npz")}
        spec["n_images" if kind == "dc" else "duration"] = size[1]
        return spec

    def probe(self) -> None:
        for tree in self.trees:
            info = launch({"kind": "probe", "tree": str(self.trees[tree])}, None, 600)
            self.labels[tree] += f", snnsim {info['snnsim_version']}"

    def run_workload(self, workload: str, repeats: int) -> None:
        runs = self.runs[workload] = {"old": [], "new": []}
        for repeat in range(repeats):
            for tree in ("old", "new"):
                spec = self._spec(tree, workload, repeat)
                try:
                    info = launch(spec, self.caches[tree], self.args.worker_timeout)
                except CompareError as exc:
                    self.failed[workload] = f"{tree}: {str(exc).splitlines()[-1]}"
                    self.emit({"benchmark": "compare_v010_error", "workload": workload,
                               "tree": tree, "repeat": repeat, "error": str(exc)})
                    return
                info.update(workload=workload, tree=tree, repeat=repeat, npz=spec["npz"])
                runs[tree].append(info)
                rec = {k: v for k, v in info.items() if k not in ("digests", "npz")}
                self.emit({"benchmark": "compare_v010_run", "threads": 1, "seed": self.args.seed,
                           **rec})
        self._compare(workload)
        for tree in ("old", "new"):       # keep the first repeat's arrays only
            for info in runs[tree][1:]:
                Path(info["npz"]).unlink(missing_ok=True)

    def _compare(self, workload: str) -> None:
        runs = self.runs[workload]
        diffs = compare_arrays(_load_npz(runs["old"][0]["npz"]), _load_npz(runs["new"][0]["npz"]))
        reproducible = {t: all(r["digests"] == runs[t][0]["digests"] for r in runs[t])
                        for t in runs}
        rec = {"benchmark": "compare_v010_bitwise", "workload": workload,
               "identical": not diffs, "n_arrays": len(runs["old"][0]["digests"]),
               "spikes_old": runs["old"][0]["spikes"], "spikes_new": runs["new"][0]["spikes"],
               "reproducible_old": reproducible["old"], "reproducible_new": reproducible["new"],
               "differences": diffs}
        in_old, in_new = (runs[t][0].get("input_digest") for t in ("old", "new"))
        if in_old != in_new:
            rec["inputs_differ"] = True
        self.bitwise[workload] = rec
        self.emit(rec)
        if not self.args.skip_timing:
            measure = "seconds_per_image" if WORKLOADS[workload][0] == "dc" else "wall_per_sim_s"
            s = timing_summary([r[measure] for r in runs["old"]], [r[measure] for r in runs["new"]])
            self.timing[workload] = {"measure": measure, **s}
            self.emit({"benchmark": "compare_v010_timing", "workload": workload,
                       "measure": measure, "repeats": len(runs["old"]), **s})

    def run_start(self, repeats: int) -> None:
        """JIT and cached start of CUBA, a fresh empty Numba cache per tree and repeat."""
        kind, full, quick = WORKLOADS["cuba4k"]
        n, duration = quick if self.args.quick else full
        times = {t: {"jit": [], "cached": [], "jit_total": [], "cached_total": []}
                 for t in ("old", "new")}
        for repeat in range(repeats):
            for tree in ("old", "new"):
                cache = Path(tempfile.mkdtemp(prefix=f"jit-{tree}-", dir=self.tmp))
                for phase in ("jit", "cached"):
                    spec = {"kind": "start", "tree": str(self.trees[tree]), "n": n,
                            "duration": duration, "seed": self.args.seed, "phase": phase}
                    try:
                        info = launch(spec, cache, self.args.worker_timeout)
                    except CompareError as exc:
                        self.failed["start"] = f"{tree}: {str(exc).splitlines()[-1]}"
                        self.emit({"benchmark": "compare_v010_error", "workload": "start",
                                   "tree": tree, "repeat": repeat, "error": str(exc)})
                        return
                    info["total_s"] = info["import_s"] + info["build_s"] + info["first_run_s"]
                    times[tree][phase].append(info["first_run_s"])
                    times[tree][f"{phase}_total"].append(info["total_s"])
                    self.emit({"benchmark": "compare_v010_start", "tree": tree, "repeat": repeat,
                               "threads": 1, **info})
                shutil.rmtree(cache, ignore_errors=True)
        for phase, target in (("jit", 3.0), ("cached", 0.5), ("jit_total", None),
                              ("cached_total", None)):
            s = timing_summary(times["old"][phase], times["new"][phase])
            s.update(n_neurons=n, target_s=target,
                     new_over_target=(None if target is None or self.args.quick
                                      else bool(s["new_median"] > target)))
            self.start[phase] = s
            self.emit({"benchmark": "compare_v010_timing", "workload": f"start_{phase}",
                       "measure": "total_s" if target is None else "first_run_s",
                       "repeats": repeats, **s})


def _describe(tree: Path) -> str:
    try:
        sha = _git(tree, "rev-parse", "--short", "HEAD")
        dirty = _git(tree, "status", "--porcelain", "--untracked-files=no")
    except CompareError:
        return f"new ({tree})"
    return f"new ({sha}{' + uncommitted changes' if dirty else ''})"


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def _ratio(r: float) -> str:
    return f"**{r:.3f} ⚠**" if r > FLAG_RATIO else f"{r:.3f}"


def _size(workload: str, info: dict) -> str:
    kind = WORKLOADS[workload][0]
    if kind == "dc":
        return f"{info['n_exc']} exc, {info['n_images']} images"
    if kind == "song":
        return f"1000 inputs -> 1, {info['duration_s']:g} s"
    return f"{info['n_neurons']:,} neurons, {info['duration_s']:g} s"


def _first_difference(diffs: list[dict]) -> str:
    if not diffs:
        return "–"
    d = diffs[0]
    more = f" (+{len(diffs) - 1} more arrays)" if len(diffs) > 1 else ""
    if d["kind"].startswith("missing"):
        return f"`{d['array']}` {d['kind']}{more}"
    where = (f"index {d['first_index']}: {d['old_value']!r} vs {d['new_value']!r}"
             if "old_value" in d else f"lengths {d['old_shape']} vs {d['new_shape']}")
    return (f"`{d['array']}` {d['kind']}: {d['n_differing']} differ, {where}, "
            f"max abs diff {d['max_abs_diff']:.3g}{more}")


def tables(c: Comparison) -> str:
    """The markdown tables of a finished comparison."""
    old, new = c.labels["old"], c.labels["new"]
    out = [f"### Bitwise: {old} vs {new}, numba engine, seed {c.args.seed}", "",
           "| workload | size | synapses | spikes old / new | arrays | result | first difference |",
           "|---|---|---|---|---|---|---|"]
    for w, rec in c.bitwise.items():
        info = c.runs[w]["old"][0]
        result = "identical" if rec["identical"] else "**differs**"
        if not (rec["reproducible_old"] and rec["reproducible_new"]):
            result += " (**a tree is not reproducible across repeats**)"
        if rec.get("inputs_differ"):
            result += " (inputs differ)"
        out.append(f"| {w} | {_size(w, info)} | {info['n_synapses']:,} | {rec['spikes_old']:,} / "
                   f"{rec['spikes_new']:,} | {rec['n_arrays']} | {result} | "
                   f"{_first_difference(rec['differences'])} |")
    for w, why in c.failed.items():
        why = why.replace("|", "\\|")
        out.append(f"| {w} | – | – | – | – | **failed** (compare_v010_error) | {why} |")
    if c.timing:
        n_rep = len(next(iter(c.timing.values()))["old_times"])
        out += ["", f"### Loop time, one thread, {n_rep} interleaved repeats (ratio > "
                f"{FLAG_RATIO} flagged ⚠)", "",
                "| workload | measure | old min | old median | new min | new median | "
                "new/old min | new/old median |", "|---|---|---|---|---|---|---|---|"]
        for w, s in c.timing.items():
            out.append(f"| {w} | {s['measure']} | {_fmt(s['old_min'])} | {_fmt(s['old_median'])} "
                       f"| {_fmt(s['new_min'])} | {_fmt(s['new_median'])} | "
                       f"{_ratio(s['ratio_min'])} | {_ratio(s['ratio_median'])} |")
    if c.start:
        n = c.start["jit"]["n_neurons"]
        out += ["", f"### Start-up, CUBA {n:,} neurons (fresh empty Numba cache per tree and "
                "repeat)", "",
                "| phase | old min s | old median s | new min s | new median s | new/old median "
                "| target (new) |", "|---|---|---|---|---|---|---|"]
        names = {"jit": "JIT: first `net.run` call, empty cache",
                 "jit_total": "JIT: import + build + first call",
                 "cached": "cached start: first call of a one-step run",
                 "cached_total": "cached start: import + build + first call"}
        for phase in ("jit", "jit_total", "cached", "cached_total"):
            s = c.start[phase]
            if s["target_s"] is None:
                target = "–"
            elif c.args.quick:
                target = f"<= {s['target_s']:g} s at 4,000 (not checked: --quick)"
            else:
                target = f"<= {s['target_s']:g} s: " + ("**missed**" if s["new_over_target"] else "met")
            out.append(f"| {names[phase]} | {_fmt(s['old_min'])} | {_fmt(s['old_median'])} | "
                       f"{_fmt(s['new_min'])} | {_fmt(s['new_median'])} | "
                       f"{_ratio(s['ratio_median'])} | {target} |")
    return "\n".join(out) + "\n"


# ================================================================================================
# command line
# ================================================================================================

def _workload_list(text: str) -> list[str]:
    names = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in names if w not in WORKLOADS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown workload {', '.join(map(repr, bad)) or repr(text)}; choose from "
            f"{', '.join(WORKLOADS)} (comma-separated)")
    return list(dict.fromkeys(names))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (CUBA/COBA 1k for 0.2 s, Song 5 s, D&C 100 on 20 images)")
    ap.add_argument("--workloads", type=_workload_list, default=None,
                    help=f"comma-separated, from {','.join(WORKLOADS)} (default: all; --quick: "
                         f"{','.join(QUICK_DEFAULT)})")
    ap.add_argument("--repeats", type=_positive_int, default=3,
                    help="interleaved runs per tree and workload (default 3)")
    ap.add_argument("--old-rev", default=OLD_REV, help=f"old revision (default {OLD_REV} = 0.1.0)")
    ap.add_argument("--new-tree", type=Path, default=None,
                    help="new tree (default: this script's working tree, as it is)")
    ap.add_argument("--skip-timing", action="store_true",
                    help="bitwise comparison only: one run per tree, no start-up measurement")
    ap.add_argument("--skip-jit", action="store_true", help="no start-up (JIT) measurement")
    ap.add_argument("--seed", type=_seed, default=0, help="network seed (default 0)")
    ap.add_argument("--worker-timeout", type=float, default=3600.0,
                    help="seconds one worker process may take (default 3600)")
    ap.add_argument("--out", type=Path, default=None,
                    help="folder for compare_v010.jsonl (raw records) and compare_v010.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.workloads is None:
        args.workloads = list(QUICK_DEFAULT if args.quick else WORKLOADS)
    if args.worker_timeout <= 0:
        ap.error(f"--worker-timeout must be > 0 s, got {args.worker_timeout:g}")
    return args


def _numba_version() -> str:
    import numba
    return numba.__version__


def _raise_on_term(signum, frame):
    raise SystemExit(128 + signum)


def _repo_root() -> Path:
    return Path(_git(_HERE, "rev-parse", "--show-toplevel")).resolve()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        try:
            print(json.dumps(worker(json.loads(args.worker))), flush=True)
        except CompareError as exc:
            print(f"compare_v010 worker: {exc}", file=sys.stderr)
            return 3
        return 0
    sys.path.insert(0, str(_HERE))
    from _common import emit as print_record
    repo = _repo_root()
    new_tree = (args.new_tree or repo).resolve()
    raw = None
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        raw = open(args.out / "compare_v010.jsonl", "w")

    def emit(record: dict) -> None:
        record = dict(record)
        record.setdefault("python", platform.python_version())
        record.setdefault("numba", _numba_version())
        record.setdefault("cpu_count", os.cpu_count())
        print_record(record)
        if raw is not None:
            raw.write(json.dumps(record) + "\n")
            raw.flush()

    signal.signal(signal.SIGTERM, _raise_on_term)
    tmp = Path(tempfile.mkdtemp(prefix="snnsim-compare-")).resolve()
    try:
        if repo in tmp.parents or new_tree in tmp.parents:
            raise CompareError(f"temporary folder {tmp} lies inside the repository; set TMPDIR "
                               "to a folder outside it")
        with old_worktree(repo, args.old_rev, tmp) as (old_tree, sha):
            c = Comparison(args, old_tree, sha, new_tree, tmp, emit)
            c.probe()
            repeats = 1 if args.skip_timing else args.repeats
            for workload in args.workloads:
                c.run_workload(workload, repeats)
            if not (args.skip_timing or args.skip_jit):
                c.run_start(repeats)
            md = tables(c)
    except CompareError as exc:
        print(f"compare_v010: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if raw is not None:
            raw.close()
    print()
    print(md)
    if args.out is not None:
        (args.out / "compare_v010.md").write_text(md)
    differs = any(not r["identical"] for r in c.bitwise.values())
    return 1 if differs or c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
