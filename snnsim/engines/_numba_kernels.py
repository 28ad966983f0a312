"""Numba kernels of the ``numba`` engine: the phases of a step that do not depend on the
neuron models (the time loop and the neuron updates are generated for the models of a network
by :mod:`snnsim.engines._numba_gen`).

The kernels take the flat arrays of a :class:`~snnsim.plan.Plan` (column layouts are
the constants of :mod:`snnsim.plan`) and update them in place.  One step ``n`` (time
``t = n dt``) does, in this order:

1. plastic projections: store last step's presynaptic traces in the history ring, decay
   all traces by one step; automatic weight normalisation if due;
2. arrivals (generated): every spike emitted at step ``n - d`` walks the part of its CSR
   row whose delay is ``d`` and adds each weight to the target's channel (then, for plastic
   projections with ``timing='arrival'``, applies the rule's depression);
3. state recording (values at time ``t``, after arrivals);
4. neuron update from ``t`` to ``t + dt`` by each model's step functions (generated),
   threshold, reset; inputs emit their spikes;
5. plasticity at this step's spikes (generated from the rules' weight updates): presynaptic
   side first (emission-time depression, trace jumps), then postsynaptic side (potentiation
   walking the CSC column);
6. spike and rate recording.

Only spiking neurons' rows and columns are walked; per step the cost is O(neurons +
spikes x fan-out).

Non-finite state: the neuron update counts the neurons whose new v or theta is NaN or
infinite (an infinite or NaN channel, or an overflowing bias, makes the new v so), which
costs a subtraction, a compare and an add per neuron in the vectorised loop.  Only when the
count is non-zero is the population scanned for the first neuron whose state is not finite
(channels first, then v, then theta); the reset checks theta after its jump, and the plastic
weight updates check for a NaN weight (weights are clipped to finite bounds, so only NaN
gets through).  The time loop then returns at the end of that step, and
:class:`~snnsim.engines.numba_cpu.NumbaSimulation` raises
:class:`~snnsim.errors.NonFiniteStateError`.  (The neuron side of this check is generated
with the update loops; see :mod:`snnsim.engines._numba_gen`.)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..plan import (KIND_POISSON, PI_KIND, PI_N, PI_OFF, PI_REDRAW, PI_SRC_HI, PI_SRC_PTR, QF_A3M,
                    QF_A3P, QF_NORM_TARGET, QF_PX1, QF_PX2, QF_PY1, QF_PY2, QI_HOFF,
                    QI_NORM_EVERY, QI_NSYN, QI_PLASTIC, QI_POST, QI_PRE, QI_RULE, QI_SOFF,
                    QI_TMODE, QI_XOFF, QI_YOFF, S_LOGQ, S_P, TM_HET)
from ._fastmath import prefetch

_JIT = dict(cache=True, error_model="numpy", nogil=True)
_INNER = dict(_JIT, no_cpython_wrapper=True)  # called from compiled code only
# Called in every step of the generated loop: inlined at Numba IR level.  A generated module
# compiled in a later process than these functions would otherwise link their cached object
# code and call them (LLVM cannot inline object code): ~0.3-0.5 us per step on a network of
# one neuron and 1000 inputs (Song et al. 2000), half of its step time.
_STEP = dict(_INNER, inline="always")
_NEVER = np.int64(2 ** 62)


# --- random numbers: xoshiro256** per population ----------------------------------------

@nb.njit(**_STEP)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@nb.njit(**_STEP)
def _next_u64(rng, p):
    s0 = rng[p, 0]
    s1 = rng[p, 1]
    s2 = rng[p, 2]
    s3 = rng[p, 3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    rng[p, 0] = s0
    rng[p, 1] = s1
    rng[p, 2] = s2
    rng[p, 3] = s3
    return result


@nb.njit(**_STEP)
def _uniform_open0(rng, p):
    """Uniform double in (0, 1]."""
    return 1.0 - np.float64(_next_u64(rng, p) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(**_STEP)
def _geometric(rng, p, prob, logq):
    """Steps to the next spike of a Bernoulli(prob)-per-step process (>= 1)."""
    if prob <= 0.0:
        return _NEVER
    if prob >= 1.0:
        return np.int64(1)
    k = 1.0 + math.floor(math.log(_uniform_open0(rng, p)) / logq)
    if k > 4.0e18:
        return _NEVER
    return np.int64(k)


# --- helpers callable from Python -----------------------------------------------------------

@nb.njit(**_JIT)
def normalize_columns(w, syn_post, s0, s1, n_post, target):
    """Scale each postsynaptic neuron's incoming weights (synapses s0..s1) to sum to ``target``;
    neurons whose weights sum to 0 are left alone.  Two linear passes over the synapses.

    Where ``target / sum`` overflows (a sum of subnormal weights), that neuron's weights are
    divided by the sum first, so normalising never makes a finite weight infinite."""
    f = np.zeros(n_post)
    for k in range(s0, s1):
        f[syn_post[k]] += w[k]
    tiny = False
    for j in range(n_post):
        sj = f[j]
        f[j] = target / sj if sj > 0.0 else 1.0
        if f[j] == np.inf:
            f[j] = -sj  # marks "divide by sj", below
            tiny = True
    if not tiny:
        for k in range(s0, s1):
            w[k] *= f[syn_post[k]]
    else:
        for k in range(s0, s1):
            fj = f[syn_post[k]]
            w[k] = w[k] * fj if fj >= 0.0 else w[k] / -fj * target


WHEEL = 1024  # buckets of the Poisson timing wheel (a power of two)
_WMASK = WHEEL - 1


@nb.njit(**_JIT)
def build_wheels(pop_i, nxt, whead, wlink):
    """Put every Poisson neuron with a pending spike into its timing-wheel bucket."""
    for p in range(pop_i.shape[0]):
        if pop_i[p, PI_KIND] != KIND_POISSON:
            continue
        for b in range(WHEEL):
            whead[p, b] = -1
        lo = pop_i[p, PI_OFF]
        for i in range(lo + pop_i[p, PI_N] - 1, lo - 1, -1):
            if nxt[i] < _NEVER:
                b = nxt[i] & _WMASK
                wlink[i] = whead[p, b]
                whead[p, b] = i


@nb.njit(**_JIT)
def redraw_poisson(pop_i, st, nxt, rng, n0):
    """Draw every Poisson neuron's next spike step afresh, counted from step ``n0``."""
    for p in range(pop_i.shape[0]):
        if pop_i[p, PI_KIND] == KIND_POISSON and pop_i[p, PI_REDRAW] != 0:
            lo = pop_i[p, PI_OFF]
            for i in range(lo, lo + pop_i[p, PI_N]):
                nxt[i] = n0 - 1 + _geometric(rng, p, st[S_P, i], st[S_LOGQ, i])
            pop_i[p, PI_REDRAW] = 0


