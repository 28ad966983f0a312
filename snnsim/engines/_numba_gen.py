"""The ``numba`` engine's time loop, generated for the neuron models of a network.

For every distinct *variant* among a network's neuron populations -- a model's
:class:`~snnsim.neurons.NeuronKernel` together with which of its parameters are per-neuron
arrays -- this module writes three functions from the model's step functions: the update
loop over a population's neurons (the step functions inlined, spikes flagged branch-free and
non-finite values counted, so that LLVM vectorises it), the reset of the flagged neurons
and the search for a neuron's first non-finite variable.  A dispatch over the populations
and the time loop (``run_loop``; ``run_loop_par`` spreads the update loops over threads)
complete the module, which :func:`snnsim.engines._codegen.load_module` caches on disk.
Delivery and plasticity are generated too, from each plasticity rule's weight updates
(:class:`~snnsim.plasticity.RuleKernel`).  The rest of a step (trace decay, inputs,
recording) is in :mod:`snnsim.engines._numba_kernels`, inlined at Numba IR level.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from ..neurons import mathfn
from ..plan import PARAM_ROWS
from . import _codegen

__all__ = ["Variant", "variants_of", "rules_of", "param_table", "rule_table", "source", "build"]

_HERE = Path(__file__).parent
_ENGINE_FILES = (_HERE / "_numba_kernels.py", _HERE / "_fastmath.py", Path(__file__))
_SUBSTITUTE = {mathfn.vexp: "from snnsim.engines._fastmath import vexp as {name}"}


class Variant:
    """A neuron kernel with the set of its parameters that are per-neuron arrays."""

    def __init__(self, kernel, per_neuron: tuple[str, ...], rows: dict):
        self.kernel = kernel
        self.per_neuron = per_neuron
        self.rows = tuple(rows[name] for name in kernel.state)  # rows of st, in state order
        for name in per_neuron:
            if name not in PARAM_ROWS:
                raise _unsupported(kernel, f"per-neuron parameter {name!r}")

    @property
    def key(self):
        k = self.kernel
        return (k.name, k.update, k.threshold, k.reset, k.state, k.params, k.hold, k.count,
                self.per_neuron, self.rows)


def _unsupported(kernel, what: str):
    from ..errors import UnsupportedModelError
    return UnsupportedModelError(
        f"neuron model {kernel.name!r}: {what} cannot vary between neurons on the numba engine "
        f"(per-neuron parameters: {', '.join(PARAM_ROWS)}); give it one value per population")


def variants_of(plan) -> tuple[list[Variant], np.ndarray]:
    """The distinct variants of ``plan``'s neuron populations, and each population's index
    into them (-1: an input population)."""
    found: dict = {}
    out: list[Variant] = []
    pvar = np.full(len(plan.models), -1, dtype=np.int64)
    for p, low in enumerate(plan.lowered):
        if low is None:
            continue
        kern = plan.models[p].kernel()
        per = tuple(n for n in kern.params if np.ndim(low[n]) != 0)
        v = Variant(kern, per, plan.rows)
        if v.key not in found:
            found[v.key] = len(out)
            out.append(v)
        pvar[p] = found[v.key]
    return out, pvar


def rules_of(plan) -> tuple[list, np.ndarray]:
    """The distinct rule kernels of ``plan``'s plastic projections and each projection's index
    into them (-1: no rule)."""
    kernels: list = []
    qvar = np.full(len(plan.rules), -1, dtype=np.int64)
    for q, rule in enumerate(plan.rules):
        if rule is None:
            continue
        k = rule.kernel()
        if k not in kernels:
            kernels.append(k)
        qvar[q] = kernels.index(k)
    return kernels, qvar


def rule_table(plan, rules, qvar) -> np.ndarray:
    """float64[Q, K]: each plastic projection's rule parameters in its kernel's order."""
    width = max([len(k.params) for k in rules] + [1])
    kq = np.zeros((len(plan.rules), width))
    for q, j in enumerate(qvar):
        if j >= 0:
            low = plan.rule_lowered[q]
            for c, name in enumerate(rules[j].params):
                kq[q, c] = low[name]
    return kq


def param_table(plan, variants, pvar) -> np.ndarray:
    """float64[P, K]: each neuron population's scalar parameters in its kernel's order, as they
    stand now (``Plan.set_frozen`` keeps ``frozen`` current)."""
    width = max([len(v.kernel.params) for v in variants] + [1])
    kp = np.zeros((len(plan.models), width))
    for p, j in enumerate(pvar):
        if j < 0:
            continue
        low = plan.lowered[p]
        per = variants[j].per_neuron
        for c, name in enumerate(variants[j].kernel.params):
            if name not in per:
                kp[p, c] = low[name]
    return kp


# --- source generation ---------------------------------------------------------------------

def _variant_source(j: int, v: Variant) -> list[str]:
    k = v.kernel
    owner = f"neuron model {k.name!r}"
    header, funcs = _codegen.copy_functions(
        {f"_upd{j}": k.update, f"_thr{j}": k.threshold, f"_rst{j}": k.reset}, owner, _SUBSTITUTE,
        prefix=f"n{j}")
    S = k.state
    rows = v.rows
    pn = v.per_neuron
    lines = header + [""] + funcs + [""]
    lines.append(f"_P{j} = namedtuple('_P{j}', {list(k.params)!r})")

    def params_scalars(ind: str, prow: str) -> list[str]:
        return [f"{ind}q{c} = kp[{prow}, {c}]" for c, name in enumerate(k.params) if name not in pn]

    def ptuple(idx: str) -> str:
        args = [f"pn{pn.index(name)}[{idx}]" if name in pn else f"q{c}"
                for c, name in enumerate(k.params)]
        return f"_P{j}({', '.join(args)})"

    a = [f"a{c}" for c in range(len(S))]
    b = [f"b{c}" for c in range(len(S))]
    for par in (False, True):
        suffix, loop, deco = ("_par", "nb.prange", "_PAR") if par else ("", "range", "_INNER")
        L = [f"@nb.njit(**{deco})", f"def _update{j}{suffix}(st, ref, flag, lo, hi, kp, p):",
             "    ref = ref[lo:hi]", "    flag = flag[lo:hi]"]
        L += [f"    s{c} = st[{r}, lo:hi]" for c, r in enumerate(rows)]
        L += [f"    pn{c} = st[{PARAM_ROWS[name]}, lo:hi]" for c, name in enumerate(pn)]
        L += params_scalars("    ", "p")
        pt = ptuple("i")
        if not pn:
            L.append(f"    pp = {pt}")
        L += ["    nbad = 0", f"    for i in {loop}(hi - lo):", "        r = ref[i]"]
        L += [f"        {a[c]} = s{c}[i]" for c in range(len(S))]
        if pn:
            L.append(f"        pp = {pt}")
        L.append(f"        {', '.join(b)}, = _upd{j}({', '.join(a)}, pp)")
        L.append(f"        fired = _thr{j}({', '.join(b)}, pp)")
        for c, s in enumerate(S):
            L.append(f"        s{c}[i] = {b[c]} if r == 0 else {a[c]}" if s in k.hold
                     else f"        s{c}[i] = {b[c]}")
        L += ["        ref[i] = r - 1 if r > 0 else 0", "        flag[i] = (r == 0) & fired"]
        cnt = " + ".join(f"({b[S.index(s)]} - {b[S.index(s)]})" for s in k.count)
        L += [f"        nbad += {cnt} != 0.0", "    return nbad", ""]
        lines += L
    # the first non-finite variable of neuron i (global index), noted in err
    L = ["@nb.njit(**_INNER)", f"def _note{j}(err, errv, n, p, i, st):", "    if err[0] != 0:",
         "        return"]
    for s in k.note_order():
        r = rows[S.index(s)]
        L += [f"    x = st[{r}, i]", "    if x - x != 0.0:", "        err[0] = ERR_NEURON",
              "        err[1] = p", "        err[2] = i", f"        err[3] = {r}",
              "        err[4] = n", "        errv[0] = x", "        return"]
    lines += L + [""]
    # reset of the flagged neurons; returns their count
    L = ["@nb.njit(**_STEP)",
         f"def _reset{j}(n, slot, p, pop_i, st, ref, hist, flag, flag64, kp, err, errv):",
         "    lo = pop_i[p, PI_OFF]", "    hi = lo + pop_i[p, PI_N]",
         "    rsteps = pop_i[p, PI_REF]"]
    L += [f"    s{c} = st[{r}]" for c, r in enumerate(rows)]
    L += [f"    pn{c} = st[{PARAM_ROWS[name]}]" for c, name in enumerate(pn)]
    L += params_scalars("    ", "p")
    L += ["    cnt = 0", "    i = lo", "    while i < hi:",
          "        if (i & 7) == 0 and i + 8 <= hi and flag64[i >> 3] == 0:",
          "            i += 8", "            continue", "        if flag[i] != 0:",
          "            hist[slot, lo + cnt] = i - lo", "            cnt += 1",
          f"            {', '.join(b)}, = _rst{j}({', '.join(f's{c}[i]' for c in range(len(S)))}, "
          f"{ptuple('i')})"]
    L += [f"            s{c}[i] = {b[c]}" for c in range(len(S))]
    L.append("            ref[i] = rsteps")
    bad = " + ".join(f"({b[c]} - {b[c]})" for c in range(len(S)))
    L += [f"            if {bad} != 0.0:", f"                _note{j}(err, errv, n, p, i, st)",
          "        i += 1", "    return cnt", ""]
    return lines + L


def _rule_source(j: int, k) -> list[str]:
    """Per-synapse loops of rule kernel ``k``: depression at arrival (with transmission), at
    emission, and potentiation at a postsynaptic spike, for one projection ``q``."""
    header, funcs = _codegen.copy_functions({f"_dep{j}": k.depress, f"_pot{j}": k.potentiate},
                                            f"plasticity rule {k.name!r}", _SUBSTITUTE,
                                            prefix=f"r{j}")
    pt = f"_R{j}({', '.join(f'kq[q, {c}]' for c in range(len(k.params)))})"
    return header + [""] + funcs + ["", f"_R{j} = namedtuple('_R{j}', {list(k.params)!r})",
                                    _RULE_LOOPS.format(j=j, pt=pt)]


_RULE_LOOPS = '''
@nb.njit(**_STEP)
def _arrive{j}(n, R, q, d, c, src, poff, npre, qoff, base, tgt, hist, prj_i, prj_f, seg_ptr,
               syn_post, w, xtr, ytr, hx, gain, err, errv, kq):
    """Transmit the spikes of step n - d and depress (timing='arrival')."""
    pp = {pt}
    yo = prj_i[q, QI_YOFF]
    hb = prj_i[q, QI_HOFF] + ((n - d - 1) % R) * npre
    px2 = prj_f[q, QF_PX2]
    het = prj_i[q, QI_TMODE] == TM_HET
    xo = prj_i[q, QI_XOFF]
    nearx = prj_f[q, QF_NEARX] != 0.0
    y1 = ytr[0]
    for m in range(c):
        if m + K._PD < c:
            K._prefetch_row(seg_ptr, base + hist[src, poff + m + K._PD], syn_post, w)
        i = hist[src, poff + m]
        # x2 of this synapse just before the arrival
        x2b = hx[1, hb + i] * px2 if het else xtr[1, xo + i]
        for k in range(seg_ptr[base + i], seg_ptr[base + i + 1]):
            jj = syn_post[k]
            wk = w[k]
            tgt[qoff + jj] += wk
            wn = _dep{j}(wk, y1[yo + jj] * gain[yo + jj], x2b, pp)
            w[k] = wn
            if wn != wn:  # NaN passes the clip (0 * inf in the product)
                K._note_weight(err, errv, n, q, k, w)
        if not het:  # one delay: the neuron's traces jump at arrival
            K._jump(xtr, xo + i, nearx)


@nb.njit(**_STEP)
def _emit{j}(n, q, c, slot, poff, npre, pop_i, prj_i, prj_f, seg_ptr, syn_post, w, hist, xtr,
             ytr, gain, err, errv, kq):
    """The presynaptic side at this step's spikes: depression at emission, trace jumps."""
    pp = {pt}
    xo = prj_i[q, QI_XOFF]
    nearx = prj_f[q, QF_NEARX] != 0.0
    emission = prj_i[q, QI_TMODE] == TM_EMISSION
    yo = prj_i[q, QI_YOFF]
    segoff = prj_i[q, QI_SEGOFF]
    for m in range(c):
        i = hist[slot, poff + m]
        if emission:
            x2b = xtr[1, xo + i]
            for di in range(prj_i[q, QI_NDEL]):
                base = segoff + di * npre
                for k in range(seg_ptr[base + i], seg_ptr[base + i + 1]):
                    jj = syn_post[k]
                    wn = _dep{j}(w[k], ytr[0, yo + jj] * gain[yo + jj], x2b, pp)
                    w[k] = wn
                    if wn != wn:
                        K._note_weight(err, errv, n, q, k, w)
        K._jump(xtr, xo + i, nearx)


