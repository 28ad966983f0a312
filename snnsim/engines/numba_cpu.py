"""The default engine: the whole time loop in Numba-compiled code, state in the plan's arrays.

Options
-------
threads : int
    Threads for the neuron-update loops (default 1).  Synaptic propagation and plasticity
    stay sequential, so results are bitwise identical for any number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import ParameterError
from . import _numba_kernels as K

__all__ = ["NumbaEngine", "NumbaSimulation"]


class NumbaEngine:
    """Numba CPU engine (``engine="numba"``)."""

    name = "numba"

    def prepare(self, plan, threads: int = 1) -> "NumbaSimulation":
        return NumbaSimulation(plan, threads)


class NumbaSimulation:
    def __init__(self, plan, threads: int = 1):
        max_threads = numba.config.NUMBA_NUM_THREADS
        if (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                or not 1 <= threads <= max_threads):
            raise ParameterError(f"numba engine: threads must be an integer in [1, {max_threads}], "
                                 f"got {threads!r}")
        self.plan = plan
        self.threads = int(threads)
        # scratch of the Poisson timing wheel (rebuilt at the start of every run call)
        self.whead = np.full((plan.pop_i.shape[0], K.WHEEL), -1, dtype=np.int64)
        self.wlink = np.full(plan.n_neurons, -1, dtype=np.int64)

    def pull(self) -> None:
        """State lives in the plan already."""

    def run(self, n_steps: int, rec) -> None:
        p = self.plan
        spec = rec.spec
        parallel = self.threads > 1
        if parallel:
            numba.set_num_threads(self.threads)
        done = 0
        while True:  # at least one call, so that run(0) compiles or loads the kernels
            rec.ensure_room()
            k = (K.run_loop_par if parallel else K.run_loop)(int(p.step[0]), n_steps - done, p.R, p.pop_i, p.pop_f, p.st, p.ref, p.nxt,
                           p.rng, p.src_step, p.src_idx, p.hist, p.hist_cnt, p.prj_i, p.prj_f,
                           p.delays, p.seg_ptr, p.syn_pre, p.syn_post, p.syn_delay, p.w,
                           p.col_ptr, p.col_syn, p.xtr, p.ytr, p.hx, p.gain, spec.rec_mask,
                           spec.rec_per_step, rec.spk_t, rec.spk_i, rec.spk_n, spec.srec_var,
                           spec.srec_idx, spec.srec_every, rec.srec_off, rec.srec_out,
                           spec.rrec_pop, rec.rrec_out, rec.base, p.flag, self.whead, self.wlink)
            p.step[0] += k
            done += k
            if done >= n_steps:
                break
