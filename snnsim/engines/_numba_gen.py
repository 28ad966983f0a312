"""The ``numba`` engine's time loop, generated for the neuron models of a network.

For every distinct *variant* among a network's neuron populations -- a model's
:class:`~snnsim.neurons.NeuronKernel` together with which of its parameters are per-neuron
arrays -- this module writes three functions from the model's step functions: the update
loop over a population's neurons (the step functions inlined, spikes flagged branch-free and
non-finite values counted, so that LLVM vectorises it), the reset of the flagged neurons
and the search for a neuron's first non-finite variable.  A dispatch over the populations
and the time loop (``run_loop``; ``run_loop_par`` spreads the update loops over threads)
complete the module, which :func:`snnsim.engines._codegen.load_module` caches on disk.
Everything else a step does (delivery, plasticity, inputs, recording) is in
:mod:`snnsim.engines._numba_kernels`, compiled once for all networks.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from ..neurons import mathfn
from ..plan import PARAM_ROWS
from . import _codegen

__all__ = ["Variant", "variants_of", "build"]

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


def param_table(plan, variants, pvar) -> np.ndarray:
    """float64[P, K]: each neuron population's scalar parameters in its kernel's order, as they
    stand now (``frozen`` follows the population's ``theta_frozen``, kept in the plan's
    ``PI_FROZEN`` column by the builder)."""
    from ..plan import PI_FROZEN
    width = max([len(v.kernel.params) for v in variants] + [1])
    kp = np.zeros((len(plan.models), width))
    for p, j in enumerate(pvar):
        if j < 0:
            continue
        low = plan.lowered[p]
        per = variants[j].per_neuron
        for c, name in enumerate(variants[j].kernel.params):
            if name == "frozen":
                kp[p, c] = float(plan.pop_i[p, PI_FROZEN])
            elif name not in per:
                kp[p, c] = low[name]
    return kp


# --- source generation ---------------------------------------------------------------------

def _variant_source(j: int, v: Variant) -> list[str]:
    k = v.kernel
    owner = f"neuron model {k.name!r}"
    header, funcs = _codegen.copy_functions(
        {f"_upd{j}": k.update, f"_thr{j}": k.threshold, f"_rst{j}": k.reset}, owner, _SUBSTITUTE)
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
    L = ["@nb.njit(**_INNER)",
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
             flag, whead, wlink, err, errv, kp, pvar):
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
        K._phase_arrivals(n, R, pop_i, st, hist, hist_cnt, prj_i, prj_f, delays, seg_ptr,
                          syn_post, w, xtr, ytr, hx, gain, err, errv)
        rel = n - rec_base
        for r in range(n_srec):
            e = srec_every[r]
            if rel % e == 0:
                srec_out[srec_off[r] + rel // e] = st[srec_var[r], srec_idx[r]]
        _phase_neurons{sfx}(n, slot, pop_i, st, ref, nxt, rng, src_step, src_idx, hist,
                            hist_cnt, flag, flag64, whead, wlink, err, errv, kp, pvar)
        if any_plastic:
            K._phase_plasticity(n, slot, R, pop_i, prj_i, prj_f, seg_ptr, syn_pre, syn_post,
                                syn_delay, w, col_ptr, col_syn, hist, hist_cnt, xtr, ytr, hx,
                                gain, err, errv)
        if rec_per_step > 0:
            K._phase_record_spikes(n, slot, pop_i, hist, hist_cnt, rec_mask, spk_t, spk_i,
                                   spk_n)
        for r in range(n_rrec):
            rrec_out[r, rel] = hist_cnt[slot, rrec_pop[r]]
        if err[0] != 0:
            return s + 1
    return n_steps
'''


def source(variants: list[Variant]) -> str:
    """The generated module's text for ``variants``."""
    digest = _codegen.file_digest(*_ENGINE_FILES)
    out = [f'"""numba engine loop for: {", ".join(v.kernel.name for v in variants) or "inputs only"}',
           f"(generated by snnsim.engines._numba_gen; engine files {digest[:16]}, numba "
           f'{numba.__version__})"""',
           "from collections import namedtuple", "import math", "import numba as nb",
           "import numpy as np", "from snnsim.engines import _numba_kernels as K",
           "from snnsim.engines._numba_kernels import ERR_NEURON, _INNER, _JIT",
           "from snnsim.plan import PI_N, PI_OFF, PI_REF, QI_NORM_EVERY, QI_PLASTIC, QI_RULE",
           "_inline = nb.njit(inline='always', error_model='numpy', cache=True)",
           "_PAR = dict(_INNER, parallel=True)", ""]
    for j, v in enumerate(variants):
        out += _variant_source(j, v)
    for sfx in ("", "_par"):
        cases = [_CASE.format(kw="if" if j == 0 else "elif", j=j, sfx=sfx)
                 for j in range(len(variants))]
        dispatch = "\n".join(cases) if cases else "        pass"
        out.append(_PHASE.format(sfx=sfx, dispatch=dispatch))
        out.append(_LOOP.format(sfx=sfx))
    return "\n".join(out) + "\n"


def build(variants: list[Variant]):
    """The compiled-on-first-call module for ``variants`` (from the disk cache if there)."""
    return _codegen.load_module(source(variants), prefix="numba")