@nb.njit(**_STEP)
def _post{j}(n, R, q, c, slot, qoff, npre, prj_i, prj_f, syn_pre, syn_delay, w, col_ptr,
             col_syn, hist, xtr, ytr, hx, gain, err, errv, kq):
    """The postsynaptic side at this step's spikes: potentiation walking the CSC column."""
    pp = {pt}
    xo = prj_i[q, QI_XOFF]
    yo = prj_i[q, QI_YOFF]
    hoff = prj_i[q, QI_HOFF]
    coloff = prj_i[q, QI_COLOFF]
    neary = prj_f[q, QF_NEARY] != 0.0
    het = prj_i[q, QI_TMODE] == TM_HET
    for m in range(c):
        jj = hist[slot, qoff + m]
        y2b = ytr[1, yo + jj]
        gj = gain[yo + jj]
        for cc in range(col_ptr[coloff + jj], col_ptr[coloff + jj + 1]):
            k = col_syn[cc]
            i = syn_pre[k]
            if het:
                x1 = hx[0, hoff + ((n - syn_delay[k]) % R) * npre + i]
            else:
                x1 = xtr[0, xo + i]
            wn = _pot{j}(w[k], x1 * gj, y2b, pp)
            w[k] = wn
            if wn != wn:
                K._note_weight(err, errv, n, q, k, w)
        K._jump(ytr, yo + jj, neary)
