"""The default engine: the whole time loop in Numba-compiled code, state in the plan's arrays.

The loop is generated for the neuron models of the network from their step functions
(:mod:`snnsim.engines._numba_gen`) and cached on disk, so each combination of models is
compiled once per machine.

Options
-------
threads : int
    Threads for the neuron-update loops (default 1).  Synaptic propagation and plasticity
    stay sequential, so results are bitwise identical for any number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import NonFiniteStateError, ParameterError
from ..plan import PI_OFF, QI_SOFF
from . import _numba_gen
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
        # the first non-finite state of a kernel call (see K.run_loop); err[0] == 0: none
        self.err = np.zeros(5, dtype=np.int64)
        self.errv = np.zeros(1)
        self.variants, self.pvar = _numba_gen.variants_of(plan)
        self.rules, self.qvar = _numba_gen.rules_of(plan)
        self.kernels = _numba_gen.build(self.variants, self.rules)
        self._kp, self._kp_version = None, None

    def pull(self) -> None:
        """State lives in the plan already."""

    def run(self, n_steps: int, rec) -> None:
        """Advance the plan by ``n_steps`` steps, recording into ``rec``.

        Raises
        ------
        NonFiniteStateError
            At the end of the first step ``n`` in which a neuron's ``v``, synaptic channel
            (``g_e``/``g_i`` or ``i_e``/``i_i``) or ``theta`` became NaN or infinite, or a plastic
            weight became NaN (weights are clipped to finite bounds, so they cannot become
            infinite).  The plan is left consistent at the end of that step (``plan.step`` is
            ``n + 1``; the non-finite values stay in the state for inspection).  The exception
            has attributes ``population`` (or ``projection``), ``variable``, ``index`` (neuron
            within the population, or synapse within the projection), ``step`` and ``time``
            (``n * dt``, s).
        """
        p = self.plan
        spec = rec.spec
        parallel = self.threads > 1
        if parallel:
            numba.set_num_threads(self.threads)
        # the populations' parameters as they stand now (theta_frozen may have changed: the
        # builder bumps plan.version whenever it changes the plan)
        if self._kp_version != p.version:
            self._kp = _numba_gen.param_table(p, self.variants, self.pvar)
            self._kq = _numba_gen.rule_table(p, self.rules, self.qvar)
            self._kp_version = p.version
        kp, kq = self._kp, self._kq
        loop = self.kernels.run_loop_par if parallel else self.kernels.run_loop
        done = 0
        while True:  # at least one call, so that run(0) compiles or loads the kernels
            rec.ensure_room()
            self.err[0] = 0
            k = loop(int(p.step[0]), n_steps - done, p.R, p.pop_i, p.st, p.ref, p.nxt,
                           p.rng, p.src_step, p.src_idx, p.hist, p.hist_cnt, p.prj_i, p.prj_f,
                           p.delays, p.seg_ptr, p.syn_pre, p.syn_post, p.syn_delay, p.w,
                           p.col_ptr, p.col_syn, p.xtr, p.ytr, p.hx, p.gain, spec.rec_mask,
                           spec.rec_per_step, rec.spk_t, rec.spk_i, rec.spk_n, spec.srec_var,
                           spec.srec_idx, spec.srec_every, rec.srec_off, rec.srec_out,
                           spec.rrec_pop, rec.rrec_out, rec.base, p.flag, self.whead, self.wlink,
                           self.err, self.errv, kp, self.pvar, kq, self.qvar)
            p.step[0] += k
            done += k
            if self.err[0] != 0:
                raise self._non_finite_error()
            if done >= n_steps:
                break

    def _non_finite_error(self) -> NonFiniteStateError:
        """The error describing the state noted in ``self.err`` by the kernel."""
        p = self.plan
        kind, obj, idx, row, n = (int(x) for x in self.err)
        value = float(self.errv[0])
        t = n * p.dt
        where = (f"at step {n} (t = {t:.6g} s); the run stopped at the end of that step "
                 f"(t = {(n + 1) * p.dt:.6g} s)")
        if kind == K.ERR_WEIGHT:
            name = p.prj_names[obj]
            local = idx - int(p.prj_i[obj, QI_SOFF])
            exc = NonFiniteStateError(
                f"projection {name!r}: plastic weight of synapse {local} (pre neuron "
                f"{int(p.syn_pre[idx])} -> post neuron {int(p.syn_post[idx])}) became {value!r} "
                f"{where}; weights are clipped to [w_min, w_max], so a NaN weight comes from a "
                f"NaN or infinite factor of the update (plasticity gain, traces, rule parameters)")
            exc.projection, exc.variable = name, "w"
        else:
            name = p.pop_names[obj]
            local = idx - int(p.pop_i[obj, PI_OFF])
            state = self.variants[self.pvar[obj]].kernel.state
            variable = next(s for s in state if p.rows[s] == row)
            exc = NonFiniteStateError(
                f"population {name!r}: {variable} of neuron {local} became {value!r} {where}; "
                f"look for weights, biases or state values so large that the update overflows")
            exc.population, exc.variable = name, variable
        exc.index, exc.step, exc.time = local, n, t
        return exc
