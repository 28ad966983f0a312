"""The ``reference`` engine: docs/semantics.md written out as plain Python loops.

This engine is the test oracle of the compiled engines.  It is slow (one Python loop
iteration per neuron per step and per synaptic event) and meant for small networks.  It
is written from the semantics, independently of the ``numba`` kernels:

* one step ``n`` is the six numbered phases of docs/semantics.md, in that order;
* spikes in flight live in a queue ``{arrival step: [synapse, ...]}`` filled when a
  neuron spikes (arrival = spike step + that synapse's delay);
* every plastic projection keeps its neurons' own traces ``x1``, ``x2`` (presynaptic) and
  ``y1``, ``y2`` (postsynaptic), decayed one step at a time and jumping at spikes.  With
  ``timing='arrival'`` the synapse sees the presynaptic trace through its delay, as the
  semantics say it literally: the engine keeps ``{step: (x1, x2)}`` of the last ``R``
  steps, a synapse of delay ``d`` potentiates with ``x1`` as it was at step ``n - d``, and
  an arrival from a spike of step ``s`` depresses with ``x2`` just before its jump at step
  ``s`` (the value at the end of step ``s - 1`` decayed by one step).  The arrival is the
  presynaptic event; a spike emitted while plasticity was off takes no part in plasticity,
  and traces before the step plasticity was switched on at count as 0 (they were cleared);
* Poisson inputs use the same xoshiro256** streams and geometric next-spike draws as the
  other engines, in pure Python, so spike trains are identical.

State
-----
Nothing survives from one run to the next inside a :class:`ReferenceSimulation`: every
run reads its whole state from the plan and writes it back at the end, in the plan's
layout, which is the ``numba`` engine's (so any engine continues any other's run, at any
step boundary):

* neuron state ``st``, ``ref``, ``nxt``, ``rng``, ``pop_i``'s source pointer and redraw
  flag, the weights ``w`` and ``step``;
* ``hist``/``hist_cnt``: the spikes of the last ``R - 1`` steps (slot ``s % R`` holds step
  ``s``); the spikes still in flight are those whose arrival step is not yet reached;
* ``ytr``: the postsynaptic neurons' own traces at the end of the last step;
* ``xtr``: the presynaptic neurons' own traces at the end of the last step ``n - 1`` --
  except for a plastic ``timing='arrival'`` projection whose synapses share one delay
  ``d``, where it holds the traces seen through that delay, the neurons' traces at the end
  of step ``n - 1 - d`` (the engine rebuilds the neurons' own traces of the last ``d``
  steps from them and the spike history);
* ``hx``, for a plastic ``timing='arrival'`` projection with several delays: the ring of
  the neurons' traces, slot ``s % R`` holding them at the end of step ``s`` for
  ``s = n - R ... n - 2``.

The traces of a projection whose plasticity is off are left as they are (they freeze).
Switching plasticity back on (the network clears the traces and records the step) and
``reset_state`` are thus seen at the next run with no bookkeeping here.  (Where a rule's
``A3-`` or ``A3+`` is 0 the ``numba`` engine does not decay ``x2`` or ``y2``; nothing reads
them then, and this engine decays them anyway.)

Options
-------
None; unknown options raise :class:`~snnsim.errors.ParameterError`.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ..plan import check_builtin_neurons, check_builtin_rules
from ..plan import (KIND_CUR, KIND_POISSON, KIND_SOURCE, PF_BIAS, PF_CE, PF_CI, PF_DTTAU, PF_EE,
                    PF_EI, PF_KE, PF_KI, PF_PE, PF_PI, PF_PM, PF_PTHETA, PF_THPLUS, PF_VRESET,
                    PF_VREST, PF_VTH, PI_FROZEN, PI_KIND, PI_N, PI_OFF, PI_REDRAW, PI_REF,
                    PI_SRC_HI, PI_SRC_PTR, QF_A2M, QF_A2P, QF_A3M, QF_A3P, QF_MU, QF_MULT,
                    QF_NEARX, QF_NEARY, QF_NORM_TARGET, QF_PX1, QF_PX2, QF_PY1, QF_PY2,
                    QF_WMAX, QF_WMIN, QI_CHAN, QI_HOFF, QI_NORM_EVERY, QI_NSYN, QI_ONSTEP,
                    QI_PLASTIC, QI_POST, QI_PRE, QI_RULE, QI_SOFF, QI_TMODE, QI_XOFF, QI_YOFF,
                    S_BIAS, S_GE, S_GI, S_LOGQ, S_P, S_THETA, S_V, TM_EMISSION, TM_HET, TM_HOM)

__all__ = ["ReferenceEngine", "ReferenceSimulation"]

_MASK = (1 << 64) - 1
_NEVER = 2 ** 62


# --- Poisson inputs: xoshiro256** and geometric waiting times -------------------------------

def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & _MASK


def _next_u64(s: list) -> int:
    """One xoshiro256** draw; ``s`` is the 4-word state (Python ints), advanced in place."""
    s0, s1, s2, s3 = s
    result = (_rotl((s1 * 5) & _MASK, 7) * 9) & _MASK
    t = (s1 << 17) & _MASK
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[:] = [s0, s1, s2, s3]
    return result


def _geometric(s: list, prob: float, logq: float) -> int:
    """Steps to the next spike of a process spiking with probability ``prob`` per step."""
    if prob <= 0.0:
        return _NEVER
    if prob >= 1.0:
        return 1
    u = 1.0 - (_next_u64(s) >> 11) * (2.0 ** -53)          # uniform in (0, 1]
    x = math.log(u) / logq
    if math.isinf(x):
        return _NEVER
    k = 1.0 + math.floor(x)
    return _NEVER if k > 4.0e18 else int(k)


# --- plasticity ------------------------------------------------------------------------------

class _Rule:
    """The general triplet rule of one plastic projection (parameters from ``prj_f``)."""

    def __init__(self, f: np.ndarray, emission: bool):
        self.a2p, self.a3p = float(f[QF_A2P]), float(f[QF_A3P])
        self.a2m, self.a3m = float(f[QF_A2M]), float(f[QF_A3M])
        self.px1, self.px2 = float(f[QF_PX1]), float(f[QF_PX2])
        self.py1, self.py2 = float(f[QF_PY1]), float(f[QF_PY2])
        self.near_x, self.near_y = f[QF_NEARX] != 0.0, f[QF_NEARY] != 0.0
        self.wmin, self.wmax = float(f[QF_WMIN]), float(f[QF_WMAX])
        self.mult, self.mu = f[QF_MULT] != 0.0, float(f[QF_MU])
        self.emission = emission

    def clip(self, w: float) -> float:
        return min(max(w, self.wmin), self.wmax)

    def f_plus(self, w: float) -> float:
        # max(., 0): a weight initialised outside [w_min, w_max] gives no negative base
        return max(self.wmax - w, 0.0) ** self.mu if self.mult else 1.0

    def f_minus(self, w: float) -> float:
        return max(w - self.wmin, 0.0) ** self.mu if self.mult else 1.0

    # (the products are formed in the order trace * amplitude * weight dependence, which
    # makes the results bitwise those of the compiled engines: an order of rounding, not
    # a shared implementation)
    def depress(self, w: float, y1: float, x2_before: float) -> float:
        dw = y1 * (self.a2m + self.a3m * x2_before)
        return self.clip(w - (dw * self.f_minus(w) if self.mult else dw))

    def potentiate(self, w: float, x1: float, y2_before: float) -> float:
        dw = x1 * (self.a2p + self.a3p * y2_before)
        return self.clip(w + (dw * self.f_plus(w) if self.mult else dw))


def _jump(trace: list, idx: int, nearest: bool) -> None:
    if nearest:
        trace[idx] = 1.0
    else:
        trace[idx] += 1.0


# --- the engine ------------------------------------------------------------------------------

class ReferenceEngine:
    """Pure-Python engine written from docs/semantics.md (``engine="reference"``)."""

    name = "reference"

    def prepare(self, plan, **options) -> "ReferenceSimulation":
        if options:
            raise ParameterError(f"reference engine takes no options, got "
                                 f"{', '.join(sorted(options))}")
        check_builtin_neurons(plan, "reference")
        check_builtin_rules(plan, "reference")
        return ReferenceSimulation(plan)


class ReferenceSimulation:
    """A network run by the reference engine; all its state lives in the plan (see the
    module notes): every run starts from the plan and leaves its state there."""

    def __init__(self, plan):
        self.plan = plan
        p = plan
        self.n_pop = p.pop_i.shape[0]
        self.n_prj = p.prj_i.shape[0]
        S = p.n_synapses
        # synapse tables (global synapse index k)
        self.syn_prj = [0] * S
        self.syn_tgt = [0] * S          # global index of the postsynaptic neuron
        self.syn_pre = [int(x) for x in p.syn_pre]
        self.syn_post = [int(x) for x in p.syn_post]
        self.syn_delay = [int(x) for x in p.syn_delay]
        self.out = []                   # out[q][i]: synapses of q from presynaptic neuron i
        self.inc = []                   # inc[q][j]: synapses of q onto postsynaptic neuron j
        self.delay1 = []                # delay1[q]: the delay of q's synapses if they share one
        for q in range(self.n_prj):
            row = p.prj_i[q]
            s0, ns = int(row[QI_SOFF]), int(row[QI_NSYN])
            n_pre = int(p.pop_i[row[QI_PRE], PI_N])
            post_lo = int(p.pop_i[row[QI_POST], PI_OFF])
            n_post = int(p.pop_i[row[QI_POST], PI_N])
            out = [[] for _ in range(n_pre)]
            inc = [[] for _ in range(n_post)]
            for k in range(s0, s0 + ns):
                self.syn_prj[k] = q
                self.syn_tgt[k] = post_lo + self.syn_post[k]
                out[self.syn_pre[k]].append(k)
                inc[self.syn_post[k]].append(k)
            self.out.append(out)
            self.inc.append(inc)
            delays = set(self.syn_delay[s0:s0 + ns])
            self.delay1.append(delays.pop() if len(delays) == 1 else None)

    def pull(self) -> None:
        """State is written back into the plan at the end of every run."""

    # -- the plan's state in and out ------------------------------------------------------------
    def _plastic(self, q: int) -> bool:
        return self.rules[q] is not None and self.plan.prj_i[q, QI_PLASTIC] != 0

    def _arrival(self, q: int) -> bool:
        """Plastic in this run, with ``timing='arrival'`` and synapses: needs the presynaptic
        trace history."""
        return self.plastic[q] and not self.rules[q].emission and any(self.out[q])

    def _load(self) -> None:
        """Everything a run needs, from the plan (whichever engine wrote it)."""
        p = self.plan
        n0 = self.n0 = int(p.step[0])
        # working copies as Python lists (written back at the end)
        st = [row.tolist() for row in p.st]
        self.v, self.ge, self.gi, self.theta = st[S_V], st[S_GE], st[S_GI], st[S_THETA]
        self.state_rows = st
        self.bias, self.prob, self.logq = st[S_BIAS], st[S_P], st[S_LOGQ]
        self.ref = p.ref.tolist()
        self.nxt = p.nxt.tolist()
        self.w = p.w.tolist()
        self.rng = [[int(x) for x in p.rng[q]] for q in range(self.n_pop)]
        self.src_ptr = [int(x) for x in p.pop_i[:, PI_SRC_PTR]]
        self.rules = [(_Rule(p.prj_f[q], p.prj_i[q, QI_TMODE] == TM_EMISSION)
                       if p.prj_i[q, QI_RULE] != 0 else None) for q in range(self.n_prj)]
        self.plastic = [self._plastic(q) for q in range(self.n_prj)]
        self.on_step = [int(p.prj_i[q, QI_ONSTEP]) for q in range(self.n_prj)]
        # the spikes of the last R - 1 steps (enough for the longest delay, R - 2), and the
        # arrivals of those still in flight
        self.history = {}          # step -> [local indices of the spikes of each population]
        self.queue = {}            # arrival step -> [synapse, ...]
        for back in range(1, p.R):
            s = n0 - back
            if s < 0:
                break
            slot = s % p.R
            self.history[s] = [[int(x) for x in p.hist[slot, lo:lo + p.hist_cnt[slot, pop]]]
                               for pop, lo in enumerate(p.pop_i[:, PI_OFF])]
            for q in range(self.n_prj):
                for i in self.history[s][int(p.prj_i[q, QI_PRE])]:
                    self._emit(q, i, s, n0)
        # plasticity traces: the neurons' own, and for timing='arrival' their recent past
        self.xtr = [p.xtr[0].tolist(), p.xtr[1].tolist()]
        self.ytr = [p.ytr[0].tolist(), p.ytr[1].tolist()]
        self.xpast = [self._load_past(q, n0) if self._arrival(q) else None
                      for q in range(self.n_prj)]

    def _load_past(self, q: int, n0: int) -> dict:
        """Presynaptic traces of projection q at the end of each of the last steps before n0,
        ``{step: (x1 list, x2 list)}``, from the plan's layout (see the module notes); for a
        single delay the neurons' own traces are rebuilt into ``self.xtr`` too."""
        p = self.plan
        row = p.prj_i[q]
        xo, n_pre = int(row[QI_XOFF]), len(self.out[q])
        past = {}
        if row[QI_TMODE] == TM_HET:
            ho = int(row[QI_HOFF])
            for s in range(n0 - p.R, n0 - 1):
                c = ho + (s % p.R) * n_pre
                past[s] = (p.hx[0, c:c + n_pre].tolist(), p.hx[1, c:c + n_pre].tolist())
            past[n0 - 1] = (self.xtr[0][xo:xo + n_pre], self.xtr[1][xo:xo + n_pre])
            return past
        # one delay d: the plan holds the traces seen through the delay, x(n0 - 1 - d); the
        # neurons' traces since then follow from the spikes of the last d steps
        r, d, on = self.rules[q], self.delay1[q], self.on_step[q]
        pre = int(row[QI_PRE])
        start = n0 - 1 - d
        x1, x2 = self.xtr[0][xo:xo + n_pre], self.xtr[1][xo:xo + n_pre]
        if start < on:                  # cleared when plasticity was switched on
            x1, x2 = [0.0] * n_pre, [0.0] * n_pre
        past[start] = (x1[:], x2[:])
        for s in range(start + 1, n0):
            if s >= on:                 # steps before the switch: cleared, frozen
                x1 = [x * r.px1 for x in x1]
                x2 = [x * r.px2 for x in x2]
                for i in self.history.get(s, [[]] * self.n_pop)[pre]:
                    _jump(x1, i, r.near_x)
                    _jump(x2, i, r.near_x)
            past[s] = (x1[:], x2[:])
        self.xtr[0][xo:xo + n_pre] = x1
        self.xtr[1][xo:xo + n_pre] = x2
        return past

    def _x_seen(self, q: int, s: int, trace: int, i: int) -> float:
        """Trace ``x1`` (trace 0) or ``x2`` (1) of presynaptic neuron i of projection q at the
        end of step s, as plasticity saw it: 0 before the step plasticity was switched on at
        (the traces were cleared then)."""
        if s < self.on_step[q]:
            return 0.0
        return self.xpast[q][s][trace][i]

    def _emit(self, q: int, i: int, s: int, first_step: int = 0) -> None:
        """Queue the arrivals of a spike of presynaptic neuron i of projection q at step s."""
        for k in self.out[q][i]:
            n = s + self.syn_delay[k]
            if n >= first_step:
                self.queue.setdefault(n, []).append(k)

    def _store(self) -> None:
        """Leave the state in the plan, laid out as the module notes say."""
        p = self.plan
        for row, values in ((S_V, self.v), (S_GE, self.ge), (S_GI, self.gi),
                            (S_THETA, self.theta)):
            p.st[row] = values
        p.ref[:] = self.ref
        p.nxt[:] = self.nxt
        p.w[:] = self.w
        for q in range(self.n_pop):
            p.rng[q] = np.array(self.rng[q], dtype=np.uint64)
        p.pop_i[:, PI_SRC_PTR] = self.src_ptr
        n = int(p.step[0])
        for q in range(self.n_prj):
            if self.plastic[q]:      # (traces of a projection whose plasticity is off froze)
                self._store_traces(q, n)
        # the last R - 1 steps' spikes, for an engine that continues from this plan
        p.hist_cnt[:] = 0
        for back in range(1, p.R):
            spikes = self.history.get(n - back)
            if spikes is None:
                continue
            for pop, idx in enumerate(spikes):
                lo = int(p.pop_i[pop, PI_OFF])
                p.hist_cnt[(n - back) % p.R, pop] = len(idx)
                p.hist[(n - back) % p.R, lo:lo + len(idx)] = idx

    def _store_traces(self, q: int, n: int) -> None:
        p = self.plan
        row = p.prj_i[q]
        xo, yo = int(row[QI_XOFF]), int(row[QI_YOFF])
        n_pre, n_post = len(self.out[q]), len(self.inc[q])
        for t in range(2):
            p.ytr[t, yo:yo + n_post] = self.ytr[t][yo:yo + n_post]
            if row[QI_TMODE] == TM_HOM and self.xpast[q] is not None:   # seen through the delay
                s = n - 1 - self.delay1[q]
                p.xtr[t, xo:xo + n_pre] = [self._x_seen(q, s, t, i) for i in range(n_pre)]
            elif row[QI_TMODE] == TM_HOM:        # no synapse: no spike is seen, traces decay
                px = (self.rules[q].px1, self.rules[q].px2)[t]
                x = p.xtr[t, xo:xo + n_pre].tolist()
                for _ in range(n - self.n0):
                    x = [v * px for v in x]
                p.xtr[t, xo:xo + n_pre] = x
            else:                                # the neurons' own traces
                p.xtr[t, xo:xo + n_pre] = self.xtr[t][xo:xo + n_pre]
            if row[QI_TMODE] == TM_HET:          # and their history ring
                ho = int(row[QI_HOFF])
                for s in range(n - p.R, n - 1):
                    c = ho + (s % p.R) * n_pre
                    p.hx[t, c:c + n_pre] = self.xpast[q][s][t]

    # -- the time loop ----------------------------------------------------------------------
    def run(self, n_steps: int, rec) -> None:
        p = self.plan
        self._load()
        n0 = int(p.step[0])
        try:
            self._redraw_poisson(n0)
            for n in range(n0, n0 + n_steps):
                rec.ensure_room()
                self._step(n, rec)
                p.step[0] = n + 1
        finally:
            self._store()

    def _redraw_poisson(self, n0: int) -> None:
        p = self.plan
        for pop in range(self.n_pop):
            if p.pop_i[pop, PI_KIND] == KIND_POISSON and p.pop_i[pop, PI_REDRAW] != 0:
                lo = int(p.pop_i[pop, PI_OFF])
                for i in range(lo, lo + int(p.pop_i[pop, PI_N])):
                    self.nxt[i] = n0 - 1 + _geometric(self.rng[pop], self.prob[i], self.logq[i])
                p.pop_i[pop, PI_REDRAW] = 0

    def _step(self, n: int, rec) -> None:
        p = self.plan
        w = self.w
        # 1. plasticity traces decay; weight normalisation
        for q in range(self.n_prj):
            if self.plastic[q]:
                r = self.rules[q]
                xo, yo = int(p.prj_i[q, QI_XOFF]), int(p.prj_i[q, QI_YOFF])
                for i in range(len(self.out[q])):
                    self.xtr[0][xo + i] *= r.px1
                    self.xtr[1][xo + i] *= r.px2
                for j in range(len(self.inc[q])):
                    self.ytr[0][yo + j] *= r.py1
                    self.ytr[1][yo + j] *= r.py2
            # normalisation belongs to step 1, which a projection whose plasticity is switched
            # off skips; a projection without a plasticity rule has nothing switched off
            every = int(p.prj_i[q, QI_NORM_EVERY])
            if every > 0 and n % every == 0 and (self.rules[q] is None or self.plastic[q]):
                target = float(p.prj_f[q, QF_NORM_TARGET])
                for syns in self.inc[q]:
                    total = sum(w[k] for k in syns)
                    if total > 0.0:
                        for k in syns:
                            w[k] *= target / total

        # 2. arrivals (sorted by synapse: order is free, this one gives the same float sums
        #    as the numba engine)
        for k in sorted(self.queue.pop(n, [])):
            q = self.syn_prj[k]
            j = self.syn_tgt[k]
            if p.prj_i[q, QI_CHAN] == 0:
                self.ge[j] += w[k]
            else:
                self.gi[j] += w[k]
            # a spike takes part in plasticity only if plasticity was on when it was emitted
            s = n - self.syn_delay[k]
            if self._arrival(q) and s >= self.on_step[q]:
                r = self.rules[q]
                yj = int(p.prj_i[q, QI_YOFF]) + self.syn_post[k]
                y1 = self.ytr[0][yj] * float(p.gain[yj])   # per-neuron learning-rate factor
                # the synapse's x2 just before this arrival: the neuron's x2 just before its
                # jump at step s, i.e. at the end of step s - 1 decayed by one step
                x2_before = self._x_seen(q, s - 1, 1, self.syn_pre[k]) * r.px2
                w[k] = r.depress(w[k], y1, x2_before)

        # 3. state recording
        spec = rec.spec
        rel = n - rec.base
        for row in range(spec.srec_var.size):
            every = int(spec.srec_every[row])
            if rel % every == 0:
                var, g = int(spec.srec_var[row]), int(spec.srec_idx[row])
                rec.srec_out[rec.srec_off[row] + rel // every] = self.state_rows[var][g]

        # 4. neurons and inputs
        spikes = [self._neurons(pop, n) for pop in range(self.n_pop)]
        self.history[n] = spikes
        self.history.pop(n - p.R, None)

        # 5. plasticity at this step's spikes: presynaptic side, then postsynaptic side
        for q in range(self.n_prj):
            if not self.plastic[q]:
                continue
            r = self.rules[q]
            xo, yo = int(p.prj_i[q, QI_XOFF]), int(p.prj_i[q, QI_YOFF])
            for i in spikes[int(p.prj_i[q, QI_PRE])]:
                if r.emission:
                    x2_before = self.xtr[1][xo + i]
                    for k in self.out[q][i]:
                        yj = yo + self.syn_post[k]
                        w[k] = r.depress(w[k], self.ytr[0][yj] * float(p.gain[yj]), x2_before)
                _jump(self.xtr[0], xo + i, r.near_x)
                _jump(self.xtr[1], xo + i, r.near_x)
        for q in range(self.n_prj):
            if not self.plastic[q]:
                continue
            r = self.rules[q]
            xo, yo = int(p.prj_i[q, QI_XOFF]), int(p.prj_i[q, QI_YOFF])
            for j in spikes[int(p.prj_i[q, QI_POST])]:
                y2_before = self.ytr[1][yo + j]
                for k in self.inc[q][j]:
                    if r.emission:
                        x1 = self.xtr[0][xo + self.syn_pre[k]]
                    else:   # the neuron's x1 as it was d steps ago
                        x1 = self._x_seen(q, n - self.syn_delay[k], 0, self.syn_pre[k])
                    w[k] = r.potentiate(w[k], x1 * float(p.gain[yo + j]), y2_before)
                _jump(self.ytr[0], yo + j, r.near_y)
                _jump(self.ytr[1], yo + j, r.near_y)

        # the presynaptic traces of this step, for timing='arrival' (R steps kept)
        for q in range(self.n_prj):
            if self.xpast[q] is not None:
                xo, n_pre = int(p.prj_i[q, QI_XOFF]), len(self.out[q])
                self.xpast[q][n] = (self.xtr[0][xo:xo + n_pre], self.xtr[1][xo:xo + n_pre])
                self.xpast[q].pop(n - p.R, None)

        # spikes travel: queue their arrivals
        for q in range(self.n_prj):
            for i in spikes[int(p.prj_i[q, QI_PRE])]:
                self._emit(q, i, n)

        # 6. spike and rate recording
        k = int(rec.spk_n[0])
        for pop in range(self.n_pop):
            lo = int(p.pop_i[pop, PI_OFF])
            for i in spikes[pop]:
                if spec.rec_mask[lo + i] != 0:
                    rec.spk_t[k] = n
                    rec.spk_i[k] = lo + i
                    k += 1
        rec.spk_n[0] = k
        for row in range(spec.rrec_pop.size):
            rec.rrec_out[row, rel] = len(spikes[int(spec.rrec_pop[row])])

    def _neurons(self, pop: int, n: int) -> list:
        """Step 4 for population ``pop``; returns the local indices that spike at step n."""
        p = self.plan
        kind = int(p.pop_i[pop, PI_KIND])
        lo = int(p.pop_i[pop, PI_OFF])
        hi = lo + int(p.pop_i[pop, PI_N])
        fired = []
        if kind == KIND_POISSON:
            for i in range(lo, hi):
                if self.nxt[i] == n:
                    fired.append(i - lo)
                    self.nxt[i] = n + _geometric(self.rng[pop], self.prob[i], self.logq[i])
            return fired
        if kind == KIND_SOURCE:
            ptr, end = self.src_ptr[pop], int(p.pop_i[pop, PI_SRC_HI])
            while ptr < end and p.src_step[ptr] < n:      # times before this run's start
                ptr += 1
            while ptr < end and p.src_step[ptr] == n:
                fired.append(int(p.src_idx[ptr]))
                ptr += 1
            self.src_ptr[pop] = ptr
            return fired
        f = p.pop_f[pop]
        v_rest, v_reset, v_th = float(f[PF_VREST]), float(f[PF_VRESET]), float(f[PF_VTH])
        # b = R_m i_bias: a scalar bias is a population parameter, a per-neuron one is in st
        v_rest_b = v_rest + float(f[PF_BIAS])
        p_m, p_e, p_i = float(f[PF_PM]), float(f[PF_PE]), float(f[PF_PI])
        k_e, k_i = float(f[PF_KE]), float(f[PF_KI])
        e_e, e_i, dt_tau = float(f[PF_EE]), float(f[PF_EI]), float(f[PF_DTTAU])
        c_e, c_i = float(f[PF_CE]), float(f[PF_CI])   # mean of g over a step / g at its start
        frozen = p.pop_i[pop, PI_FROZEN] != 0
        p_theta = 1.0 if frozen else float(f[PF_PTHETA])
        theta_plus = 0.0 if frozen else float(f[PF_THPLUS])
        ref_steps = int(p.pop_i[pop, PI_REF])
        v, ge, gi, theta, ref = self.v, self.ge, self.gi, self.theta, self.ref
        for i in range(lo, hi):
            x_e, x_i = ge[i], gi[i]
            refractory = ref[i] > 0
            if refractory:
                ref[i] -= 1
            elif kind == KIND_CUR:
                v_inf = v_rest_b + self.bias[i]
                v[i] = v_inf + (v[i] - v_inf) * p_m + x_e * k_e + x_i * k_i
            else:
                g_e, g_i = c_e * x_e, c_i * x_i
                G = 1.0 + g_e + g_i
                v_inf = (v_rest_b + self.bias[i] + g_e * e_e + g_i * e_i) / G
                v[i] = v_inf + (v[i] - v_inf) * math.exp(-dt_tau * G)
            ge[i] = x_e * p_e
            gi[i] = x_i * p_i
            theta[i] *= p_theta
            if not refractory and v[i] >= v_th + theta[i]:
                fired.append(i - lo)
                v[i] = v_reset
                ref[i] = ref_steps
                theta[i] += theta_plus
        return fired