_PD = 2  # prefetch the synapse rows of the spike this many places ahead


@nb.njit(**_STEP)
def _prefetch_row(seg_ptr, r, syn_post, w):
    a = seg_ptr[r]
    b = seg_ptr[r + 1]
    for k in range(a, b, 16):
        prefetch(syn_post, k)
    for k in range(a, b, 8):
        prefetch(w, k)


@nb.njit(**_STEP)
def _jump(tr, k, nearest):
    if nearest:
        tr[0, k] = 1.0
        tr[1, k] = 1.0
    else:
        tr[0, k] += 1.0
        tr[1, k] += 1.0


# --- the phases of one step -------------------------------------------------------------------

@nb.njit(**_STEP)
def _phase_traces(n, R, pop_i, prj_i, prj_f, w, syn_post, xtr, ytr, hx):
    """Store last step's presynaptic traces in the history ring (only projections with several
    delays and arrival timing need it), decay traces; normalise weights if due."""
    for q in range(prj_i.shape[0]):
        if prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0:
            continue
        npre = pop_i[prj_i[q, QI_PRE], PI_N]
        npost = pop_i[prj_i[q, QI_POST], PI_N]
        xo = prj_i[q, QI_XOFF]
        yo = prj_i[q, QI_YOFF]
        use_x2 = prj_f[q, QF_A3M] != 0.0
        use_y2 = prj_f[q, QF_A3P] != 0.0
        if prj_i[q, QI_TMODE] == TM_HET:
            hb = prj_i[q, QI_HOFF] + ((n - 1) % R) * npre
            for i in range(npre):
                hx[0, hb + i] = xtr[0, xo + i]
            if use_x2:
                for i in range(npre):
                    hx[1, hb + i] = xtr[1, xo + i]
        px1 = prj_f[q, QF_PX1]
        for i in range(npre):
            xtr[0, xo + i] *= px1
        if use_x2:
            px2 = prj_f[q, QF_PX2]
            for i in range(npre):
                xtr[1, xo + i] *= px2
        py1 = prj_f[q, QF_PY1]
        for j in range(npost):
            ytr[0, yo + j] *= py1
        if use_y2:
            py2 = prj_f[q, QF_PY2]
            for j in range(npost):
                ytr[1, yo + j] *= py2
    for q in range(prj_i.shape[0]):
        every = prj_i[q, QI_NORM_EVERY]
        # paused with the projection's plasticity (a projection without a rule is always on)
        if every > 0 and n % every == 0 and (prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] != 0):
            s0 = prj_i[q, QI_SOFF]
            normalize_columns(w, syn_post, s0, s0 + prj_i[q, QI_NSYN],
                              pop_i[prj_i[q, QI_POST], PI_N], prj_f[q, QF_NORM_TARGET])


