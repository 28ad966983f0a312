"""Lowering a :class:`~snnsim.network.Network` to a flat :class:`Plan`.

The plan is the only contract between the builder and the engines: NumPy arrays of
state, parameters, CSR/CSC synapse indices, delays and plasticity parameters.  Engines
read it, and the ``numba`` engine updates it in place; populations and projections hold
views into its arrays, so their state and weights are always those of the plan.

Layouts
-------
Neurons of all populations are concatenated; population ``p`` owns global indices
``pop_i[p, PI_OFF] ... + pop_i[p, PI_N]``.  Synapses of all projections are concatenated;
within a projection they are sorted by (delay, pre, post), and ``seg_ptr`` gives, for
delay index ``di`` and presynaptic neuron ``i``, the global synapse range
``seg_ptr[segoff + di * n_pre + i] : seg_ptr[segoff + di * n_pre + i + 1]``.
``col_ptr``/``col_syn`` are the CSC index (synapses by postsynaptic neuron).

State at the boundary before step ``n`` (every engine starts a run from it and leaves it so,
which is what lets a run continue on another engine):

* ``hist``: slot ``s % R`` holds the local indices of the spikes of step ``s`` (count in
  ``hist_cnt``), for the last ``R - 1`` steps: the spikes still in flight;
* ``xtr``: the presynaptic neurons' own traces at the end of step ``n - 1``; for a projection
  with ``timing='arrival'`` and a single delay ``d`` (``TM_HOM``), the neurons' traces at the
  end of step ``n - 1 - d`` (the traces seen through the delay);
* ``hx`` (``TM_HET``: arrival timing, several delays): slot ``s % R`` holds ``x`` at the end of
  step ``s``, for ``s = n - R ... n - 2``;
* ``ytr``: the postsynaptic neurons' own traces at the end of step ``n - 1``;
* row 1 of ``xtr``/``hx``/``ytr`` (``x2``, ``y2``) is maintained only where the rule's
  ``A3-``/``A3+`` is non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Plan", "build_plan", "check_builtin_neurons"]

# population kinds (KIND_USER: a neuron model outside the LIF family; its parameters are only
# in ``Plan.lowered``)
KIND_CUR, KIND_COND, KIND_POISSON, KIND_SOURCE, KIND_USER = 0, 1, 2, 3, 4
# pop_i columns
(PI_KIND, PI_OFF, PI_N, PI_REF, PI_SRC_LO, PI_SRC_HI, PI_SRC_PTR, PI_REDRAW, PI_FROZEN,
 PI_ADAPT, PI_BIASARR) = range(11)
N_PI = 11
# pop_f columns
(PF_VREST, PF_VRESET, PF_VTH, PF_PM, PF_PE, PF_PI, PF_KE, PF_KI, PF_EE, PF_EI, PF_DTTAU,
 PF_THPLUS, PF_PTHETA, PF_BIAS, PF_CE, PF_CI) = range(16)
N_PF = 16
# rows of the float state st
S_V, S_GE, S_GI, S_THETA, S_BIAS, S_P, S_LOGQ = range(7)
N_S = 7
# prj_i columns
(QI_PRE, QI_POST, QI_CHAN, QI_SOFF, QI_NSYN, QI_DOFF, QI_NDEL, QI_SEGOFF, QI_COLOFF, QI_RULE,
 QI_PLASTIC, QI_XOFF, QI_YOFF, QI_HOFF, QI_NORM_EVERY, QI_TMODE, QI_ONSTEP) = range(17)
N_QI = 17
# timing modes of plastic projections: arrival with several delays (presynaptic trace history
# ring needed), emission, arrival with a single delay (traces jump at arrival, no history)
TM_HET, TM_EMISSION, TM_HOM = 0, 1, 2
# prj_f columns
(QF_A2P, QF_A3P, QF_A2M, QF_A3M, QF_PX1, QF_PX2, QF_PY1, QF_PY2, QF_NEARX, QF_NEARY, QF_WMIN,
 QF_WMAX, QF_MULT, QF_MU, QF_NORM_TARGET) = range(15)
N_QF = 15

STATE_ROWS = {"v": S_V, "g_e": S_GE, "g_i": S_GI, "i_e": S_GE, "i_i": S_GI, "theta": S_THETA}
CHANNELS = (("i_e", "i_i"), ("g_e", "g_i"))  # the two receptor channels, current or conductance


def extra_state(models) -> list[str]:
    """State variable names of ``models``' kernels beyond the standard rows, sorted: they get
    rows ``N_S, N_S + 1, ...`` of ``st``."""
    from .neurons import NeuronModel
    names = set()
    for m in models:
        if isinstance(m, NeuronModel):
            names.update(s for s in m.kernel().state if s not in STATE_ROWS)
    return sorted(names)


@dataclass
class Plan:
    """Flat arrays describing a network and holding its state (see module docstring)."""

    dt: float
    R: int                      # depth of the spike-history ring (max delay + 2)
    step: np.ndarray            # int64[1]: the next step to simulate
    pop_i: np.ndarray           # int64[P, N_PI]
    pop_f: np.ndarray           # float64[P, N_PF]
    st: np.ndarray              # float64[N_S, N]
    ref: np.ndarray             # int32[N]: refractory steps left
    nxt: np.ndarray             # int64[N]: step of a Poisson neuron's next spike
    rng: np.ndarray             # uint64[P, 4]
    src_step: np.ndarray        # int64[E]
    src_idx: np.ndarray         # int64[E] (local neuron index)
    hist: np.ndarray            # int64[R, N]
    hist_cnt: np.ndarray        # int64[R, P]
    prj_i: np.ndarray           # int64[Q, N_QI]
    prj_f: np.ndarray           # float64[Q, N_QF]
    delays: np.ndarray          # int64[...]: distinct delays (steps) per projection
    seg_ptr: np.ndarray         # int64[...]
    syn_pre: np.ndarray         # int32[S] (local)
    syn_post: np.ndarray        # int32[S] (local)
    syn_delay: np.ndarray       # int32[S] (steps)
    w: np.ndarray               # float64[S]
    col_ptr: np.ndarray         # int64[...]
    col_syn: np.ndarray         # int64[S] (global synapse index)
    xtr: np.ndarray             # float64[2, X]: presynaptic traces x1, x2
    ytr: np.ndarray             # float64[2, Y]: postsynaptic traces y1, y2
    hx: np.ndarray              # float64[2, H]: history ring of presynaptic traces
    gain: np.ndarray            # float64[Y]: per-postsynaptic-neuron learning-rate factor
    flag: np.ndarray            # uint8[N rounded up to a multiple of 8] scratch
    models: list = field(default_factory=list)   # each population's model record
    lowered: list = field(default_factory=list)  # its lowered parameters by name (None: input)
    rules: list = field(default_factory=list)    # each projection's plasticity rule (or None)
    rule_lowered: list = field(default_factory=list)  # its kernel_params(dt) (or None)
    pop_names: list[str] = field(default_factory=list)
    prj_names: list[str] = field(default_factory=list)
    version: int = 0            # bumped whenever host code changes arrays an engine may cache
    rows: dict = field(default_factory=lambda: dict(STATE_ROWS))  # state variable -> row of st

    @property
    def n_neurons(self) -> int:
        return int(self.st.shape[1])

    @property
    def n_synapses(self) -> int:
        return int(self.w.shape[0])

    @property
    def t(self) -> float:
        return float(self.step[0]) * self.dt

    def set_frozen(self, p: int, frozen: bool) -> None:
        """Freeze or release population ``p``'s adaptive threshold, in the flat column and in
        its lowered parameters (``frozen``), the two places engines read it from."""
        self.pop_i[p, PI_FROZEN] = int(frozen)
        low = self.lowered[p] if p < len(self.lowered) else None
        if low is not None and "frozen" in low:
            low["frozen"] = float(bool(frozen))
        self.version += 1


# pop_f column of each lowered parameter of a LIF-family population (the flat layout that the
# engines other than numba still read; the numba engine reads the lowered dict by name)
_PF_OF = {"v_rest": PF_VREST, "v_reset": PF_VRESET, "v_th": PF_VTH, "pm": PF_PM, "pe": PF_PE,
          "pi": PF_PI, "ke": PF_KE, "ki": PF_KI, "e_e": PF_EE, "e_i": PF_EI, "dttau": PF_DTTAU,
          "theta_plus": PF_THPLUS, "p_theta": PF_PTHETA, "ce": PF_CE, "ci": PF_CI}
# rows of st holding each state variable and per-neuron parameter by name
PARAM_ROWS = {"bias": S_BIAS}


def _neuron_params(model, dt: float, low: dict | None = None) -> tuple[int, list[float], int]:
    """Kernel parameters of a LIF-type population: (kind, pop_f row, refractory steps),
    packed from the model's own lowering ``low`` (:meth:`~snnsim.neurons.LIF.lower`, computed
    here if not given)."""
    from .synapses import Conductance

    low = model.lower(dt) if low is None else low
    row = [0.0] * N_PF
    for name, col in _PF_OF.items():
        if name in low and not np.ndim(low[name]):
            row[col] = low[name]
    from .neurons.lif import LIF
    if not isinstance(model, LIF):  # a model of its own: only the numba engine reads it
        return KIND_USER, row, int(low["ref_steps"])
    kind = KIND_COND if isinstance(model.synapses, Conductance) else KIND_CUR
    return kind, row, int(low["ref_steps"])


def check_builtin_rules(plan: "Plan", engine: str) -> None:
    """As :func:`check_builtin_neurons`, for plasticity rules outside the triplet family."""
    from .errors import UnsupportedModelError
    from .plasticity import BUILTIN_RULE_KERNELS

    for q, rule in enumerate(plan.rules):
        if rule is not None and rule.kernel() not in BUILTIN_RULE_KERNELS:
            raise UnsupportedModelError(
                f"engine {engine!r} cannot run plasticity rule {rule.kernel().name!r} "
                f"({type(rule).__name__}) of projection {plan.prj_names[q]!r}: it implements "
                f"only the triplet STDP family; run it with engine='numba'")


def check_builtin_neurons(plan: "Plan", engine: str) -> None:
    """Refuse neuron models outside the LIF family on an engine that implements that family by
    hand (``reference``, ``brian2``, ``cuda`` for now): a model with its own step functions
    runs on ``numba``.  Raises :class:`~snnsim.errors.UnsupportedModelError`."""
    from .errors import UnsupportedModelError
    from .neurons.lif import BUILTIN_KERNELS

    for p, model in enumerate(plan.models):
        if plan.lowered[p] is None:
            continue
        kern = model.kernel()
        if kern not in BUILTIN_KERNELS:
            raise UnsupportedModelError(
                f"engine {engine!r} cannot run neuron model {kern.name!r} "
                f"({type(model).__name__}) of population {plan.pop_names[p]!r}: it implements "
                f"only the built-in LIF and AdaptiveLIF step; run it with engine='numba'")


def build_plan(net) -> Plan:
    """Lower ``net`` (a :class:`~snnsim.network.Network`) into a new :class:`Plan`.

    State is taken from the populations' and projections' current arrays (their views into
    an older plan, or their initial values), so rebuilding after adding objects keeps all
    state.  Afterwards the populations and projections are re-pointed at the new arrays.
    """
    from .inputs import PoissonInput, SpikeSource

    dt = net.dt
    pops = net.populations
    prjs = net.projections
    P, Q = len(pops), len(prjs)
    offs = np.zeros(P + 1, dtype=np.int64)
    for p, pop in enumerate(pops):
        offs[p + 1] = offs[p] + pop.n
    N = int(offs[-1])
    max_delay = max((int(pr._delay.max()) for pr in prjs if pr._delay.size), default=1)
    R = max(max_delay, 1) + 2

    pop_i = np.zeros((P, N_PI), dtype=np.int64)
    pop_f = np.zeros((P, N_PF))
    extra = extra_state(p.model for p in pops)
    rows = dict(STATE_ROWS, **{name: N_S + k for k, name in enumerate(extra)})
    st = np.zeros((N_S + len(extra), N))
    ref = np.zeros(N, dtype=np.int32)
    nxt = np.zeros(N, dtype=np.int64)
    rng = np.zeros((P, 4), dtype=np.uint64)
    src_steps, src_idx = [], []
    lowered: list = []
    e_off = 0
    for p, pop in enumerate(pops):
        lo, hi = int(offs[p]), int(offs[p + 1])
        pop_i[p, PI_OFF] = lo
        pop_i[p, PI_N] = pop.n
        m = pop.model
        lowered.append(None if isinstance(m, (PoissonInput, SpikeSource)) else m.lower(dt))
        if isinstance(m, PoissonInput):
            pop_i[p, PI_KIND] = KIND_POISSON
            pop_i[p, PI_REDRAW] = 1
        elif isinstance(m, SpikeSource):
            pop_i[p, PI_KIND] = KIND_SOURCE
            steps, idx = pop._source_events(dt)
            src_steps.append(steps)
            src_idx.append(idx)
            pop_i[p, PI_SRC_LO] = e_off
            pop_i[p, PI_SRC_HI] = e_off + steps.size
            e_off += steps.size
        else:
            kind, row, ref_steps = _neuron_params(m, dt, lowered[-1])
            pop_i[p, PI_KIND] = kind
            pop_i[p, PI_REF] = ref_steps
            pop_i[p, PI_ADAPT] = int(getattr(m, "adaptive", False))
            pop_f[p] = row
            bias = np.asarray(lowered[-1].get("bias", 0.0))
            if bias.ndim:
                pop_i[p, PI_BIASARR] = 1
            else:
                pop_f[p, PF_BIAS] = float(bias)
        pop._copy_state_into(st[:, lo:hi], ref[lo:hi], nxt[lo:hi], pop_i[p], rows, lowered[-1])
        if lowered[-1] is not None and "frozen" in lowered[-1]:  # the population's, not the record's
            lowered[-1]["frozen"] = float(pop_i[p, PI_FROZEN])
        rng[p] = pop._rng_state

    prj_i = np.zeros((Q, N_QI), dtype=np.int64)
    prj_f = np.zeros((Q, N_QF))
    S = sum(pr.n_synapses for pr in prjs)
    syn_pre = np.zeros(S, dtype=np.int32)
    syn_post = np.zeros(S, dtype=np.int32)
    syn_delay = np.zeros(S, dtype=np.int32)
    w = np.zeros(S)
    col_syn = np.zeros(S, dtype=np.int64)
    delays_l, seg_l, col_l = [], [], []
    d_off = seg_off = col_off = x_off = y_off = h_off = 0
    s_off = 0
    plastic_prjs = []
    rule_lowered: list = []
    for q, pr in enumerate(prjs):
        p_pre, p_post = pr.pre.index, pr.post.index
        n_pre, n_post, ns = pr.pre.n, pr.post.n, pr.n_synapses
        prj_i[q, QI_PRE] = p_pre
        prj_i[q, QI_POST] = p_post
        prj_i[q, QI_CHAN] = 0 if pr.receptor == "exc" else 1
        prj_i[q, QI_SOFF] = s_off
        prj_i[q, QI_NSYN] = ns
        sl = slice(s_off, s_off + ns)
        syn_pre[sl] = pr._pre
        syn_post[sl] = pr._post
        syn_delay[sl] = pr._delay
        w[sl] = pr._w
        # delay segments (synapses are already sorted by (delay, pre, post))
        dvals = np.unique(pr._delay) if ns else np.zeros(0, dtype=np.int64)
        prj_i[q, QI_DOFF] = d_off
        prj_i[q, QI_NDEL] = dvals.size
        delays_l.append(dvals.astype(np.int64))
        d_off += dvals.size
        prj_i[q, QI_SEGOFF] = seg_off
        if dvals.size:
            di = np.searchsorted(dvals, pr._delay)
            key = di * n_pre + pr._pre
            counts = np.bincount(key, minlength=dvals.size * n_pre)
            ptr = np.zeros(dvals.size * n_pre + 1, dtype=np.int64)
            np.cumsum(counts, out=ptr[1:])
            seg_l.append(ptr + s_off)
            seg_off += ptr.size
        # CSC
        order = np.lexsort((pr._pre, pr._post)) if ns else np.zeros(0, dtype=np.int64)
        cptr = np.zeros(n_post + 1, dtype=np.int64)
        np.cumsum(np.bincount(pr._post, minlength=n_post), out=cptr[1:])
        col_l.append(cptr + s_off)
        prj_i[q, QI_COLOFF] = col_off
        col_off += cptr.size
        col_syn[sl] = order + s_off
        # plasticity
        rule_lowered.append(None if pr.plasticity is None else pr.plasticity.kernel_params(dt))
        if pr.plasticity is not None:
            kp = rule_lowered[-1]
            prj_i[q, QI_RULE] = 1
            if kp["emission"]:
                prj_i[q, QI_TMODE] = TM_EMISSION
            else:
                prj_i[q, QI_TMODE] = TM_HOM if dvals.size <= 1 else TM_HET
            for col, key in ((QF_A2P, "a2_plus"), (QF_A3P, "a3_plus"), (QF_A2M, "a2_minus"),
                             (QF_A3M, "a3_minus"), (QF_PX1, "p_x1"), (QF_PX2, "p_x2"),
                             (QF_PY1, "p_y1"), (QF_PY2, "p_y2"), (QF_NEARX, "near_x"),
                             (QF_NEARY, "near_y"), (QF_WMIN, "w_min"), (QF_WMAX, "w_max"),
                             (QF_MULT, "mult"), (QF_MU, "mu")):
                prj_f[q, col] = kp.get(key, 0.0)  # a rule of its own may not have them all
            prj_i[q, QI_XOFF] = x_off
            prj_i[q, QI_YOFF] = y_off
            prj_i[q, QI_HOFF] = h_off
            plastic_prjs.append((q, pr, x_off, y_off, h_off))
            x_off += n_pre
            y_off += n_post
            if prj_i[q, QI_TMODE] == TM_HET:
                h_off += R * n_pre
        prj_i[q, QI_PLASTIC] = int(pr._plastic)
        prj_i[q, QI_ONSTEP] = pr._on_step
        if pr.normalization is not None:
            prj_f[q, QF_NORM_TARGET] = pr.normalization.target_sum
            if pr.normalization.every is not None:
                prj_i[q, QI_NORM_EVERY] = max(1, int(round(pr.normalization.every / dt)))
        s_off += ns

    xtr = np.zeros((2, x_off))
    ytr = np.zeros((2, y_off))
    hx = np.zeros((2, h_off))
    gain = np.ones(y_off)
    for q, pr, xo, yo, ho in plastic_prjs:
        gain[yo:yo + pr.post.n] = pr._gain
        rh = R if prj_i[q, QI_TMODE] == TM_HET else 0
        pr._copy_traces_into(xtr[:, xo:xo + pr.pre.n], ytr[:, yo:yo + pr.post.n],
                             hx[:, ho:ho + rh * pr.pre.n].reshape(2, rh, pr.pre.n), rh)

    hist = np.zeros((R, N), dtype=np.int64)
    hist_cnt = np.zeros((R, P), dtype=np.int64)
    old = net._plan
    step = np.array([0 if old is None else int(old.step[0])], dtype=np.int64)
    if old is not None:  # carry the recent spike history of populations that existed before
        _carry_history(old, hist, hist_cnt, offs, pops, step[0], R)

    cat = (lambda parts: np.concatenate(parts).astype(np.int64) if parts
           else np.zeros(0, dtype=np.int64))
    plan = Plan(
        dt=dt, R=R, step=step, pop_i=pop_i, pop_f=pop_f, st=st, ref=ref, nxt=nxt, rng=rng,
        src_step=cat(src_steps), src_idx=cat(src_idx), hist=hist, hist_cnt=hist_cnt,
        prj_i=prj_i, prj_f=prj_f, delays=cat(delays_l), seg_ptr=cat(seg_l),
        syn_pre=syn_pre, syn_post=syn_post, syn_delay=syn_delay, w=w,
        col_ptr=cat(col_l), col_syn=col_syn, xtr=xtr, ytr=ytr, hx=hx, gain=gain,
        flag=np.zeros(-(-N // 8) * 8, dtype=np.uint8),
        models=[p.model for p in pops], lowered=lowered, rows=rows,
        rules=[p.plasticity for p in prjs], rule_lowered=rule_lowered,
        pop_names=[p.name for p in pops], prj_names=[p.name for p in prjs])
    # re-point populations and projections at the plan's arrays
    for p, pop in enumerate(pops):
        pop._bind(plan, p, int(offs[p]))
    for q, pr in enumerate(prjs):
        pr._bind(plan, q)
    return plan


def _carry_history(old: Plan, hist, hist_cnt, offs, pops, n: int, R: int) -> None:
    for back in range(1, min(old.R, R)):
        step = n - back
        if step < 0:
            break
        so, sn = step % old.R, step % R
        for p, pop in enumerate(pops):
            if pop._old_index is None:
                continue
            po = pop._old_index
            c = old.hist_cnt[so, po]
            lo_old = old.pop_i[po, PI_OFF]
            hist[sn, offs[p]:offs[p] + c] = old.hist[so, lo_old:lo_old + c]
            hist_cnt[sn, p] = c
