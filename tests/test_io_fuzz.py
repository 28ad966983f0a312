"""Fuzzing snnsim.io.load with damaged and crafted files.

A small network that uses every kind of state a file carries is saved after a short run;
from a seed, hundreds of corrupted copies are made -- truncations and random bit flips
(damage: the file's checksum seal no longer matches), and, sealed again as a crafted file
would be, bit flips in the stored numbers and structured edits through h5py
(NaN/inf/negative/huge/out-of-range values, other shapes and dtypes, deleted datasets,
groups and attributes).  Each copy is loaded, and if it loads, run
for 20 ms, in a pool of long-lived worker processes, so that a segmentation fault or a hang
is seen as such.  Every copy must either raise a SnnsimError naming the file when loaded,
or load and run with every state variable, trace and weight finite, conductances >= 0 and
plastic weights within their rule's bounds.

``SNNSIM_FUZZ_N`` (default 520) and ``SNNSIM_FUZZ_SEED`` (default 0) change the number of
candidates and the seed of the default test; the ``slow`` test runs 4,000 more.
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

import snnsim as sn
from snnsim import io
from snnsim.units import Hz, mV, ms

N_DEFAULT = int(os.environ.get("SNNSIM_FUZZ_N", "520"))
SEED = int(os.environ.get("SNNSIM_FUZZ_SEED", "0"))
WORKERS = 2
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="select() on pipes is POSIX-only")
TIMEOUT_S = 60.0  # per candidate: longer means a hang


def build_network() -> tuple[sn.Network, sn.Result]:
    """Plastic projections with heterogeneous delays (arrival and emission timing, additive
    and multiplicative, all-to-all and nearest), conductance and current populations, an
    adaptive threshold, per-neuron bias, Poisson input and a SpikeSource, recorders of each
    kind; run long enough that history, traces and Poisson waiting times are non-trivial."""
    net = sn.Network(dt=0.1 * ms, seed=7)
    poi = net.add(sn.PoissonInput(12, rate=np.linspace(40, 300, 12) * Hz), name="poisson")
    src = net.add(sn.SpikeSource(4, times=np.arange(0, 60, 0.7) * ms,
                                 indices=np.arange(86) % 4), name="source")
    exc = net.add(sn.AdaptiveLIF(8, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-55 * mV, t_ref=2 * ms, theta_plus=0.5 * mV,
                                 tau_theta=50 * ms, synapses=sn.Conductance()), name="exc")
    cur = net.add(sn.LIF(6, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV,
                         r_m=1e8, i_bias=np.linspace(0.0, 0.17e-9, 6),
                         synapses=sn.Current(tau_e=3 * ms, tau_i=6 * ms)), name="cur")
    exc.set_initial(v=sn.Uniform(-65 * mV, -56 * mV))
    net.connect(poi, exc, sn.FixedProbability(0.6), weight=sn.Uniform(0.05, 0.4),
                delay=sn.Uniform(0.1 * ms, 2.5 * ms),
                plasticity=sn.PairSTDP(a_plus=0.02, a_minus=0.021, w_max=0.5), name="het")
    net.connect(src, exc, sn.AllToAll(), weight=0.2, delay=sn.Uniform(0.5 * ms, 1.5 * ms),
                plasticity=sn.TripletSTDP(timing="emission", w_max=1.0,
                                          weight_dependence="multiplicative"), name="emi")
    net.connect(poi, cur, sn.FixedInDegree(5), weight=sn.Uniform(2 * mV, 6 * mV), delay=1 * ms,
                plasticity=sn.DiehlCookSTDP(nu_pre=1e-4, nu_post=1e-3, w_max=10 * mV),
                name="hom")
    net.connect(poi, cur, sn.FixedProbability(0.3), weight=sn.Uniform(0.0, 3 * mV),
                delay=sn.Uniform(0.2 * ms, 2 * ms),
                plasticity=sn.PairSTDP(interaction="nearest", w_max=4 * mV),
                normalization=sn.WeightNormalization(10 * mV, every=5 * ms), name="norm")
    net.connect(exc, cur, sn.FixedProbability(0.5), weight=1 * mV, receptor="inh",
                delay=sn.Uniform(1 * ms, 3 * ms), name="inh")
    net.record_spikes(exc)
    net.record_spikes(poi, indices=[0, 5, 11])
    net.record_state(cur, ["v", "i_e"], [0, 3], every=0.3 * ms)
    net.population_rate(exc)
    net.run(10 * ms)
    res = net.run(12 * ms)
    return net, res


# -- the worker: load, run, check --------------------------------------------------------------

_WORKER = r'''
import faulthandler, json, sys, traceback, warnings
faulthandler.enable()
out = sys.stdout
sys.stdout = sys.stderr          # nothing but our JSON lines on the pipe
warnings.simplefilter("error")
import numpy as np
import snnsim as sn
from snnsim import io, plan as P


def check(path):
    try:
        net, res = io.load(path, with_result=True)
    except sn.SnnsimError as exc:
        return {"status": "rejected", "type": type(exc).__name__, "msg": str(exc)[:400]}
    try:
        if res is not None:
            for h in res.handles:
                d = res[h]
                for v in getattr(d, "variables", ()):
                    if not np.isfinite(d[v]).all():
                        return {"status": "bad", "why": f"stored result {h} has non-finite {v}"}
        r = net.run(20e-3)
        for h in net.monitors:
            r[h]
    except Exception as exc:  # the file loaded, so the run must work
        return {"status": "bad", "why": "run failed: " + "".join(
            traceback.format_exception_only(type(exc), exc)).strip()[:400]}
    net._sync_from_engine()
    pl = net._plan
    for name, row in (("v", P.S_V), ("g_e", P.S_GE), ("g_i", P.S_GI), ("theta", P.S_THETA),
                      ("bias", P.S_BIAS), ("p_spike", P.S_P)):
        if not np.isfinite(pl.st[row]).all():
            return {"status": "bad", "why": f"non-finite {name} after the run"}
    q = pl.st[P.S_LOGQ][pl.st[P.S_P] < 1]
    if not np.isfinite(q).all():
        return {"status": "bad", "why": "non-finite log_q after the run"}
    for name in ("w", "xtr", "ytr", "hx", "gain"):
        if not np.isfinite(getattr(pl, name)).all():
            return {"status": "bad", "why": f"non-finite {name} after the run"}
    for pop in net.populations:
        if isinstance(getattr(pop.model, "synapses", None), sn.Conductance):
            for v in ("g_e", "g_i"):
                if (pop.get_state(v) < 0).any():
                    return {"status": "bad", "why": f"negative conductance {pop.name}.{v}"}
    for pr in net.projections:
        rule = pr.plasticity
        if rule is not None and pr.normalization is None:
            w = pr.get_weights("sparse")[2]
            if w.size and (w.min() < rule.w_min or w.max() > rule.w_max):
                return {"status": "bad", "why": f"{pr.name} weights outside [w_min, w_max]"}
    return {"status": "ok"}


for line in sys.stdin:
    path = line.strip()
    try:
        reply = check(path)
    except BaseException as exc:
        reply = {"status": "exception", "msg": "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))[-1500:]}
    out.write(json.dumps(reply) + "\n")
    out.flush()
'''


class _Worker:
    """A long-lived ``python -c _WORKER`` process; ``ask(path)`` returns its JSON reply,
    {"status": "crash"} when the process died on the candidate, {"status": "hang"} on a
    timeout (the process is then killed; the next ``ask`` starts a new one)."""

    def __init__(self, log: Path):
        self.log = log
        self.proc = None

    def _start(self) -> None:
        env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONHASHSEED="0")
        self.err = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=env,
                                     text=True, bufsize=1)

    def _stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.err.close()
            self.proc = None

    def ask(self, path: str) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._stop()
            self._start()
        try:
            self.proc.stdin.write(path + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._stop()
            return {"status": "crash", "why": "worker gone before the candidate was sent"}
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT_S)
        if not ready:
            self._stop()
            return {"status": "hang", "why": f"no answer within {TIMEOUT_S} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self._stop()
            return {"status": "crash", "why": f"worker died (exit status {code})"}
        return json.loads(line)

    close = _stop


def run_pool(paths: list[str], log_dir: Path) -> dict[str, dict]:
    """Check every candidate in a pool of WORKERS processes; returns {path: reply}."""
    todo: queue.Queue = queue.Queue()
    for p in paths:
        todo.put(p)
    replies: dict[str, dict] = {}
    lock = threading.Lock()

    def serve(k: int) -> None:
        w = _Worker(log_dir / f"worker{k}.log")
        try:
            while True:
                try:
                    p = todo.get_nowait()
                except queue.Empty:
                    return
                reply = w.ask(p)
                with lock:
                    replies[p] = reply
        finally:
            w.close()

    threads = [threading.Thread(target=serve, args=(k,)) for k in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies


# -- corruptions ---------------------------------------------------------------------------------

def _objects(path: Path) -> tuple[list[str], list[str], list[tuple[str, str]], list[tuple]]:
    """(datasets, groups, (object, attribute) pairs, (offset, size) of the raw data of the
    contiguous datasets) of a file."""
    dsets, groups, attrs, spans = [], [], [], []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            (dsets if isinstance(obj, h5py.Dataset) else groups).append(name)
            attrs.extend((name, a) for a in obj.attrs)
            if isinstance(obj, h5py.Dataset) and obj.id.get_offset() is not None:
                spans.append((obj.id.get_offset(), obj.id.get_storage_size()))
        f.visititems(visit)
        attrs.extend(("/", a) for a in f.attrs)
    return sorted(dsets), sorted(groups), sorted(attrs), sorted(s for s in spans if s[1] > 0)


# values a structured edit writes into a number (where the dtype can hold it)
_FLOATS = [np.nan, np.inf, -np.inf, -1.0, 1e300, -1e300, 2.0, 0.5, 1e30, 1.0000001e30, -1e-300]
_INTS = [-1, -2, 0, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 40, -2 ** 40, 2 ** 62, 2 ** 63 - 1, -2 ** 63,
         10 ** 6, 13, 40]

# what the issue names explicitly: (dataset or object path, attribute or None)
_TARGETS = [
    ("network/populations/exc/state/hist_count", None),
    ("network/populations/poisson/state/hist_count", None),
    ("network/populations/source/state/hist", None),
    ("network/populations/exc/state/hist", None),
    ("network/populations/poisson/state/next_spike", None),
    ("network/populations/poisson/state/rng", None),
    ("network/populations/poisson/state/p_spike", None),
    ("network/populations/poisson/state/log_q", None),
    ("network/populations/poisson/rates", None),
    ("network/populations/exc/state/v", None),
    ("network/populations/exc/state/g_e", None),
    ("network/populations/exc/state/theta", None),
    ("network/populations/cur/state/bias", None),
    ("network/populations/cur/state/ref", None),
    ("network/populations/exc/initial/g_i", None),
    ("network/projections/het/weights", None),
    ("network/projections/emi/weights", None),
    ("network/projections/norm/weights", None),
    ("network/projections/inh/weights", None),
    ("network/projections/het/pre", None),
    ("network/projections/hom/post", None),
    ("network/projections/het/delay_steps", None),
    ("network/projections/het/traces/x", None),
    ("network/projections/norm/traces/y", None),
    ("network/projections/het/traces/x_history", None),
    ("network/projections/het/traces/gain", None),
    ("results/raw/spike_ids", None),
    ("results/raw/spike_steps", None),
    ("results/raw/state_samples", None),
    ("results/raw/rate_counts", None),
    ("network", "step"),
    ("network", "history_depth"),
    ("network/populations/source/state", "source_pos"),
    ("network/populations/exc/params", "n"),
    ("network/populations/poisson/params", "n"),
    ("network/projections/het", "n_synapses"),
    ("network/projections/het", "on_step"),
    ("network/projections/het/plasticity", "w_max"),
    ("network/monitors/2", "every"),
    ("results/monitors/0", "lo"),
    ("results/monitors/0", "n"),
    ("results/monitors/2", "n_samples"),
    ("results/monitors/3", "row"),
    ("results", "n_steps"),
    ("network/generator", "state"),
]


def _edit_dataset(f: h5py.File, name: str, rng: np.random.Generator) -> str:
    ds = f[name]
    data = ds[()]
    how = rng.choice(["element", "element", "element", "fill", "shape", "dtype", "delete"])
    if how in ("element", "fill") and data.dtype.kind in "iuf" and data.size:
        if data.dtype.kind == "f":
            value = _FLOATS[rng.integers(len(_FLOATS))]
        else:
            info = np.iinfo(data.dtype)
            value = int(np.clip(_INTS[rng.integers(len(_INTS))], info.min, info.max))
        if how == "fill":
            ds[...] = value
            return f"{name}[...] = {value!r}"
        i = tuple(int(j) for j in np.unravel_index(int(rng.integers(data.size)), data.shape))
        ds[i] = value
        return f"{name}{list(i)} = {value!r}"
    del f[name]
    if how == "delete":
        return f"del {name}"
    if how == "shape" or data.dtype.kind not in "iuf":
        flat = np.ravel(data)
        shapes = [flat[:-1], np.concatenate([flat, flat[:1]]) if flat.size else np.zeros(3),
                  flat.reshape(1, -1), flat[:1].reshape(()) if flat.size else np.float64(0)]
        new = shapes[rng.integers(len(shapes))]
        f.create_dataset(name, data=new)
        return f"{name} reshaped to {np.shape(new)}"
    kinds = [np.float32, np.int32, np.int8, np.uint8, bool, np.complex128, "S8", np.float16]
    kind = kinds[rng.integers(len(kinds))]
    with np.errstate(all="ignore"):
        new = data.astype(kind)
    f.create_dataset(name, data=new)
    return f"{name} as {np.dtype(kind)}"


def _edit_attr(f: h5py.File, obj: str, attr: str, rng: np.random.Generator) -> str:
    node = f[obj]
    old = node.attrs[attr]
    how = rng.choice(["number", "number", "number", "type", "delete"])
    if how == "delete":
        del node.attrs[attr]
        return f"del {obj}@{attr}"
    if how == "type":
        choices = ["text", np.bool_(True), np.array([1.0, 2.0]), np.float64(1.5), np.int64(3),
                   np.array([], dtype=np.int64)]
        new = choices[rng.integers(len(choices))]
    elif isinstance(old, np.ndarray) and old.dtype.kind in "iu" and old.size:
        new = old.copy()
        new[rng.integers(old.size)] = old.dtype.type(0 if rng.random() < 0.5 else
                                                     np.iinfo(old.dtype).max)
        if rng.random() < 0.3:
            new[:] = 0
    elif isinstance(old, (float, np.floating)):
        new = np.float64(_FLOATS[rng.integers(len(_FLOATS))])
    else:
        new = np.int64(_INTS[rng.integers(len(_INTS))])
    node.attrs[attr] = new
    return f"{obj}@{attr} = {new!r}"


def _flip(buf: bytearray, positions, rng) -> None:
    for pos in positions:
        buf[int(pos)] ^= 1 << int(rng.integers(8))


def make_candidates(base: Path, out: Path, n: int, seed: int) -> dict[str, str]:
    """Write ``n`` corrupted copies of ``base`` into ``out``; returns {path: what was done}.

    Truncations and bit flips anywhere model damage: the file's checksum no longer matches.
    Bit flips in the stored numbers and structured edits model crafted files: they are
    sealed again (``io.seal``), so that loading has to find what is wrong by itself."""
    rng = np.random.default_rng(seed)
    data = base.read_bytes()
    dsets, groups, attrs, spans = _objects(base)
    made = {}
    for k in range(n):
        p = out / f"c{k:05d}.h5"
        kind = rng.choice(["truncate", "bits", "data", "data", "edit", "edit", "edit", "target",
                           "target", "target"])
        if kind == "truncate":
            cut = int(rng.integers(0, len(data)))
            p.write_bytes(data[:cut])
            made[str(p)] = f"truncated to {cut} of {len(data)} bytes"
            continue
        if kind in ("bits", "data"):
            buf = bytearray(data)
            if kind == "bits":
                flips = rng.integers(0, len(buf), size=int(rng.integers(1, 9)))
            else:
                chosen = [spans[i] for i in rng.integers(len(spans), size=int(rng.integers(1, 4)))]
                flips = np.array([o + rng.integers(size) for o, size in chosen])
            _flip(buf, flips, rng)
            p.write_bytes(bytes(buf))
            if kind == "data":
                io.seal(p)
            made[str(p)] = (f"{'sealed ' if kind == 'data' else ''}bits flipped at "
                            f"{sorted(flips.tolist())}")
            continue
        p.write_bytes(data)
        with h5py.File(p, "r+") as f:
            if kind == "target":
                obj, attr = _TARGETS[rng.integers(len(_TARGETS))]
                what = (_edit_dataset(f, obj, rng) if attr is None
                        else _edit_attr(f, obj, attr, rng))
            elif rng.random() < 0.1:
                g = groups[rng.integers(len(groups))]
                del f[g]
                what = f"del group {g}"
            elif rng.random() < 0.5:
                what = _edit_dataset(f, dsets[rng.integers(len(dsets))], rng)
            else:
                obj, attr = attrs[rng.integers(len(attrs))]
                what = _edit_attr(f, obj, attr, rng)
        io.seal(p)
        made[str(p)] = what
    return made


def fuzz(tmp_path: Path, n: int, seed: int) -> tuple[dict, dict]:
    net, res = build_network()
    base = tmp_path / "base.h5"
    io.save(base, net, res)
    cand = tmp_path / "candidates"
    cand.mkdir()
    made = make_candidates(base, cand, n, seed)
    return made, run_pool([str(base)] + list(made), tmp_path)


def _report(made: dict, replies: dict) -> list[str]:
    bad = []
    for p, what in made.items():
        r = replies[p]
        st = r["status"]
        if st == "rejected" and Path(p).name not in r["msg"]:
            bad.append(f"{Path(p).name} ({what}): the error does not name the file: {r['msg']}")
        elif st not in ("ok", "rejected"):
            bad.append(f"{Path(p).name} ({what}): {st}: {r.get('why') or r.get('msg')}")
    return bad


def test_fuzzed_files_are_rejected_or_run_finite(tmp_path):
    made, replies = fuzz(tmp_path, N_DEFAULT, SEED)
    base = replies.pop(str(tmp_path / "base.h5"))
    assert base == {"status": "ok"}, base          # the pool and the checks work on a good file
    bad = _report(made, replies)
    assert not bad, f"{len(bad)} of {len(made)} candidates failed:\n" + "\n".join(bad[:60])
    counts = {}
    for r in replies.values():
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    # the corruptions are not all trivially rejected (nor all harmless): both outcomes occur
    assert counts.get("rejected", 0) > len(made) // 3 and counts.get("ok", 0) > 20, counts


@pytest.mark.slow
def test_many_fuzzed_files(tmp_path):
    made, replies = fuzz(tmp_path, 4000, SEED + 1)
    replies.pop(str(tmp_path / "base.h5"))
    bad = _report(made, replies)
    assert not bad, f"{len(bad)} of {len(made)} candidates failed:\n" + "\n".join(bad[:60])
