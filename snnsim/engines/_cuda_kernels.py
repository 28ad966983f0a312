"""Device code of the ``cuda`` engine (imported only when that engine is prepared).

One persistent kernel, :func:`step_kernel`, runs many time steps per launch.  Its threads
(one block, or several co-resident blocks) sweep the phases of docs/semantics.md and meet
at a barrier between phases (:func:`_gsync`), so a step costs two to four barriers and no
kernel launch.  The arrays are a :class:`~snnsim.plan.Plan`'s, on the device, with a batch
dimension: ``B`` independent copies of the neuron state share the synapses (``B > 1`` only
with plasticity off).  Global neuron ``g = b * N + i``; spike counters ``hist_cnt[slot,
b * P + p]``.

Phases of step ``n`` (``slot = n % R``):

A. (plastic or normalised networks) trace history and decay; periodic normalisation
   (one thread per postsynaptic neuron); then a barrier.  The spike counters of ``slot``
   are zeroed here in every case.
B. arrivals: a *team* of ``team`` threads (a warp on a GPU) walks the delay segment of one
   spike's CSR row; channel increments are atomic adds; arrival-time depression updates
   the synapse in place (one arrival per synapse and step: no conflicts).
C. neurons (one thread per neuron): state recording (the owning thread, before the
   update), integration, threshold, reset; spike compaction through an atomic counter
   per population.  The spiking neuron's thread also does its presynaptic bookkeeping
   (saves ``x2`` before the jump, jumps ``x1, x2``) and saves ``y2`` before the
   postsynaptic jump; single-delay arrival projections jump their traces here for this
   step's arrivals.  Doing the jumps here (after B's reads, before D and E read) removes
   every read/write race on traces without intra-team barriers.
D. spike and rate recording; emission-time depression (teams over CSR rows, with the
   saved ``x2``); a barrier only if some projection depresses at emission.
E. potentiation (teams over CSC columns, with the saved ``y2``); postsynaptic jumps.

The barrier is a software grid barrier (atomic arrival counter and generation word) that
needs every block resident at once, which the host guarantees by launching at most the
occupancy limit; with one block it is ``syncthreads``.  It avoids cooperative launch (and
its libcudadevrt link step).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, int64, uint32, uint64
from numba.cuda.random import xoroshiro128p_uniform_float64

from ..plan import (KIND_COND, KIND_CUR, KIND_POISSON, KIND_SOURCE, PF_BIAS, PF_CE, PF_CI,
                    PF_DTTAU, PF_EE, PF_EI, PF_KE, PF_KI, PF_PE, PF_PI, PF_PM, PF_PTHETA,
                    PF_THPLUS, PF_VRESET, PF_VREST, PF_VTH, PI_ADAPT, PI_BIASARR, PI_FROZEN,
                    PI_KIND, PI_N, PI_OFF, PI_REF, QF_A2M, QF_A2P, QF_A3M, QF_A3P, QF_MU,
                    QF_MULT, QF_NEARX, QF_NEARY, QF_NORM_TARGET, QF_PX1, QF_PX2, QF_PY1,
                    QF_PY2, QF_WMAX, QF_WMIN, QI_CHAN, QI_COLOFF, QI_DOFF, QI_HOFF, QI_NDEL,
                    QI_NORM_EVERY, QI_ONSTEP, QI_PLASTIC, QI_POST, QI_PRE, QI_RULE, QI_SEGOFF,
                    QI_TMODE, QI_XOFF, QI_YOFF, S_BIAS, S_GE, S_GI, S_LOGQ, S_P, S_THETA, S_V,
                    TM_EMISSION, TM_HET, TM_HOM)

NEVER = 2 ** 62
# ctl words: steps done, spikes recorded (device buffer fill), barrier time-out flag
CTL_DONE, CTL_SPK, CTL_ERR = 0, 1, 2
_SPIN_LIMIT = 1 << 26     # polls of a barrier before giving up (tens of seconds)


# --- small device functions ------------------------------------------------------------------

@cuda.jit(device=True)
def _gsync(bar, nblocks, ctl):
    """Barrier of every thread of the launch (see module notes)."""
    cuda.syncthreads()
    if nblocks > 1:
        if cuda.threadIdx.x == 0:
            gen = cuda.atomic.add(bar, 1, 0)
            cuda.threadfence()
            if cuda.atomic.add(bar, 0, 1) == nblocks - 1:
                cuda.atomic.exch(bar, 0, 0)
                cuda.threadfence()
                cuda.atomic.add(bar, 1, 1)
            else:
                spins = 0
                while cuda.atomic.add(bar, 1, 0) == gen:
                    spins += 1
                    if spins > _SPIN_LIMIT:  # blocks not co-resident: give up, report
                        cuda.atomic.exch(ctl, CTL_ERR, 1)
                        break
            cuda.threadfence()
        cuda.syncthreads()


@cuda.jit(device=True)
def _geometric(states, sidx, prob, logq):
    """Steps to the next spike of a Bernoulli(prob)-per-step process (>= 1)."""
    if prob <= 0.0:
        return int64(NEVER)
    if prob >= 1.0:
        return int64(1)
    u = 1.0 - xoroshiro128p_uniform_float64(states, sidx)     # (0, 1]
    k = 1.0 + math.floor(math.log(u) / logq)
    if k > 4.0e18:
        return int64(NEVER)
    return int64(k)


@cuda.jit(device=True)
def _jump(tr, k, nearest):
    if nearest:
        tr[0, k] = 1.0
        tr[1, k] = 1.0
    else:
        tr[0, k] += 1.0
        tr[1, k] += 1.0


@cuda.jit(device=True)
def _ltd(w, y1, x2b, a2m, a3m, wmin, wmax, mult, mu):
    dw = y1 * (a2m + a3m * x2b)
    if mult:
        base = max(w - wmin, 0.0)
        dw *= base if mu == 1.0 else base ** mu
    return min(max(w - dw, wmin), wmax)


@cuda.jit(device=True)
def _ltp(w, x1, y2b, a2p, a3p, wmin, wmax, mult, mu):
    dw = x1 * (a2p + a3p * y2b)
    if mult:
        base = max(wmax - w, 0.0)
        dw *= base if mu == 1.0 else base ** mu
    return min(max(w + dw, wmin), wmax)


@cuda.jit(device=True)
def _on_spike(p, li, prj_i, prj_f, xtr, ytr, x2s, y2s):
    """Plasticity bookkeeping of a spike of neuron li of population p (phase C, its own
    thread): presynaptic traces jump now (x2 saved before the jump for emission-time
    depression); y2 saved for potentiation (the postsynaptic jump comes in phase E)."""
    for q in range(prj_i.shape[0]):
        if prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0:
            continue
        if prj_i[q, QI_PRE] == p and prj_i[q, QI_TMODE] != TM_HOM:
            xi = prj_i[q, QI_XOFF] + li
            x2s[xi] = xtr[1, xi]
            _jump(xtr, xi, prj_f[q, QF_NEARX] != 0.0)
        if prj_i[q, QI_POST] == p:
            yj = prj_i[q, QI_YOFF] + li
            y2s[yj] = ytr[1, yj]


_GOLDEN = 0x9E3779B97F4A7C15


@cuda.jit(device=True)
def _splitmix64(z):
    z = (z ^ (z >> uint32(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint32(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint32(31))


@cuda.jit(cache=True)
def init_states(states, seed):
    """Seed xoroshiro128+ generator ``i`` with two SplitMix64 outputs of the counters
    ``2 i + 1`` and ``2 i + 2`` after ``seed`` (independent streams without the host-side
    jump-ahead of ``create_xoroshiro128p_states``, which costs ~1 us per generator)."""
    for i in range(cuda.grid(1), states.shape[0], cuda.gridsize(1)):
        base = uint64(seed) + uint64(2 * i + 1) * uint64(_GOLDEN)
        s0 = _splitmix64(base)
        s1 = _splitmix64(base + uint64(_GOLDEN))
        if s0 == uint64(0) and s1 == uint64(0):
            s1 = uint64(1)
        states[i]["s0"] = s0
        states[i]["s1"] = s1


# --- phases ------------------------------------------------------------------------------------

@cuda.jit(device=True)
def _phase_traces(n, R, gtid, gsize, pop_i, prj_i, prj_f, w, col_ptr, col_syn, xtr, ytr, hx):
    for q in range(prj_i.shape[0]):
        rule = prj_i[q, QI_RULE] != 0
        plastic = rule and prj_i[q, QI_PLASTIC] != 0
        npost = pop_i[prj_i[q, QI_POST], PI_N]
        if plastic:
            npre = pop_i[prj_i[q, QI_PRE], PI_N]
            xo = prj_i[q, QI_XOFF]
            yo = prj_i[q, QI_YOFF]
            use_x2 = prj_f[q, QF_A3M] != 0.0
            use_y2 = prj_f[q, QF_A3P] != 0.0
            het = prj_i[q, QI_TMODE] == TM_HET
            hb = prj_i[q, QI_HOFF] + ((n - 1) % R) * npre
            px1 = prj_f[q, QF_PX1]
            px2 = prj_f[q, QF_PX2]
            for i in range(gtid, npre, gsize):
                x1 = xtr[0, xo + i]
                if het:
                    hx[0, hb + i] = x1
                xtr[0, xo + i] = x1 * px1
                if use_x2:
                    x2 = xtr[1, xo + i]
                    if het:
                        hx[1, hb + i] = x2
                    xtr[1, xo + i] = x2 * px2
            py1 = prj_f[q, QF_PY1]
            py2 = prj_f[q, QF_PY2]
            for j in range(gtid, npost, gsize):
                ytr[0, yo + j] *= py1
                if use_y2:
                    ytr[1, yo + j] *= py2
        every = prj_i[q, QI_NORM_EVERY]
        if every > 0 and n % every == 0 and (not rule or plastic):
            target = prj_f[q, QF_NORM_TARGET]
            co = prj_i[q, QI_COLOFF]
            for j in range(gtid, npost, gsize):
                c0 = col_ptr[co + j]
                c1 = col_ptr[co + j + 1]
                s = 0.0
                for c in range(c0, c1):
                    s += w[col_syn[c]]
                f = target / s if s > 0.0 else 1.0
                for c in range(c0, c1):
                    w[col_syn[c]] *= f


@cuda.jit(device=True)
def _phase_arrivals(n, R, B, N, P, tid, nteams, lane, team, pop_i, prj_i, prj_f, delays,
                    seg_ptr, syn_post, w, st, hist, hist_cnt, xtr, ytr, hx, gain):
    # teams are shared out among the copies: with fewer copies than teams, several teams
    # (``nsub``) share one copy's spikes; with more, each team walks whole copies
    if B >= nteams:
        b0, bstep, sub, nsub = tid, nteams, 0, 1
    else:
        nsub = nteams // B
        b0 = tid // nsub
        bstep = B
        sub = tid - b0 * nsub
    for b in range(b0, B, bstep):
        rot = 0
        for q in range(prj_i.shape[0]):
            pre = prj_i[q, QI_PRE]
            post = prj_i[q, QI_POST]
            poff = b * N + pop_i[pre, PI_OFF]
            npre = pop_i[pre, PI_N]
            qoff = b * N + pop_i[post, PI_OFF]
            row = S_GE + prj_i[q, QI_CHAN]
            doff = prj_i[q, QI_DOFF]
            segoff = prj_i[q, QI_SEGOFF]
            mode = prj_i[q, QI_TMODE]
            ltd_here = (prj_i[q, QI_RULE] != 0 and prj_i[q, QI_PLASTIC] != 0
                        and mode != TM_EMISSION)
            het = mode == TM_HET
            xo = prj_i[q, QI_XOFF]
            yo = prj_i[q, QI_YOFF]
            a2m = prj_f[q, QF_A2M]
            a3m = prj_f[q, QF_A3M]
            wmin = prj_f[q, QF_WMIN]
            wmax = prj_f[q, QF_WMAX]
            mult = prj_f[q, QF_MULT] != 0.0
            mu = prj_f[q, QF_MU]
            px2 = prj_f[q, QF_PX2]
            for di in range(prj_i[q, QI_NDEL]):
                d = delays[doff + di]
                src = (n - d) % R
                c = hist_cnt[src, b * P + pre]
                if c == 0:
                    continue
                base = segoff + di * npre
                do_ltd = ltd_here and n - d >= prj_i[q, QI_ONSTEP]
                hb = prj_i[q, QI_HOFF] + ((n - d - 1) % R) * npre
                for m in range((sub - rot) % nsub, c, nsub):
                    i = hist[src, poff + m]
                    k0 = seg_ptr[base + i]
                    k1 = seg_ptr[base + i + 1]
                    if do_ltd:
                        # x2 of this synapse just before the arrival
                        x2b = hx[1, hb + i] * px2 if het else xtr[1, xo + i]
                        for k in range(k0 + lane, k1, team):
                            j = syn_post[k]
                            wk = w[k]
                            cuda.atomic.add(st, (row, qoff + j), wk)
                            w[k] = _ltd(wk, ytr[0, yo + j] * gain[yo + j], x2b, a2m, a3m,
                                        wmin, wmax, mult, mu)
                    else:
                        for k in range(k0 + lane, k1, team):
                            cuda.atomic.add(st, (row, qoff + syn_post[k]), w[k])
                rot += c


@cuda.jit(device=True)
def _phase_neurons(n, slot, R, B, N, P, npois, gtid, gsize, plast, rel, nsrec, pop_i, pop_f, st,
                   ref, nxt, states, pois_off, src_step, src_idx, src_hi, src_ptr, hist,
                   hist_cnt, prj_i, prj_f, delays, xtr, ytr, x2s, y2s, srec_nptr, srec_order,
                   srec_var, srec_every, srec_off, srec_out, cnt):
    for p in range(P):
        kind = pop_i[p, PI_KIND]
        lo = pop_i[p, PI_OFF]
        npop = pop_i[p, PI_N]
        tot = B * npop
        if kind == KIND_CUR or kind == KIND_COND:
            f_vrest = pop_f[p, PF_VREST] + pop_f[p, PF_BIAS]
            vth = pop_f[p, PF_VTH]
            vreset = pop_f[p, PF_VRESET]
            pm = pop_f[p, PF_PM]
            pe = pop_f[p, PF_PE]
            pi_ = pop_f[p, PF_PI]
            ke = pop_f[p, PF_KE]
            ki = pop_f[p, PF_KI]
            ee = pop_f[p, PF_EE]
            ei = pop_f[p, PF_EI]
            dttau = pop_f[p, PF_DTTAU]
            ce = pop_f[p, PF_CE]
            ci = pop_f[p, PF_CI]
            frz = pop_i[p, PI_FROZEN]
            pth = frz + (1 - frz) * pop_f[p, PF_PTHETA]
            thplus = pop_f[p, PF_THPLUS] * (1 - frz)
            rsteps = pop_i[p, PI_REF]
            general = (pop_i[p, PI_ADAPT] + pop_i[p, PI_BIASARR]) != 0
            cond = kind == KIND_COND
            for t in range(gtid, tot, gsize):
                b = t // npop
                li = t - b * npop
                g = b * N + lo + li
                if nsrec > 0:  # state recording: value at n dt, before the update
                    for rr in range(srec_nptr[g], srec_nptr[g + 1]):
                        r = srec_order[rr]
                        e = srec_every[r]
                        if rel % e == 0:
                            srec_out[srec_off[r] + rel // e] = st[srec_var[r], g]
                r0 = ref[g]
                vi = st[S_V, g]
                gei = st[S_GE, g]
                gii = st[S_GI, g]
                vinf = f_vrest
                th = 0.0
                if general:
                    vinf = f_vrest + st[S_BIAS, g]
                    th = st[S_THETA, g] * pth
                if cond:
                    gea = gei * ce
                    gia = gii * ci
                    gs = 1.0 + gea + gia
                    vinf = (vinf + gea * ee + gia * ei) / gs
                    vn = vinf + (vi - vinf) * math.exp(-dttau * gs)
                else:
                    vn = vinf + (vi - vinf) * pm + gei * ke + gii * ki
                st[S_GE, g] = gei * pe
                st[S_GI, g] = gii * pi_
                if r0 == 0 and vn >= vth + th:
                    st[S_V, g] = vreset
                    ref[g] = rsteps
                    if general:
                        st[S_THETA, g] = th + thplus
                    pos = cuda.atomic.add(hist_cnt, (slot, b * P + p), 1)
                    hist[slot, b * N + lo + pos] = li
                    cnt[g] += 1
                    if plast:
                        _on_spike(p, li, prj_i, prj_f, xtr, ytr, x2s, y2s)
                else:
                    if r0 == 0:
                        st[S_V, g] = vn
                    else:
                        ref[g] = r0 - 1
                    if general:
                        st[S_THETA, g] = th
        elif kind == KIND_POISSON:
            po = pois_off[p]
            for t in range(gtid, tot, gsize):
                b = t // npop
                li = t - b * npop
                g = b * N + lo + li
                if nxt[g] == n:
                    pos = cuda.atomic.add(hist_cnt, (slot, b * P + p), 1)
                    hist[slot, b * N + lo + pos] = li
                    cnt[g] += 1
                    nxt[g] = n + _geometric(states, b * npois + po + li, st[S_P, g],
                                            st[S_LOGQ, g])
                    if plast:
                        _on_spike(p, li, prj_i, prj_f, xtr, ytr, x2s, y2s)
        else:  # KIND_SOURCE: one thread per copy walks the sorted event list
            for b in range(gtid, B, gsize):
                bp = b * P + p
                ptr = src_ptr[bp]
                end = src_hi[bp]
                while ptr < end and src_step[ptr] < n:
                    ptr += 1
                c = 0
                while ptr < end and src_step[ptr] == n:
                    li = src_idx[ptr]
                    hist[slot, b * N + lo + c] = li
                    cnt[b * N + lo + li] += 1
                    c += 1
                    ptr += 1
                    if plast:
                        _on_spike(p, li, prj_i, prj_f, xtr, ytr, x2s, y2s)
                hist_cnt[slot, bp] = c
                src_ptr[bp] = ptr
    if plast:
        # single-delay arrival projections: the presynaptic traces jump at arrival (after
        # phase B read them for depression)
        for q in range(prj_i.shape[0]):
            if (prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0
                    or prj_i[q, QI_TMODE] != TM_HOM or prj_i[q, QI_NDEL] == 0):
                continue
            d = delays[prj_i[q, QI_DOFF]]
            if n - d < prj_i[q, QI_ONSTEP]:
                continue
            pre = prj_i[q, QI_PRE]
            src = (n - d) % R
            poff = pop_i[pre, PI_OFF]
            xo = prj_i[q, QI_XOFF]
            nearx = prj_f[q, QF_NEARX] != 0.0
            for m in range(gtid, hist_cnt[src, pre], gsize):
                _jump(xtr, xo + hist[src, poff + m], nearx)


@cuda.jit(device=True)
def _phase_record(slot, B, N, P, gtid, gsize, rel, rel_launch, rps, nrrec, pop_i, hist, hist_cnt,
                  rec_mask, spk_t, spk_i, ctl, rrec_pop, rrec_out):
    if rps > 0 and B == 1:      # threads share out each population's spikes
        for p in range(P):
            lo = pop_i[p, PI_OFF]
            for m in range(gtid, hist_cnt[slot, p], gsize):
                g = lo + hist[slot, lo + m]
                if rec_mask[g] != 0:
                    k = cuda.atomic.add(ctl, CTL_SPK, 1)
                    spk_t[k] = rel_launch
                    spk_i[k] = g
    elif rps > 0:               # threads share out the (copy, population) pairs
        for bp in range(gtid, B * P, gsize):
            b = bp // P
            lo = b * N + pop_i[bp - b * P, PI_OFF]
            for m in range(hist_cnt[slot, bp]):
                g = lo + hist[slot, lo + m]
                if rec_mask[g] != 0:
                    k = cuda.atomic.add(ctl, CTL_SPK, 1)
                    spk_t[k] = rel_launch
                    spk_i[k] = g
    for r in range(gtid, nrrec, gsize):
        rrec_out[r, rel] = hist_cnt[slot, rrec_pop[r]]


@cuda.jit(device=True)
def _phase_pre(slot, tid, nteams, lane, team, pop_i, prj_i, prj_f, seg_ptr, syn_post, w, hist,
               hist_cnt, ytr, x2s, gain):
    """Emission-time depression along the whole CSR row of every presynaptic spike."""
    rot = 0
    for q in range(prj_i.shape[0]):
        if (prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0
                or prj_i[q, QI_TMODE] != TM_EMISSION):
            continue
        pre = prj_i[q, QI_PRE]
        c = hist_cnt[slot, pre]
        if c == 0:
            continue
        poff = pop_i[pre, PI_OFF]
        npre = pop_i[pre, PI_N]
        xo = prj_i[q, QI_XOFF]
        yo = prj_i[q, QI_YOFF]
        a2m = prj_f[q, QF_A2M]
        a3m = prj_f[q, QF_A3M]
        wmin = prj_f[q, QF_WMIN]
        wmax = prj_f[q, QF_WMAX]
        mult = prj_f[q, QF_MULT] != 0.0
        mu = prj_f[q, QF_MU]
        segoff = prj_i[q, QI_SEGOFF]
        ndel = prj_i[q, QI_NDEL]
        for m in range((tid - rot) % nteams, c, nteams):
            i = hist[slot, poff + m]
            x2b = x2s[xo + i]
            for di in range(ndel):
                base = segoff + di * npre
                for k in range(seg_ptr[base + i] + lane, seg_ptr[base + i + 1], team):
                    j = syn_post[k]
                    w[k] = _ltd(w[k], ytr[0, yo + j] * gain[yo + j], x2b, a2m, a3m, wmin, wmax,
                                mult, mu)
        rot += c


@cuda.jit(device=True)
def _phase_post(n, slot, R, gtid, gsize, tid, nteams, lane, team, pop_i, prj_i, prj_f, syn_pre,
                syn_delay, w, col_ptr, col_syn, hist, hist_cnt, xtr, ytr, hx, y2s, gain):
    """Potentiation along the CSC column of every postsynaptic spike; postsynaptic jumps."""
    rot = 0
    for q in range(prj_i.shape[0]):
        if prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0:
            continue
        post = prj_i[q, QI_POST]
        c = hist_cnt[slot, post]
        if c == 0:
            continue
        qoff = pop_i[post, PI_OFF]
        npre = pop_i[prj_i[q, QI_PRE], PI_N]
        xo = prj_i[q, QI_XOFF]
        yo = prj_i[q, QI_YOFF]
        hoff = prj_i[q, QI_HOFF]
        coloff = prj_i[q, QI_COLOFF]
        het = prj_i[q, QI_TMODE] == TM_HET
        a2p = prj_f[q, QF_A2P]
        a3p = prj_f[q, QF_A3P]
        wmin = prj_f[q, QF_WMIN]
        wmax = prj_f[q, QF_WMAX]
        mult = prj_f[q, QF_MULT] != 0.0
        mu = prj_f[q, QF_MU]
        for m in range((tid - rot) % nteams, c, nteams):
            j = hist[slot, qoff + m]
            y2b = y2s[yo + j]
            gj = gain[yo + j]
            for cc in range(col_ptr[coloff + j] + lane, col_ptr[coloff + j + 1], team):
                k = col_syn[cc]
                i = syn_pre[k]
                if het:
                    x1 = hx[0, hoff + ((n - syn_delay[k]) % R) * npre + i]
                else:
                    x1 = xtr[0, xo + i]
                w[k] = _ltp(w[k], x1 * gj, y2b, a2p, a3p, wmin, wmax, mult, mu)
        rot += c
        # the jumps do not race with the potentiation above: it reads y2 from y2s
        neary = prj_f[q, QF_NEARY] != 0.0
        for m in range(gtid, c, gsize):
            _jump(ytr, yo + hist[slot, qoff + m], neary)


# --- the persistent kernel ------------------------------------------------------------------

@cuda.jit(cache=True)
def step_kernel(n0, n_steps, R, B, N, P, npois, team, nblocks, plast, emis, norm, rps, cap,
                rec_base, nsrec, nrrec, redraw, pop_i, pop_f, st, ref, nxt, states, pois_off, src_step,
                src_idx, src_hi, src_ptr, hist, hist_cnt, prj_i, prj_f, delays, seg_ptr, syn_pre,
                syn_post, syn_delay, w, col_ptr, col_syn, xtr, ytr, hx, gain, x2s, y2s, rec_mask,
                spk_t, spk_i, srec_nptr, srec_order, srec_var, srec_every, srec_off, srec_out,
                rrec_pop, rrec_out, cnt, bar, ctl):
    """Advance ``n_steps`` steps from ``n0``; ``ctl[CTL_DONE]`` receives the steps done
    (fewer when the spike buffer could overflow in the next step)."""
    gtid = cuda.grid(1)
    gsize = cuda.gridsize(1)
    tid = gtid // team
    lane = gtid - tid * team
    nteams = gsize // team
    # Poisson populations whose rates changed: redraw every pending spike (memoryless)
    any_redraw = False
    for p in range(P):
        if redraw[p] != 0:
            any_redraw = True
            lo = pop_i[p, PI_OFF]
            npop = pop_i[p, PI_N]
            po = pois_off[p]
            for t in range(gtid, B * npop, gsize):
                b = t // npop
                li = t - b * npop
                g = b * N + lo + li
                nxt[g] = n0 - 1 + _geometric(states, b * npois + po + li, st[S_P, g],
                                             st[S_LOGQ, g])
    if any_redraw:
        _gsync(bar, nblocks, ctl)
    plast_or_norm = plast or norm
    done = n_steps
    for s in range(n_steps):
        n = n0 + s
        slot = n % R
        rel = n - rec_base
        # A. traces, normalisation; spike counters of this slot
        for x in range(gtid, B * P, gsize):
            hist_cnt[slot, x] = 0
        if plast_or_norm:
            _phase_traces(n, R, gtid, gsize, pop_i, prj_i, prj_f, w, col_ptr, col_syn, xtr, ytr,
                          hx)
            _gsync(bar, nblocks, ctl)
        # B. arrivals
        _phase_arrivals(n, R, B, N, P, tid, nteams, lane, team, pop_i, prj_i, prj_f, delays,
                        seg_ptr, syn_post, w, st, hist, hist_cnt, xtr, ytr, hx, gain)
        _gsync(bar, nblocks, ctl)
        # room for the next step's spikes? (the counter is not written in this phase)
        full = rps > 0 and ctl[CTL_SPK] + 2 * rps > cap
        # C. neurons and inputs
        _phase_neurons(n, slot, R, B, N, P, npois, gtid, gsize, plast, rel, nsrec, pop_i,
                       pop_f, st, ref, nxt, states, pois_off, src_step, src_idx, src_hi,
                       src_ptr, hist, hist_cnt, prj_i, prj_f, delays, xtr, ytr, x2s, y2s,
                       srec_nptr, srec_order, srec_var, srec_every, srec_off, srec_out, cnt)
        _gsync(bar, nblocks, ctl)
        # D. recording; emission-time depression
        _phase_record(slot, B, N, P, gtid, gsize, rel, s, rps, nrrec, pop_i, hist, hist_cnt, rec_mask,
                      spk_t, spk_i, ctl, rrec_pop, rrec_out)
        if emis:
            _phase_pre(slot, tid, nteams, lane, team, pop_i, prj_i, prj_f, seg_ptr, syn_post, w,
                       hist, hist_cnt, ytr, x2s, gain)
            _gsync(bar, nblocks, ctl)
        # E. potentiation
        if plast:
            _phase_post(n, slot, R, gtid, gsize, tid, nteams, lane, team, pop_i, prj_i, prj_f,
                        syn_pre, syn_delay, w, col_ptr, col_syn, hist, hist_cnt, xtr, ytr, hx,
                        y2s, gain)
        if plast_or_norm:
            _gsync(bar, nblocks, ctl)
        if full or ctl[CTL_ERR] != 0:
            done = s + 1
            break
    if gtid == 0:
        ctl[CTL_DONE] = done


@cuda.jit(cache=True)
def normalize_kernel(w, col_ptr, col_syn, coloff, npost, target):
    """Scale each postsynaptic neuron's incoming weights (one CSC column per thread) to sum
    to ``target``; columns summing to 0 are left alone."""
    for j in range(cuda.grid(1), npost, cuda.gridsize(1)):
        c0 = col_ptr[coloff + j]
        c1 = col_ptr[coloff + j + 1]
        s = 0.0
        for c in range(c0, c1):
            s += w[col_syn[c]]
        f = target / s if s > 0.0 else 1.0
        for c in range(c0, c1):
            w[col_syn[c]] *= f
