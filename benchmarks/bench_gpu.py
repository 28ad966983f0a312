"""GPU benchmarks of the ``cuda`` engine: one command, one JSON line per measurement.

    python benchmarks/bench_gpu.py              # on a machine with an NVIDIA GPU
    python benchmarks/bench_gpu.py --smoke      # tiny sizes; without a GPU it runs on Numba's
                                                # CUDA simulator (checks the script, times nothing)

Measurements (every line carries ``device``, the GPU's name, or "numba CUDA simulator"):

* ``overhead``: cost of the engine itself -- ``per_step_s`` (one neuron, no synapses: the
  grid barriers of a step) and ``per_run_s`` (``run`` of one step, repeated: Python,
  transfers and the kernel launch), for one block and for a multi-block grid.
* ``cuba`` / ``coba`` (Brette et al. 2007, ``snnsim.reference_networks``) at ``--sizes`` neurons
  (4k, 64k, 256k, 1M), 80 synapses per neuron, spikes of every neuron recorded:
  ``wall_per_sim_s`` (wall seconds per simulated second, simulation loop only) and
  ``first_run_s`` (the first, 1 ms run: device set-up, kernel compilation or cache load).
* ``song_load``: Song, Miller & Abbott (2000) load variant, 1000 Poisson inputs -> 100
  neurons, 100,000 plastic synapses, ``--song-duration`` s.
* ``diehl_cook_train``: ``DiehlCookNetwork.present`` with learning on (normalisation, STDP,
  theta), seconds per image at n_exc ``--dc-sizes`` (400, 1600, 6400), rest simulated, on
  mnist-mini training images; ``normalisation: "host"`` is the network as it is
  (``Network.normalize_weights`` pulls the weights, normalises on the CPU and pushes them
  back), ``"device"`` replaces that call by ``CudaSimulation.normalize_weights`` (the
  change proposed for ``network.py`` in docs/gpu.md).
* ``diehl_cook_infer_batched``: test-set throughput (images/s) of the frozen network with
  :func:`snnsim.engines.cuda.run_batched` (the Diehl & Cook protocol: repeat at higher
  intensity while fewer than 5 spikes), for every ``--batch-sizes``; and
  ``diehl_cook_infer`` the sequential frozen ``present`` for comparison.

Figures go to ``benchmarks/RESULTS.md`` by hand (with the device name); targets from the
issue: COBA at 1M neurons <= 1 s per simulated second on an H100, Diehl & Cook 6400
training <= 20 ms per image.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


def _driver_present() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def _emit(record: dict) -> None:
    from _common import emit
    emit(record)


def _config(net) -> dict:
    kernel, blocks, tpb = net._sim._config
    return {"blocks": blocks, "threads_per_block": tpb}


def _timed_run(net, duration: float, **opts):
    t0 = time.perf_counter()
    res = net.run(duration, engine="cuda", **opts)
    return res, time.perf_counter() - t0


# --- overhead ----------------------------------------------------------------------------------

def bench_overhead(info: dict, smoke: bool) -> None:
    import snnsim as sn
    from snnsim.units import ms
    steps = 50 if smoke else 20000
    runs = 5 if smoke else 2000
    grids = [{}] if smoke else [{}, {"blocks": int(info.get("multiprocessors", 1)),
                                     "threads_per_block": 256}]
    for opts in grids:
        net = sn.Network(dt=0.1 * ms, seed=0)
        net.add(sn.LIF(1))
        net.run(1 * ms, engine="cuda", **opts)
        _, wall = _timed_run(net, steps * net.dt, **opts)
        t0 = time.perf_counter()
        for _ in range(runs):
            net.run(net.dt, engine="cuda", **opts)
        per_run = (time.perf_counter() - t0) / runs
        _emit({"benchmark": "overhead", "engine": "snnsim-cuda", **info, **_config(net),
               "per_step_s": wall / steps, "per_run_s": per_run, "steps": steps, "runs": runs})


# --- CUBA / COBA ---------------------------------------------------------------------------------

def bench_networks(info: dict, sizes, duration: float, kinds) -> None:
    from snnsim import reference_networks
    builders = {"cuba": reference_networks.brette2007_cuba,
                "coba": reference_networks.vogels_abbott2005_coba}
    for kind in kinds:
        for n in sizes:
            t0 = time.perf_counter()
            net, h = builders[kind](n, seed=0)
            plan = net.compile()
            build_s = time.perf_counter() - t0
            _, first = _timed_run(net, 1e-3)
            res, wall = _timed_run(net, duration)
            spikes = len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])
            _emit({"benchmark": kind, "engine": "snnsim-cuda", **info, **_config(net),
                   "n_neurons": n, "n_synapses": plan.n_synapses, "duration_s": duration,
                   "wall_per_sim_s": wall / duration, "first_run_s": first,
                   "build_s": build_s, "spikes": spikes, "rate_hz": spikes / (n * duration)})
            del net, h, plan, res


# --- Song STDP load ------------------------------------------------------------------------------

def bench_song(info: dict, n_inputs: int, n_post: int, duration: float) -> None:
    from snnsim.reference_networks import song_miller_abbott2000
    net, h = song_miller_abbott2000(n_inputs, n_post, seed=0)
    net.compile()
    _, first = _timed_run(net, 1e-3)
    res, wall = _timed_run(net, duration)
    w = h["proj"].get_weights("sparse")[2] / h["g_max"]
    spikes = len(res[h["spikes"]])
    _emit({"benchmark": "song_load", "engine": "snnsim-cuda", **info, **_config(net),
           "n_inputs": n_inputs, "n_post": n_post, "n_synapses": int(w.size),
           "duration_s": duration, "wall_s": wall, "wall_per_sim_s": wall / duration,
           "first_run_s": first, "rate_hz": spikes / (n_post * duration),
           "frac_below_0_1": float(np.mean(w < 0.1)), "frac_above_0_9": float(np.mean(w > 0.9))})


# --- Diehl & Cook ---------------------------------------------------------------------------------

def dc_counts_batched(dc, rates: np.ndarray, batch_size: int) -> tuple[np.ndarray, int]:
    """Excitatory spike counts of frozen ``dc`` (a DiehlCookNetwork) for every row of
    ``rates``, B copies at a time, with the Diehl & Cook protocol (shown again at a higher
    intensity while fewer than ``min_spikes`` spikes).  Returns (counts, presentations)."""
    from snnsim.engines.cuda import run_batched
    p = dc.params
    out = np.zeros((len(rates), p.n_exc), dtype=np.int64)
    intensity = np.full(len(rates), p.intensity)
    todo = np.arange(len(rates))
    shown = 0
    while todo.size:
        for lo in range(0, todo.size, batch_size):
            idx = todo[lo:lo + batch_size]
            out[idx] = run_batched(dc.network, rates[idx] * intensity[idx, None], p.present,
                                   input=dc.input, count=dc.exc)
            shown += idx.size
        again = (out[todo].sum(axis=1) < p.min_spikes) & (
            intensity[todo] + p.intensity_step <= p.max_intensity)
        todo = todo[again]
        intensity[todo] += p.intensity_step
    return out, shown


def bench_diehl_cook(info: dict, sizes, n_train: int, n_test: int, warmup: int, batch_sizes,
                     smoke: bool) -> None:
    from snnsim.learning.datasets import load_mnist_mini
    from snnsim.learning.diehl_cook import DiehlCookNetwork, DiehlCookParams
    from snnsim.learning.encoding import intensity_to_rates
    from snnsim.units import ms
    ds = load_mnist_mini()
    # smoke: a few steps per image, shown once (max_intensity = intensity: no repeats)
    overrides = ({"present": 5 * ms, "rest": 2 * ms, "max_intensity": 2.0} if smoke else {})
    train = intensity_to_rates(ds.x_train[:warmup + 2 * n_train].reshape(warmup + 2 * n_train, -1),
                               255.0, DiehlCookParams().rate_per_level)
    test = intensity_to_rates(ds.x_test[:n_test].reshape(n_test, -1), 255.0,
                              DiehlCookParams().rate_per_level)
    for n_exc in sizes:
        t0 = time.perf_counter()
        dc = DiehlCookNetwork(DiehlCookParams(n_exc=n_exc, **overrides), n_input=train.shape[1],
                              seed=0, engine="cuda")
        build_s = time.perf_counter() - t0
        dc.learning = True
        t0 = time.perf_counter()
        for r in train[:warmup]:
            dc.present(r)
        warmup_s = time.perf_counter() - t0
        sim = dc.network._sim
        host_normalize = dc.network.normalize_weights
        for k, norm in enumerate(("host", "device")):
            if norm == "device":
                # the proposed Network.normalize_weights: on the device, no weight transfer
                dc.network.normalize_weights = (
                    lambda proj, target=None: sim.normalize_weights(
                        proj.index, proj.normalization.target_sum if target is None else target))
            imgs = train[warmup + k * n_train:warmup + (k + 1) * n_train]
            n0 = dc.n_presentations
            t0 = time.perf_counter()
            for r in imgs:
                dc.present(r)
            wall = time.perf_counter() - t0
            _emit({"benchmark": "diehl_cook_train", "engine": "snnsim-cuda", **info,
                   **_config(dc.network), "n_exc": n_exc, "normalisation": norm,
                   "rest_mode": "simulate", "n_images": len(imgs),
                   "seconds_per_image": wall / len(imgs),
                   "presentations_per_image": (dc.n_presentations - n0) / len(imgs),
                   "build_s": build_s, "warmup_s": warmup_s})
        dc.network.normalize_weights = host_normalize
        dc.learning = False
        # sequential frozen inference
        n_seq = min(n_test, 4 if smoke else 50)
        n0 = dc.n_presentations
        t0 = time.perf_counter()
        for r in test[:n_seq]:
            dc.present(r)
        wall = time.perf_counter() - t0
        _emit({"benchmark": "diehl_cook_infer", "engine": "snnsim-cuda", **info,
               **_config(dc.network), "n_exc": n_exc, "n_images": n_seq,
               "images_per_s": n_seq / wall,
               "presentations_per_image": (dc.n_presentations - n0) / n_seq})
        for bs in batch_sizes:
            dc_counts_batched(dc, test[:min(bs, n_test)], bs)          # warm-up, compile
            t0 = time.perf_counter()
            counts, shown = dc_counts_batched(dc, test, bs)
            wall = time.perf_counter() - t0
            _emit({"benchmark": "diehl_cook_infer_batched", "engine": "snnsim-cuda", **info,
                   "n_exc": n_exc, "batch_size": bs, "n_images": n_test,
                   "images_per_s": n_test / wall, "presentations_per_image": shown / n_test,
                   "exc_spikes_per_image": float(counts.sum(axis=1).mean())})
        del dc, sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes (on the CUDA simulator when there is no GPU)")
    ap.add_argument("--only", nargs="+", default=["overhead", "networks", "song", "diehl_cook"],
                    choices=["overhead", "networks", "song", "diehl_cook"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 64000, 256000, 1000000])
    ap.add_argument("--kinds", nargs="+", default=["cuba", "coba"], choices=["cuba", "coba"])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds (CUBA/COBA)")
    ap.add_argument("--song-duration", type=float, default=10.0)
    ap.add_argument("--dc-sizes", type=int, nargs="+", default=[400, 1600, 6400])
    ap.add_argument("--dc-train-images", type=int, default=50)
    ap.add_argument("--dc-test-images", type=int, default=1000)
    ap.add_argument("--dc-warmup", type=int, default=3)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    args = ap.parse_args()
    if args.smoke:
        if not _driver_present():
            os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        args.sizes, args.duration = [200], 5e-3
        args.song_duration = 5e-3
        args.dc_sizes, args.dc_train_images, args.dc_test_images = [4], 1, 4
        args.dc_warmup, args.batch_sizes = 1, [2]
    from snnsim.engines.cuda import device_info
    info = device_info()
    info = {"device": info["device"], "simulator": info["simulator"],
            **({"multiprocessors": info["multiprocessors"],
                "compute_capability": info["compute_capability"]} if not info["simulator"] else {})}
    if "overhead" in args.only:
        bench_overhead(info, args.smoke)
    if "networks" in args.only:
        bench_networks(info, args.sizes, args.duration, args.kinds)
    if "song" in args.only:
        bench_song(info, 40 if args.smoke else 1000, 4 if args.smoke else 100, args.song_duration)
    if "diehl_cook" in args.only:
        bench_diehl_cook(info, args.dc_sizes, args.dc_train_images, args.dc_test_images,
                         args.dc_warmup, args.batch_sizes, args.smoke)


if __name__ == "__main__":
    main()