# --- non-finite state: the first one is noted in err (int64[5]) and errv (float64[1]) -------
# err = [kind, population or projection, global neuron or synapse index, state row, step];
# kind 0: none yet, ERR_NEURON: a neuron's state row, ERR_WEIGHT: a plastic weight (row -1).
ERR_NEURON, ERR_WEIGHT = 1, 2


@nb.njit(**_STEP)
def _note_weight(err, errv, n, q, k, w):
    """Note plastic weight k of projection q, non-finite after an update at step n."""
    if err[0] != 0:
        return
    err[0] = ERR_WEIGHT
    err[1] = q
    err[2] = k
    err[3] = -1
    err[4] = n
    errv[0] = w[k]


@nb.njit(**_STEP)
def _input_spikes(n, slot, p, pop_i, st, nxt, rng, src_step, src_idx, hist, whead, wlink):
    """Spikes of input population p at step n into the history ring. Returns count.

    Poisson neurons wait in a timing wheel: bucket ``s % WHEEL`` lists the neurons whose
    next spike is at a step ``s`` with that remainder, so a step only visits about
    n / WHEEL neurons.  Spiking neurons are sorted by index before new waiting times are
    drawn, so the random stream is consumed in neuron order."""
    lo = pop_i[p, PI_OFF]
    cnt = 0
    if pop_i[p, PI_KIND] == KIND_POISSON:
        b = n & _WMASK
        i = whead[p, b]
        prev = -1
        while i >= 0:
            nx = wlink[i]
            if nxt[i] == n:
                if prev < 0:
                    whead[p, b] = nx
                else:
                    wlink[prev] = nx
                hist[slot, lo + cnt] = i - lo
                cnt += 1
            else:
                prev = i
            i = nx
        for a in range(1, cnt):  # insertion sort: a handful of spikes per step
            x = hist[slot, lo + a]
            k = a - 1
            while k >= 0 and hist[slot, lo + k] > x:
                hist[slot, lo + k + 1] = hist[slot, lo + k]
                k -= 1
            hist[slot, lo + k + 1] = x
        for m in range(cnt):
            i = lo + hist[slot, lo + m]
            t = n + _geometric(rng, p, st[S_P, i], st[S_LOGQ, i])
            nxt[i] = t
            if t < _NEVER:
                bb = t & _WMASK
                wlink[i] = whead[p, bb]
                whead[p, bb] = i
    else:
        ptr = pop_i[p, PI_SRC_PTR]
        end = pop_i[p, PI_SRC_HI]
        while ptr < end and src_step[ptr] < n:
            ptr += 1
        while ptr < end and src_step[ptr] == n:
            hist[slot, lo + cnt] = src_idx[ptr]
            cnt += 1
            ptr += 1
        pop_i[p, PI_SRC_PTR] = ptr
    return cnt


@nb.njit(**_STEP)
def _phase_record_spikes(n, slot, pop_i, hist, hist_cnt, rec_mask, spk_t, spk_i, spk_n):
    k = spk_n[0]
    for p in range(pop_i.shape[0]):
        c = hist_cnt[slot, p]
        lo = pop_i[p, PI_OFF]
        for m in range(c):
            g = lo + hist[slot, lo + m]
            if rec_mask[g] != 0:
                spk_t[k] = n
                spk_i[k] = g
                k += 1
    spk_n[0] = k