'''

_ARRIVALS = '''
@nb.njit(**_INNER)
def _phase_arrivals(n, R, pop_i, st, hist, hist_cnt, prj_i, prj_f, delays, seg_ptr, syn_post, w,
                    xtr, ytr, hx, gain, err, errv, kq, qvar):
    """Deliver every spike whose delay ends at step n (and apply arrival-time depression)."""
    for q in range(prj_i.shape[0]):
        pre = prj_i[q, QI_PRE]
        poff = pop_i[pre, PI_OFF]
        npre = pop_i[pre, PI_N]
        qoff = pop_i[prj_i[q, QI_POST], PI_OFF]
        tgt = st[S_GE + prj_i[q, QI_CHAN]]
        doff = prj_i[q, QI_DOFF]
        segoff = prj_i[q, QI_SEGOFF]
        ltd_here = (prj_i[q, QI_RULE] != 0 and prj_i[q, QI_PLASTIC] != 0
                    and prj_i[q, QI_TMODE] != TM_EMISSION)
        for di in range(prj_i[q, QI_NDEL]):
            d = delays[doff + di]
            src = (n - d) % R
            c = hist_cnt[src, pre]
            if c == 0:
                continue
            base = segoff + di * npre
            # only spikes emitted while plasticity was on take part in it
            if not ltd_here or n - d < prj_i[q, QI_ONSTEP]:
                for m in range(c):
                    if m + K._PD < c:
                        K._prefetch_row(seg_ptr, base + hist[src, poff + m + K._PD], syn_post, w)
                    i = hist[src, poff + m]
                    for k in range(seg_ptr[base + i], seg_ptr[base + i + 1]):
                        tgt[qoff + syn_post[k]] += w[k]
            else:
                j = qvar[q]
{arrive}
'''

_PLASTICITY = '''
@nb.njit(**_INNER)
def _phase_plasticity(n, slot, R, pop_i, prj_i, prj_f, seg_ptr, syn_pre, syn_post, syn_delay, w,
                      col_ptr, col_syn, hist, hist_cnt, xtr, ytr, hx, gain, err, errv, kq, qvar):
    """STDP at this step's spikes: presynaptic side first, then postsynaptic side."""
    Q = prj_i.shape[0]
    for q in range(Q):
        if prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0:
            continue
        pre = prj_i[q, QI_PRE]
        c = hist_cnt[slot, pre]
        if c == 0 or prj_i[q, QI_TMODE] == TM_HOM:  # (TM_HOM: traces jumped at arrival)
            continue
        poff = pop_i[pre, PI_OFF]
        npre = pop_i[pre, PI_N]
        j = qvar[q]
{emit}
    for q in range(Q):
        if prj_i[q, QI_RULE] == 0 or prj_i[q, QI_PLASTIC] == 0:
            continue
        post = prj_i[q, QI_POST]
        c = hist_cnt[slot, post]
        if c == 0:
            continue
        qoff = pop_i[post, PI_OFF]
        npre = pop_i[prj_i[q, QI_PRE], PI_N]
        j = qvar[q]
{post}
'''


def _rule_dispatch(n_rules: int, ind: str, call: str) -> str:
    if not n_rules:
        return f"{ind}pass"
    return "\n".join(f"{ind}{'if' if j == 0 else 'elif'} j == {j}:\n{ind}    {call.format(j=j)}"
                     for j in range(n_rules))


_PHASE = '''
@nb.njit(**_INNER)
def _phase_neurons{sfx}(n, slot, pop_i, st, ref, nxt, rng, src_step, src_idx, hist, hist_cnt,
                        flag, flag64, whead, wlink, err, errv, kp, pvar):
    """Integrate neurons from n*dt to (n+1)*dt, threshold and reset; inputs emit spikes."""
    for p in range(pop_i.shape[0]):
        j = pvar[p]
        if j < 0:
            hist_cnt[slot, p] = K._input_spikes(n, slot, p, pop_i, st, nxt, rng, src_step,
                                                src_idx, hist, whead, wlink)
            continue
        lo = pop_i[p, PI_OFF]
        hi = lo + pop_i[p, PI_N]
{dispatch}
'''

_CASE = '''        {kw} j == {j}:
            nbad = _update{j}{sfx}(st, ref, flag, lo, hi, kp, p)
            if nbad != 0:  # cold path: note the first neuron whose state is not finite
                for i in range(lo, hi):
                    _note{j}(err, errv, n, p, i, st)
                    if err[0] != 0:
                        break
            hist_cnt[slot, p] = _reset{j}(n, slot, p, pop_i, st, ref, hist, flag, flag64, kp,
                                          err, errv)'''

_LOOP = '''
@nb.njit(**_JIT)
def run_loop{sfx}(n0, n_steps, R, pop_i, st, ref, nxt, rng, src_step, src_idx, hist, hist_cnt,
             prj_i, prj_f, delays, seg_ptr, syn_pre, syn_post, syn_delay, w, col_ptr, col_syn,
             xtr, ytr, hx, gain, rec_mask, rec_per_step, spk_t, spk_i, spk_n,
             srec_var, srec_idx, srec_every, srec_off, srec_out, rrec_pop, rrec_out, rec_base,
             flag, whead, wlink, err, errv, kp, pvar, kq, qvar):
    """Advance the network by ``n_steps`` steps from step ``n0``; returns the steps done.

    Returns early (fewer steps) when the spike-recording buffer could overflow in the next
    step (the caller grows it and calls again), and after the step in which the first
    non-finite neuron state or plastic weight was produced, noted in ``err``/``errv`` (the
    caller clears ``err[0]`` before the call).  That step is completed (plasticity,
    recording), so the plan is consistent at its end.
    """
    K.redraw_poisson(pop_i, st, nxt, rng, n0)
    K.build_wheels(pop_i, nxt, whead, wlink)
    flag64 = flag.view(np.uint64)
    cap = spk_t.shape[0]
    n_srec = srec_var.shape[0]
    n_rrec = rrec_pop.shape[0]
    any_plastic = False
    any_norm = False
    for q in range(prj_i.shape[0]):
        if prj_i[q, QI_RULE] != 0 and prj_i[q, QI_PLASTIC] != 0:
            any_plastic = True
        if prj_i[q, QI_NORM_EVERY] > 0:
            any_norm = True
    for s in range(n_steps):
        if spk_n[0] + rec_per_step > cap:
            return s
        n = n0 + s
        slot = n % R
        if any_plastic or any_norm:
            K._phase_traces(n, R, pop_i, prj_i, prj_f, w, syn_post, xtr, ytr, hx)
        _phase_arrivals(n, R, pop_i, st, hist, hist_cnt, prj_i, prj_f, delays, seg_ptr,
                        syn_post, w, xtr, ytr, hx, gain, err, errv, kq, qvar)
        rel = n - rec_base
        for r in range(n_srec):
            e = srec_every[r]
            if rel % e == 0:
                srec_out[srec_off[r] + rel // e] = st[srec_var[r], srec_idx[r]]
        _phase_neurons{sfx}(n, slot, pop_i, st, ref, nxt, rng, src_step, src_idx, hist,
                            hist_cnt, flag, flag64, whead, wlink, err, errv, kp, pvar)
        if any_plastic:
            _phase_plasticity(n, slot, R, pop_i, prj_i, prj_f, seg_ptr, syn_pre, syn_post,
                              syn_delay, w, col_ptr, col_syn, hist, hist_cnt, xtr, ytr, hx,
                              gain, err, errv, kq, qvar)
        if rec_per_step > 0:
            K._phase_record_spikes(n, slot, pop_i, hist, hist_cnt, rec_mask, spk_t, spk_i,
                                   spk_n)
        for r in range(n_rrec):
            rrec_out[r, rel] = hist_cnt[slot, rrec_pop[r]]
        if err[0] != 0:
            return s + 1
    return n_steps
'''


def source(variants: list[Variant], rules: list = ()) -> str:
    """The generated module's text for the neuron ``variants`` and plasticity ``rules``."""
    digest = _codegen.file_digest(*_ENGINE_FILES)
    out = [f'"""numba engine loop for: {", ".join(v.kernel.name for v in variants) or "inputs only"}',
           f"(generated by snnsim.engines._numba_gen; engine files {digest[:16]}, numba "
           f'{numba.__version__})"""',
           "from collections import namedtuple", "import math", "import numba as nb",
           "import numpy as np", "from snnsim.engines import _numba_kernels as K",
           "from snnsim.engines._numba_kernels import ERR_NEURON, _INNER, _JIT, _STEP",
           "from snnsim.plan import (PI_N, PI_OFF, PI_REF, QF_NEARX, QF_NEARY, QF_PX2, QI_CHAN,",
           "                         QI_COLOFF, QI_DOFF, QI_HOFF, QI_NDEL, QI_NORM_EVERY, QI_ONSTEP,",
           "                         QI_PLASTIC, QI_POST, QI_PRE, QI_RULE, QI_SEGOFF, QI_TMODE,",
           "                         QI_XOFF, QI_YOFF, S_GE, TM_EMISSION, TM_HET, TM_HOM)",
           "_inline = nb.njit(inline='always', error_model='numpy', cache=True)",
           "_PAR = dict(_INNER, parallel=True)", ""]
    for j, v in enumerate(variants):
        out += _variant_source(j, v)
    for j, k in enumerate(rules):
        out += _rule_source(j, k)
    n = len(rules)
    out.append(_ARRIVALS.format(arrive=_rule_dispatch(n, " " * 16, (
        "_arrive{j}(n, R, q, d, c, src, poff, npre, qoff, base, tgt, hist, prj_i, prj_f, "
        "seg_ptr, syn_post, w, xtr, ytr, hx, gain, err, errv, kq)"))))
    out.append(_PLASTICITY.format(
        emit=_rule_dispatch(n, " " * 8, (
            "_emit{j}(n, q, c, slot, poff, npre, pop_i, prj_i, prj_f, seg_ptr, syn_post, w, "
            "hist, xtr, ytr, gain, err, errv, kq)")),
        post=_rule_dispatch(n, " " * 8, (
            "_post{j}(n, R, q, c, slot, qoff, npre, prj_i, prj_f, syn_pre, syn_delay, w, "
            "col_ptr, col_syn, hist, xtr, ytr, hx, gain, err, errv, kq)"))))
    for sfx in ("", "_par"):
        cases = [_CASE.format(kw="if" if j == 0 else "elif", j=j, sfx=sfx)
                 for j in range(len(variants))]
        dispatch = "\n".join(cases) if cases else "        pass"
        out.append(_PHASE.format(sfx=sfx, dispatch=dispatch))
        out.append(_LOOP.format(sfx=sfx))
    return "\n".join(out) + "\n"


def build(variants: list[Variant], rules: list = ()):
    """The compiled-on-first-call module for the neuron ``variants`` and plasticity ``rules``
    (from the disk cache if it is there)."""
    return _codegen.load_module(source(variants, rules), prefix="numba")
