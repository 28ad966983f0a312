"""The ``cuda`` engine: the whole time loop on an NVIDIA GPU, through numba-cuda.

``net.run(duration, engine="cuda")`` runs the network of docs/semantics.md on the GPU.
State, weights and traces stay on the device between steps and between runs; recordings
go to device buffers and come back once per run; :meth:`CudaSimulation.pull` copies state
and weights back into the plan (the network calls it before reading them).  Host changes
(``set_rates``, ``set_weights``, ``reset_state``, switching plasticity ...) bump
``plan.version`` and are pushed at the start of the next run.

:func:`run_batched` runs ``B`` independent copies of a network with frozen weights on
``B`` different inputs in one simulation (batched inference of trained classifiers).

Without a GPU the engine runs on Numba's CUDA simulator when ``NUMBA_ENABLE_CUDASIM=1`` is
set before ``numba.cuda`` is first imported (slow: for tests of small networks only).
Without either, asking for ``engine="cuda"`` raises
:class:`~snnsim.errors.EngineUnavailableError`.  Importing this module does not import
numba-cuda; preparing a simulation does.

How it runs (see ``snnsim/engines/_cuda_kernels.py`` and docs/gpu.md): one persistent
kernel runs all the steps of a run (several launches only when the spike buffer fills);
its threads meet at a grid barrier between the phases of a step (2 per step without
plasticity, 4 or 5 with), so there is no kernel launch per step.

Differences from the ``numba`` engine
-------------------------------------
* Channel increments are atomic float additions whose order varies between runs: sums,
  and so state variables, agree with the ``numba`` engine to rounding (about 1e-15
  relative), not bitwise, and a neuron exactly at threshold could in principle tip
  either way.  Weight updates are not atomic and follow the same sequence of operations.
* Poisson inputs draw their waiting times from per-neuron ``xoroshiro128p`` generators
  seeded from the plan's generator words and step, not from the plan's xoshiro256**
  streams: they agree with the other engines in distribution, not spike for spike.
  ``SpikeSource`` inputs are exact.  The generators are private to one simulation.

Options
-------
threads_per_block : int
    Threads of a block (a multiple of ``team``).  Default: 8 on the simulator; on a GPU
    1024 (limited by the kernel's registers) for up to 8192 neurons, else 256.
blocks : int
    Blocks of the launch; they must all be resident at once (the default is the smaller
    of the occupancy limit, twice the number of multiprocessors and what the neurons
    need; 1 on the simulator and for up to 8192 neurons).
team : int
    Threads that share one spike's synapse row or column (default 32, a warp; 4 on the
    simulator).
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
import warnings

import numpy as np

from ..errors import EngineError, EngineUnavailableError, NetworkError, ParameterError
from ..plan import check_builtin_neurons, check_builtin_rules
from ..plan import (KIND_POISSON, KIND_SOURCE, PI_KIND, PI_N, PI_OFF,
                    PI_REDRAW, PI_SRC_HI, PI_SRC_PTR, QI_COLOFF, QI_NORM_EVERY, QI_PLASTIC,
                    QI_POST, QI_RULE, QI_TMODE, S_BIAS, S_GE, S_GI, S_LOGQ, S_P, S_THETA, S_V,
                    TM_EMISSION)

__all__ = ["CudaEngine", "CudaSimulation", "run_batched", "device_info"]

_OPTIONS = ("threads_per_block", "blocks", "team")
_SMALL = 8192           # neurons (times copies) run by one block on a GPU by default
_STATE_ROWS = (S_V, S_GE, S_GI, S_THETA)
_PARAM_ROWS = (S_BIAS, S_P, S_LOGQ)

_NO_GPU = ("engine 'cuda' found no CUDA GPU (numba.cuda.is_available() is False: no NVIDIA "
           "driver or device is visible).  To run it without a GPU on Numba's CUDA simulator "
           "(slow; for testing small networks), set the environment variable "
           "NUMBA_ENABLE_CUDASIM=1 before numba.cuda is first imported, e.g. "
           "`NUMBA_ENABLE_CUDASIM=1 python script.py`; otherwise use engine='numba'.")


# --- importing numba-cuda ----------------------------------------------------------------------

def _cuda():
    """Import numba.cuda (and the kernels) or raise EngineUnavailableError saying why not."""
    if importlib.util.find_spec("numba_cuda") is None:
        raise EngineUnavailableError("engine 'cuda' needs numba-cuda: pip install \"snnsim[cuda]\"")
    if "numba.cuda" not in sys.modules:
        # numba reads NUMBA_ENABLE_CUDASIM when it is imported; pick up a later setting
        from numba.core import config
        config.reload_config()
    from numba import cuda
    if not cuda.is_available():
        raise EngineUnavailableError(_NO_GPU)
    return cuda


def _kernels():
    """The device code (its first import compiles nothing: kernels compile at first launch)."""
    with warnings.catch_warnings():
        # numba.cuda.random, imported on the simulator, passes numba.jit a deprecated keyword
        warnings.simplefilter("ignore")
        from . import _cuda_kernels
    return _cuda_kernels


def _simulated(cuda) -> bool:
    return "simulator" in getattr(cuda.jit, "__module__", "")


def device_info() -> dict:
    """Name and kind of the device the engine runs on (imports numba-cuda)."""
    cuda = _cuda()
    if _simulated(cuda):
        return {"device": "numba CUDA simulator", "simulator": True}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    return {"device": name, "simulator": False,
            "compute_capability": ".".join(map(str, dev.compute_capability)),
            "multiprocessors": int(dev.MULTIPROCESSOR_COUNT)}


def _check_options(options: dict) -> dict:
    out = {}
    for key, value in options.items():
        if key not in _OPTIONS:
            hint = difflib.get_close_matches(key, _OPTIONS, n=1)
            raise ParameterError(f"unknown option {key!r} for engine 'cuda'; options: "
                                 f"{', '.join(_OPTIONS)}"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""))
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"engine 'cuda' option {key} must be an integer >= 1, got {value!r}")
        out[key] = int(value)
    return out


def _pad(a: np.ndarray) -> np.ndarray:
    """``a`` with every zero-length axis made length 1 (zero-size device arrays avoided)."""
    a = np.ascontiguousarray(a)
    if a.size:
        return a
    out = np.zeros(tuple(max(s, 1) for s in a.shape), dtype=a.dtype)
    return out


class _Device:
    """Device arrays of ``B`` copies of a plan's network, and the launch loop."""

    def __init__(self, plan, B: int, options: dict):
        self.cuda = cuda = _cuda()
        self.K = _kernels()
        self.sim = _simulated(cuda)
        self.plan = p = plan
        self.B = B
        self.N = p.n_neurons
        self.P = p.pop_i.shape[0]
        kinds = p.pop_i[:, PI_KIND]
        self.pois_off = np.zeros(self.P, dtype=np.int64)
        off = 0
        for q in range(self.P):
            if kinds[q] == KIND_POISSON:
                self.pois_off[q] = off
                off += int(p.pop_i[q, PI_N])
        self.npois = off
        team = options.get("team", 2 if self.sim else 32)
        tpb = options.get("threads_per_block")
        if tpb is not None and tpb % team:
            raise ParameterError(f"engine 'cuda': threads_per_block ({tpb}) must be a multiple of "
                                 f"team ({team})")
        self.team = team
        self._opt_tpb = tpb
        self._opt_blocks = options.get("blocks")
        self._config = None
        # structure (never changes for a plan)
        self.d = {}
        for name in ("delays", "seg_ptr", "syn_pre", "syn_post", "syn_delay", "col_ptr",
                     "col_syn", "src_step", "src_idx"):
            self.d[name] = cuda.to_device(_pad(getattr(p, name)))
        self.d["pois_off"] = cuda.to_device(_pad(self.pois_off))
        self.d["x2s"] = cuda.device_array(max(p.xtr.shape[1], 1), dtype=np.float64)
        self.d["y2s"] = cuda.device_array(max(p.ytr.shape[1], 1), dtype=np.float64)
        self.d["bar"] = cuda.to_device(np.zeros(2, dtype=np.int32))
        self.d["ctl"] = cuda.to_device(np.zeros(4, dtype=np.int64))
        self.d["cnt"] = cuda.to_device(np.zeros(B * self.N, dtype=np.int32))
        self.cap = 0

    # -- helpers ---------------------------------------------------------------------------
    def _seed(self, extra: int = 0) -> int:
        p = self.plan
        words = [int(x) for x in p.rng[p.pop_i[:, PI_KIND] == KIND_POISSON].ravel()]
        seq = np.random.SeedSequence([int(p.step[0]), extra, self.B] + words)
        return int(seq.generate_state(1, np.uint64)[0])

    def _make_states(self, seed: int):
        """One xoroshiro128+ generator per Poisson neuron and copy, seeded on the device."""
        from numba.cuda.random import xoroshiro128p_dtype
        n = max(self.B * self.npois, 1)
        states = self.cuda.device_array(n, dtype=xoroshiro128p_dtype)
        tpb = 4 if self.sim else 256
        blocks = 1 if self.sim else min(-(-n // tpb), 4096)
        self._sim_call(self.K.init_states, blocks, tpb, (states, np.uint64(seed)))
        return states

    def _sim_call(self, kernel, blocks, tpb, args) -> None:
        """Launch; on the simulator with a short thread switch interval and without numpy's
        overflow warnings."""
        if not self.sim:
            kernel[blocks, tpb](*args)
            return
        switch = sys.getswitchinterval()
        try:
            # the simulator runs each thread of a block as a Python thread meeting the
            # others at every barrier: a short switch interval makes that ~50x faster
            # than the default 5 ms
            sys.setswitchinterval(1e-5)
            with warnings.catch_warnings():
                # it runs the generators in numpy uint64 scalars, whose intended
                # wrap-around numpy reports as overflow
                warnings.filterwarnings("ignore", "overflow encountered in scalar",
                                        RuntimeWarning)
                kernel[blocks, tpb](*args)
        finally:
            sys.setswitchinterval(switch)

    def _ensure_cap(self, rps: int, grow: bool = False) -> None:
        need = max(1 << 16, 4 * rps, 2)
        if grow:
            need = max(need, 2 * self.cap)
        if self.cap < need:
            self.cap = need
            self.d["spk_t"] = self.cuda.device_array(need, dtype=np.int32)
            self.d["spk_i"] = self.cuda.device_array(need, dtype=np.int32)

    def _launch_config(self, args):
        """(kernel, blocks, threads per block), decided once per simulation."""
        if self._config is not None:
            return self._config
        K, BN = self.K, self.B * self.N
        if self.sim:
            tpb = self._opt_tpb or max(4, self.team)
            blocks = 1
            if self._opt_blocks not in (None, 1):
                raise ParameterError("engine 'cuda' on the simulator runs one block (blocks=1)")
            kernel = K.step_kernel
        else:
            kernel = K.step_kernel.specialize(*args)
            kern = next(iter(kernel.overloads.values()))
            maxt = int(kern.max_threads_per_block) // self.team * self.team
            tpb = self._opt_tpb or (1024 if BN <= _SMALL else 256)
            if tpb > maxt:
                if self._opt_tpb is not None:
                    raise ParameterError(f"engine 'cuda': threads_per_block={tpb} exceeds this "
                                         f"kernel's limit on this device ({maxt})")
                tpb = maxt
            occ = int(kern.max_cooperative_grid_blocks(tpb))
            if self._opt_blocks is not None:
                blocks = self._opt_blocks
                if blocks > occ:
                    raise ParameterError(f"engine 'cuda': blocks={blocks} exceeds the {occ} blocks "
                                         f"of {tpb} threads that can be resident at once")
            elif BN <= _SMALL:
                blocks = 1
            else:
                sms = int(self.cuda.get_current_device().MULTIPROCESSOR_COUNT)
                blocks = max(1, min(occ, 2 * sms, -(-BN // tpb)))
        if tpb % self.team:
            raise ParameterError(f"engine 'cuda': threads_per_block ({tpb}) must be a multiple "
                                 f"of team ({self.team})")
        self._config = (kernel, blocks, tpb)
        return self._config

    def _launch_loop(self, n0: int, n_steps: int, flags, redraw: np.ndarray, rec_base: int,
                     rec, on_spikes) -> None:
        """Run ``n_steps`` steps from ``n0`` (several launches if the spike buffer fills);
        ``on_spikes(steps, neurons)`` receives each launch's recorded spikes."""
        d, cuda = self.d, self.cuda
        plast, emis, norm = flags
        rps, nsrec, nrrec = rec["rps"], rec["nsrec"], rec["nrrec"]
        self._ensure_cap(rps)
        d_redraw = cuda.to_device(redraw.astype(np.int64))
        done = 0
        while done < n_steps:
            d["ctl"].copy_to_device(np.zeros(4, dtype=np.int64))
            args = (n0 + done, n_steps - done, self.plan.R, self.B, self.N, self.P, self.npois,
                    self.team, 1, plast, emis, norm, rps, self.cap, rec_base, nsrec, nrrec,
                    d_redraw, d["pop_i"], d["pop_f"], d["st"], d["ref"], d["nxt"], d["states"],
                    d["pois_off"], d["src_step"], d["src_idx"], d["src_hi"], d["src_ptr"],
                    d["hist"], d["hist_cnt"], d["prj_i"], d["prj_f"], d["delays"], d["seg_ptr"],
                    d["syn_pre"], d["syn_post"], d["syn_delay"], d["w"], d["col_ptr"],
                    d["col_syn"], d["xtr"], d["ytr"], d["hx"], d["gain"], d["x2s"], d["y2s"],
                    rec["rec_mask"], d["spk_t"], d["spk_i"], rec["srec_nptr"],
                    rec["srec_order"], rec["srec_var"], rec["srec_every"], rec["srec_off"],
                    rec["srec_out"], rec["rrec_pop"], rec["rrec_out"], d["cnt"], d["bar"],
                    d["ctl"])
            kernel, blocks, tpb = self._launch_config(args)
            args = args[:8] + (blocks,) + args[9:]
            self._sim_call(kernel, blocks, tpb, args)
            ctl = d["ctl"].copy_to_host()
            if ctl[self.K.CTL_ERR]:
                d["bar"].copy_to_device(np.zeros(2, dtype=np.int32))
                raise EngineError("engine 'cuda': the blocks of the launch were not all resident "
                                  "at once (grid barrier timed out); pass fewer blocks= or "
                                  "threads_per_block=")
            k = int(ctl[self.K.CTL_DONE])
            ns = int(ctl[self.K.CTL_SPK])
            if ns:
                t = d["spk_t"][:ns].copy_to_host().astype(np.int64) + (n0 + done)
                i = d["spk_i"][:ns].copy_to_host().astype(np.int64)
                order = np.lexsort((i, t))
                on_spikes(t[order], i[order])
            if done == 0 and redraw.any():
                d_redraw = cuda.to_device(np.zeros_like(redraw, dtype=np.int64))
            if k < n_steps - done:
                self._ensure_cap(rps, grow=True)
            done += k

    def _no_recording(self) -> dict:
        cuda = self.cuda
        z64 = cuda.to_device(np.zeros(1, dtype=np.int64))
        return {"rps": 0, "nsrec": 0, "nrrec": 0,
                "rec_mask": cuda.to_device(np.zeros(1, dtype=np.uint8)),
                "srec_nptr": z64, "srec_order": z64, "srec_var": z64, "srec_every": z64,
                "srec_off": z64, "srec_out": cuda.to_device(np.zeros(1)),
                "rrec_pop": z64, "rrec_out": cuda.to_device(np.zeros((1, 1), dtype=np.int64))}


def _flags(prj_i: np.ndarray) -> tuple[int, int, int]:
    on = (prj_i[:, QI_RULE] != 0) & (prj_i[:, QI_PLASTIC] != 0)
    plast = bool(on.any())
    emis = bool((on & (prj_i[:, QI_TMODE] == TM_EMISSION)).any())
    norm = bool((prj_i[:, QI_NORM_EVERY] > 0).any())
    return int(plast), int(emis), int(norm)


# --- the engine ------------------------------------------------------------------------------

class CudaEngine:
    """GPU engine (``engine="cuda"``); see the module notes for options."""

    name = "cuda"

    def prepare(self, plan, **options) -> "CudaSimulation":
        check_builtin_neurons(plan, "cuda")
        check_builtin_rules(plan, "cuda")
        return CudaSimulation(plan, **options)


class CudaSimulation(_Device):
    """A network on the GPU.  State lives on the device; :meth:`pull` brings it back."""

    def __init__(self, plan, **options):
        super().__init__(plan, 1, _check_options(options))
        p = plan
        cuda = self.cuda
        d = self.d
        self._dev_params = {}
        # parameters (host-owned; pushed when they change)
        d["pop_i"] = cuda.to_device(_pad(p.pop_i))
        d["pop_f"] = cuda.to_device(_pad(p.pop_f))
        d["prj_i"] = cuda.to_device(_pad(p.prj_i))
        d["prj_f"] = cuda.to_device(_pad(p.prj_f))
        d["gain"] = cuda.to_device(_pad(p.gain))
        src_hi = p.pop_i[:, PI_SRC_HI].copy()
        d["src_hi"] = cuda.to_device(_pad(src_hi))
        # state (device-owned between pulls)
        d["st"] = cuda.to_device(_pad(p.st))
        d["ref"] = cuda.to_device(_pad(p.ref))
        d["nxt"] = cuda.to_device(_pad(p.nxt))
        d["hist"] = cuda.to_device(_pad(p.hist.astype(np.int32)))
        d["hist_cnt"] = cuda.to_device(_pad(p.hist_cnt.astype(np.int32)))
        d["w"] = cuda.to_device(_pad(p.w))
        d["xtr"] = cuda.to_device(_pad(p.xtr))
        d["ytr"] = cuda.to_device(_pad(p.ytr))
        d["hx"] = cuda.to_device(_pad(p.hx))
        d["src_ptr"] = cuda.to_device(_pad(p.pop_i[:, PI_SRC_PTR].copy()))
        d["states"] = self._make_states(self._seed())
        self._remember_params()
        self._version = p.version
        self._host_current = True     # the host holds the current state (nothing ran since)
        self._w_dirty = False         # weights/traces changed on the device since the last pull
        self._spec = None
        self._rec = None
        self._recdev = None

    # -- host <-> device -------------------------------------------------------------------------
    def _remember_params(self) -> None:
        p = self.plan
        self._dev_params = {"pop_i": p.pop_i.copy(), "pop_f": p.pop_f.copy(),
                            "prj_i": p.prj_i.copy(), "prj_f": p.prj_f.copy(),
                            "gain": p.gain.copy(), "rows": p.st[list(_PARAM_ROWS)].copy()}

    def _push_params(self) -> None:
        """Copy the host-owned parameters that changed (rates, plasticity switches, gains,
        frozen thresholds ...) to the device."""
        p, d, old = self.plan, self.d, self._dev_params
        for name in ("pop_i", "pop_f", "prj_i", "prj_f", "gain"):
            a = getattr(p, name)
            if not np.array_equal(a, old[name]):
                d[name].copy_to_device(_pad(a))
        rows = p.st[list(_PARAM_ROWS)]
        if not np.array_equal(rows, old["rows"]) and self.N:
            for r in _PARAM_ROWS:
                d["st"][r].copy_to_device(np.ascontiguousarray(p.st[r]))
        self._remember_params()

    def _push_state(self) -> None:
        p, d = self.plan, self.d
        d["st"].copy_to_device(_pad(p.st))
        d["ref"].copy_to_device(_pad(p.ref))
        d["nxt"].copy_to_device(_pad(p.nxt))
        d["hist"].copy_to_device(_pad(p.hist.astype(np.int32)))
        d["hist_cnt"].copy_to_device(_pad(p.hist_cnt.astype(np.int32)))
        d["w"].copy_to_device(_pad(p.w))
        d["xtr"].copy_to_device(_pad(p.xtr))
        d["ytr"].copy_to_device(_pad(p.ytr))
        d["hx"].copy_to_device(_pad(p.hx))
        d["src_ptr"].copy_to_device(_pad(p.pop_i[:, PI_SRC_PTR].copy()))

    def pull(self) -> None:
        """Copy the device state (and weights and traces, if plasticity or normalisation
        changed them) into the plan."""
        if self._host_current:
            return
        p, d = self.plan, self.d
        if self.N:
            st = d["st"].copy_to_host()
            for r in _STATE_ROWS:
                p.st[r] = st[r]
            p.ref[:] = d["ref"].copy_to_host()
            p.nxt[:] = d["nxt"].copy_to_host()
            p.hist[:] = d["hist"].copy_to_host()
            p.hist_cnt[:] = d["hist_cnt"].copy_to_host()
        if self.P:
            src = p.pop_i[:, PI_KIND] == KIND_SOURCE
            p.pop_i[src, PI_SRC_PTR] = d["src_ptr"].copy_to_host()[:self.P][src]
        if self._w_dirty:
            if p.w.size:
                p.w[:] = d["w"].copy_to_host()
            for name in ("xtr", "ytr", "hx"):
                a = getattr(p, name)
                if a.size:
                    a[:] = d[name].copy_to_host()
            self._w_dirty = False
        self._host_current = True

    def _sync_to_device(self) -> None:
        p = self.plan
        if p.version != self._version:
            self._push_params()
            if self._host_current:   # the host may have changed state after pulling it
                self._push_state()
            self._version = p.version

    # -- recording -------------------------------------------------------------------------------
    def _use_spec(self, spec) -> None:
        if spec is self._spec:
            return
        cuda = self.cuda
        N = self.N
        order = np.argsort(spec.srec_idx, kind="stable").astype(np.int64)
        nptr = np.zeros(N + 1, dtype=np.int64)
        if spec.srec_idx.size:
            np.cumsum(np.bincount(spec.srec_idx, minlength=N), out=nptr[1:])
        self._recdev = {
            "rps": int(spec.rec_per_step), "nsrec": int(spec.srec_var.size),
            "nrrec": int(spec.rrec_pop.size),
            "rec_mask": cuda.to_device(_pad(spec.rec_mask)),
            "srec_nptr": cuda.to_device(nptr), "srec_order": cuda.to_device(_pad(order)),
            "srec_var": cuda.to_device(_pad(spec.srec_var)),
            "srec_every": cuda.to_device(_pad(spec.srec_every)),
            "rrec_pop": cuda.to_device(_pad(spec.rrec_pop))}
        self._spec = spec
        self._rec = None

    def _use_rec(self, rec) -> None:
        if rec is self._rec:
            return
        cuda = self.cuda
        self._recdev["srec_off"] = cuda.to_device(_pad(rec.srec_off))
        self._recdev["srec_out"] = cuda.to_device(_pad(rec.srec_out))
        self._recdev["rrec_out"] = cuda.to_device(_pad(rec.rrec_out))
        self._rec = rec

    @staticmethod
    def _append(rec, t: np.ndarray, i: np.ndarray) -> None:
        k = int(rec.spk_n[0])
        need = k + t.size
        if need > rec.spk_t.size:
            cap = max(2 * rec.spk_t.size, need)
            for name in ("spk_t", "spk_i"):
                old = getattr(rec, name)
                new = np.zeros(cap, dtype=np.int64)
                new[:k] = old[:k]
                setattr(rec, name, new)
        rec.spk_t[k:need] = t
        rec.spk_i[k:need] = i
        rec.spk_n[0] = need

    # -- running -----------------------------------------------------------------------------------
    def run(self, n_steps: int, rec) -> None:
        p = self.plan
        self._sync_to_device()
        if n_steps <= 0:
            return
        self._use_spec(rec.spec)
        self._use_rec(rec)
        flags = _flags(p.prj_i)
        if flags[0] or flags[2]:
            self._w_dirty = True
        self._host_current = False
        redraw = ((p.pop_i[:, PI_KIND] == KIND_POISSON) & (p.pop_i[:, PI_REDRAW] != 0))
        n0 = int(p.step[0])
        self._launch_loop(n0, n_steps, flags, redraw.astype(np.int64), rec.base, self._recdev,
                          lambda t, i: self._append(rec, t, i))
        p.pop_i[redraw, PI_REDRAW] = 0
        p.step[0] = n0 + n_steps
        r = self._recdev
        if rec.srec_out.size:
            rec.srec_out[:] = r["srec_out"].copy_to_host()
        if rec.rrec_out.size:
            rec.rrec_out[:] = r["rrec_out"].copy_to_host()

    def normalize_weights(self, projection: int, target_sum: float) -> None:
        """Scale each postsynaptic neuron's incoming weights of projection number
        ``projection`` to sum to ``target_sum``, on the device (no transfer of weights)."""
        self._sync_to_device()
        p = self.plan
        q = int(projection)
        if not 0 <= q < p.prj_i.shape[0]:
            raise NetworkError(f"no projection number {q}")
        K = self.K
        npost = int(p.pop_i[p.prj_i[q, QI_POST], PI_N])
        tpb = 8 if self.sim else 256
        blocks = max(1, -(-npost // tpb))
        if npost:
            self._sim_call(K.normalize_kernel, blocks, tpb,
                           (self.d["w"], self.d["col_ptr"], self.d["col_syn"],
                            int(p.prj_i[q, QI_COLOFF]), npost, float(target_sum)))
        self._w_dirty = True
        self._host_current = False


# --- batched inference --------------------------------------------------------------------------

def _population(network, pop, what: str, kind):
    from ..network import Population
    if pop is None:
        cands = [x for x in network.populations if isinstance(x.model, kind)]
        if len(cands) != 1:
            raise NetworkError(f"run_batched: say which population is the {what} "
                               f"({len(cands)} candidates)")
        return cands[0]
    if isinstance(pop, str):
        pop = network[pop]
    if not isinstance(pop, Population) or pop.network is not network:
        raise NetworkError(f"run_batched: the {what} must be a population of this network")
    if not isinstance(pop.model, kind):
        raise NetworkError(f"run_batched: population {pop.name!r} ({type(pop.model).__name__}) "
                           f"cannot be the {what}")
    return pop


def _is_spike_list(inputs) -> bool:
    if isinstance(inputs, np.ndarray):
        return False
    try:
        first = inputs[0]
    except (TypeError, IndexError, KeyError):
        return False
    return isinstance(first, (tuple, list)) and len(first) == 2 and np.ndim(first[0]) == 1


def run_batched(network, inputs, duration: float, *, input=None, count=None,
                return_spikes: bool = False, seed: int | None = None, **options):
    """Run ``B`` independent copies of ``network`` with frozen weights, copy ``b`` driven by
    ``inputs[b]``, and count their spikes.

    Every copy starts from the network's current state (which is not changed, nor is its
    time); plasticity, normalisation and recorders are ignored (adaptive thresholds adapt
    within each copy unless frozen).  All copies share one set of weights on the device.

    Parameters
    ----------
    network : Network
    inputs : array (B, n_input) or sequence of B pairs (times, indices)
        Firing rates (Hz) of a :class:`~snnsim.inputs.PoissonInput` population, or the
        spikes of a :class:`~snnsim.inputs.SpikeSource` population: times (s) from the
        start of this run and neuron indices.
    duration : float
        Simulated time (s) of every copy.
    input : Population or str, optional
        The driven population (default: the network's only input of the matching kind).
    count : Population, str or list of them, optional
        Populations whose spikes are counted (default: the first neuron population; inputs
        may be counted too).
    return_spikes : bool
        Also return, per copy, the spikes of the counted populations.
    seed : int, optional
        Seed of the copies' Poisson generators (default: derived from the network's).
    **options
        Engine options (``threads_per_block``, ``blocks``, ``team``).

    Returns
    -------
    counts : ndarray of int, shape (B, n_count) (a list of them if ``count`` is a list)
    spikes : list of B lists (one per counted population) of (times, indices)
        Only with ``return_spikes``; times (s) from the start of this run.

    Examples
    --------
    >>> counts = run_batched(net, rates_of_100_images, 0.35, count="exc")  # doctest: +SKIP
    """
    from ..network import _check_time
    duration = _check_time("run_batched", "duration", duration)
    plan = network.compile()
    network._sync_from_engine()   # the current state of whichever engine ran last
    dt = network.dt
    from ..inputs import PoissonInput, SpikeSource
    spikes_in = _is_spike_list(inputs)
    if spikes_in:
        inp = _population(network, input, "input of spike lists (a SpikeSource)", SpikeSource)
        B = len(inputs)
    else:
        rates = np.asarray(inputs, dtype=float)
        inp = _population(network, input, "input of rates (a PoissonInput)", PoissonInput)
        if rates.ndim != 2 or rates.shape[1] != inp.n:
            raise ParameterError(f"run_batched: rates must have shape (B, {inp.n}), got "
                                 f"{rates.shape}")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0) or np.any(rates * dt > 1.0):
            raise ParameterError(f"run_batched: rates must be finite, >= 0 and <= 1/dt = "
                                 f"{1 / dt:.6g} Hz")
        B = rates.shape[0]
    if B < 1:
        raise ParameterError("run_batched needs at least one input")
    single = not isinstance(count, (list, tuple))
    counted = [_population(network, c, "counted population", object)
               if c is not None else next((x for x in network.populations if not x.is_input), None)
               for c in ([count] if single else count)]
    if any(c is None for c in counted):
        raise NetworkError("run_batched: the network has no neuron population to count")
    run = _Batched(plan, B, _check_options(options))
    n_steps = int(round(duration / dt))
    if spikes_in:
        run.set_sources(inp.index, [_events(inp, b, ev, dt) for b, ev in enumerate(inputs)])
    else:
        run.set_rates(inp.index, rates)
    run.finish_setup(seed)
    mask = np.zeros(B * plan.n_neurons, dtype=np.uint8)
    if return_spikes:
        for c in counted:
            for b in range(B):
                lo = b * plan.n_neurons + c._lo
                mask[lo:lo + c.n] = 1
    cnt, spk = run.run(n_steps, mask)
    N = plan.n_neurons
    cnt = cnt.reshape(B, N)
    out = [cnt[:, c._lo:c._lo + c.n].astype(np.int64) for c in counted]
    res = out[0] if single else out
    if not return_spikes:
        return res
    t, g = spk
    b_of, i_of = g // N, g % N
    trains = []
    for b in range(B):
        sel = b_of == b
        per = []
        for c in counted:
            s2 = sel & (i_of >= c._lo) & (i_of < c._lo + c.n)
            per.append(((t[s2] - int(plan.step[0])) * dt, i_of[s2] - c._lo))
        trains.append(per[0] if single else per)
    return res, trains


def _events(pop, b: int, ev, dt: float) -> tuple[np.ndarray, np.ndarray]:
    try:
        times, idx = ev
    except (TypeError, ValueError):
        raise ParameterError(f"run_batched: input {b} must be a pair (times, indices)") from None
    times = np.asarray(times, dtype=float).ravel()
    idx = np.asarray(idx).ravel()
    if times.shape != idx.shape:
        raise ParameterError(f"run_batched: input {b}: times and indices differ in length")
    if times.size and (not np.all(np.isfinite(times)) or times.min() < 0):
        raise ParameterError(f"run_batched: input {b}: times must be finite and >= 0 s")
    if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0
                     or idx.max() >= pop.n):
        raise ParameterError(f"run_batched: input {b}: indices must be integers in [0, {pop.n})")
    steps = np.rint(times / dt).astype(np.int64)
    order = np.lexsort((idx, steps))
    steps, idx = steps[order], idx[order].astype(np.int64)
    if np.any((np.diff(steps) == 0) & (np.diff(idx) == 0)):
        raise ParameterError(f"run_batched: input {b}: a neuron has two spikes in one time step")
    return steps, idx


class _Batched(_Device):
    """``B`` copies of a plan's network (frozen weights) for one batched run."""

    def __init__(self, plan, B: int, options: dict):
        super().__init__(plan, B, options)
        p = plan
        N, P = self.N, self.P
        self.st = np.tile(p.st, (1, B))
        self.src_step = [p.src_step]
        self.src_idx = [p.src_idx]
        self.src_hi = np.tile(p.pop_i[:, PI_SRC_HI], B)
        self.src_ptr = np.tile(p.pop_i[:, PI_SRC_PTR], B)
        self._e = p.src_step.size
        self._N, self._P = N, P

    def set_rates(self, pop: int, rates: np.ndarray) -> None:
        lo = int(self.plan.pop_i[pop, PI_OFF])
        n = int(self.plan.pop_i[pop, PI_N])
        prob = rates * self.plan.dt
        with np.errstate(divide="ignore"):
            logq = np.log1p(-prob)
        for b in range(self.B):
            self.st[S_P, b * self.N + lo:b * self.N + lo + n] = prob[b]
            self.st[S_LOGQ, b * self.N + lo:b * self.N + lo + n] = logq[b]

    def set_sources(self, pop: int, events: list) -> None:
        n0 = int(self.plan.step[0])
        for b, (steps, idx) in enumerate(events):
            bp = b * self.P + pop
            self.src_ptr[bp] = self._e
            self._e += steps.size
            self.src_hi[bp] = self._e
            self.src_step.append(steps + n0)
            self.src_idx.append(idx)

    def finish_setup(self, seed) -> None:
        p, cuda, d, B = self.plan, self.cuda, self.d, self.B
        prj_i = p.prj_i.copy()
        prj_i[:, QI_PLASTIC] = 0
        prj_i[:, QI_NORM_EVERY] = 0
        d["pop_i"] = cuda.to_device(_pad(p.pop_i))
        d["pop_f"] = cuda.to_device(_pad(p.pop_f))
        d["prj_i"] = cuda.to_device(_pad(prj_i))
        d["prj_f"] = cuda.to_device(_pad(p.prj_f))
        d["gain"] = cuda.to_device(_pad(p.gain))
        d["src_step"] = cuda.to_device(_pad(np.concatenate(self.src_step).astype(np.int64)))
        d["src_idx"] = cuda.to_device(_pad(np.concatenate(self.src_idx).astype(np.int64)))
        d["src_hi"] = cuda.to_device(_pad(self.src_hi))
        d["src_ptr"] = cuda.to_device(_pad(self.src_ptr))
        d["st"] = cuda.to_device(_pad(self.st))
        d["ref"] = cuda.to_device(_pad(np.tile(p.ref, B)))
        d["nxt"] = cuda.to_device(_pad(np.tile(p.nxt, B)))
        d["hist"] = cuda.to_device(_pad(np.tile(p.hist, (1, B)).astype(np.int32)))
        d["hist_cnt"] = cuda.to_device(_pad(np.tile(p.hist_cnt, (1, B)).astype(np.int32)))
        d["w"] = cuda.to_device(_pad(p.w))
        for name in ("xtr", "ytr", "hx"):
            d[name] = cuda.to_device(np.zeros((2, 1)))
        s = self._seed(0xBA7C4) if seed is None else int(seed)
        d["states"] = self._make_states(s)

    def run(self, n_steps: int, mask: np.ndarray):
        rec = self._no_recording()
        rps = int(mask.sum())
        if rps:
            rec["rps"] = rps
            rec["rec_mask"] = self.cuda.to_device(mask)
        ts, gs = [], []
        redraw = (self.plan.pop_i[:, PI_KIND] == KIND_POISSON).astype(np.int64)
        n0 = int(self.plan.step[0])
        if n_steps > 0:
            self._launch_loop(n0, n_steps, (0, 0, 0), redraw, n0, rec,
                              lambda t, i: (ts.append(t), gs.append(i)))
        cnt = self.d["cnt"].copy_to_host()
        cat = (lambda a: np.concatenate(a) if a else np.zeros(0, dtype=np.int64))
        return cnt, (cat(ts), cat(gs))
