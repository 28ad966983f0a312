"""Reading networks and results from HDF5 (:func:`load`, :func:`read_network`): every value
is validated before it reaches the network or compiled code."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Iterator

import h5py
import numpy as np

from .. import plan as _p
from .._params import Params
from ..connectivity import ConnectivityRule, FromArrays
from ..errors import FileFormatError, ParameterError, ResourceError, SnnsimError, SnnsimWarning
from ..inputs import InputModel, PoissonInput
from ..monitors import SpikeMonitor, StateMonitor
from ..network import Network
from ..neurons import NeuronModel
from ..plasticity import PlasticityRule, WeightNormalization
from ..results import Result
from ..synapses import Conductance
from ._format import (FORMAT, FORMAT_VERSION, _INITIAL, _MAX_ABS, _MAX_DELAY, _MAX_INDEX,
                      _MAX_NEURONS, _MAX_STEP, _ROWS, _STATE_1D, _key, _s)
from ._records import _read_monitor, _read_record, _same_monitor
from ._validate import (_attr, _bool, _building, _float, _get, _int, _int_list, _need_memory,
                        _read, _reject, _show, _str, _str_list)
from .sealing import _check_seal


# -- reading ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def open_snnsim(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open an snnsim HDF5 file for reading and check its header; errors are
    :class:`~snnsim.errors.FileFormatError` naming the file (``FileNotFoundError`` if absent)."""
    src = os.fspath(path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"no such file: {src!r}")
    if os.path.isdir(src):
        raise FileFormatError(f"cannot read {src!r}: it is a directory, not an snnsim file")
    _check_seal(src)
    try:
        is_hdf5 = h5py.is_hdf5(src)
    except OSError as exc:
        raise FileFormatError(f"cannot read {src!r}: {exc}") from None
    if not is_hdf5:
        raise FileFormatError(f"cannot read {src!r}: not an HDF5 file (no HDF5 signature); snnsim "
                              "files are HDF5 files written by snnsim.io.save")
    try:
        f = h5py.File(src, "r")
    except OSError as exc:
        why = "truncated or incomplete" if "truncated" in str(exc) else "damaged"
        raise FileFormatError(f"cannot read {src!r}: the HDF5 file is {why} ({exc})") from None
    try:
        check_header(f, src)
        yield f
    finally:
        f.close()


def check_header(g: h5py.Group, src: str) -> int:
    """Check the ``format``/``format_version`` attributes of ``g``; return the version."""
    try:
        fmt = g.attrs.get("format")
        ver = g.attrs.get("format_version")
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise FileFormatError(f"cannot read {src!r}: its attributes are damaged ({exc})") from None
    if not isinstance(fmt, (str, bytes)) or _s(fmt) != FORMAT:
        raise FileFormatError(f"{src!r} is an HDF5 file but not an snnsim file (its root attribute "
                              f"'format' is {None if fmt is None else _show(fmt)}, expected "
                              "'snnsim')")
    if isinstance(ver, (bool, np.bool_)) or not isinstance(ver, (int, np.integer)):
        raise FileFormatError(f"{src!r}: attribute 'format_version' must be an integer, got "
                              f"{_show(ver)}")
    if ver > FORMAT_VERSION:
        from .. import __version__
        raise FileFormatError(f"{src!r} has format_version {int(ver)}, newer than this snnsim "
                              f"({__version__}) can read (up to {FORMAT_VERSION}); upgrade snnsim")
    if ver < 1:
        raise FileFormatError(f"{src!r}: invalid format_version {int(ver)}")
    return int(ver)


def read_network(g: h5py.Group, src: str = "<hdf5>") -> tuple[Network, Result | None]:
    """Rebuild the network (and result, if any) stored in an open file or group ``g``.

    Every dataset and attribute is validated (see docs/hdf5-format.md, "Validation on read")
    before anything is built from it.  Raises :class:`~snnsim.errors.FileFormatError` naming
    ``src`` and the offending dataset or attribute, or
    :class:`~snnsim.errors.ResourceError` when the stored network is too large for the
    memory available.
    """
    check_header(g, src)
    try:
        net = _read_network(_get(g, "network", h5py.Group))
        res = _read_result(_get(g, "results", h5py.Group), net) if "results" in g else None
    except FileFormatError as exc:
        raise FileFormatError(f"{src!r}: {exc}") from None
    except ResourceError as exc:
        raise ResourceError(f"{src!r}: {exc}") from None
    except MemoryError as exc:
        raise ResourceError(f"{src!r}: not enough memory to load it ({exc})") from None
    except SnnsimError as exc:   # the builder refused what the file describes
        raise FileFormatError(f"{src!r} is inconsistent ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:     # HDF5 errors of a damaged file (OSError, KeyError, ...)
        raise FileFormatError(f"{src!r} is damaged or inconsistent ({type(exc).__name__}: {exc})"
                              ) from exc
    return net, res


def load(path: str | os.PathLike, *, with_result: bool | None = None):
    """Load a file written by :func:`save`.

    Every array is validated before it reaches the network or compiled code (shape, dtype,
    range, finiteness and consistency with the network it describes: see
    ``docs/hdf5-format.md``, "Validation on read").

    Returns
    -------
    Network, or (Network, Result)
        By default (``with_result=None``) the network alone if the file holds no result and
        ``(network, result)`` if it holds one.  ``with_result=True`` always returns a pair
        (the result may be None); ``with_result=False`` always returns the network alone.

    Raises
    ------
    FileNotFoundError
        There is no file at ``path``.
    FileFormatError
        The file is not HDF5, not an snnsim file, truncated or damaged, of a newer
        ``format_version``, or holds a value that is not allowed (the message names the
        dataset or attribute, the value and what is allowed).
    ResourceError
        The stored network needs more memory than is available.
    """
    if with_result is not None and not isinstance(with_result, (bool, np.bool_)):
        raise ParameterError(f"load: with_result must be None, True or False, got {with_result!r}")
    src = os.fspath(path)
    with open_snnsim(src) as f:
        net, res = read_network(f, src)
    if with_result is None:
        return net if res is None else (net, res)
    return (net, res) if with_result else net


def _read_network(ng: h5py.Group) -> Network:
    with _building(ng.name):
        net = Network(dt=_float(ng, "dt"), seed=_int(ng, "seed", 0))
    compiled = _bool(ng, "compiled")
    step = _int(ng, "step", 0, _MAX_STEP) if compiled else 0
    pg = _get(ng, "populations", h5py.Group)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnnsimWarning)  # already said when it was built
        for name in _str_list(pg, "order"):
            _read_population(net, _get(pg, _key(name), h5py.Group), name, compiled)
    qg = _get(ng, "projections", h5py.Group)
    for name in _str_list(qg, "order"):
        _read_projection(net, _get(qg, _key(name), h5py.Group), name, step)

    mg = _get(ng, "monitors", h5py.Group)
    for i in range(_int(mg, "count", 0, len(mg))):
        m = _read_monitor(_get(mg, str(i), h5py.Group))
        if m.id != i:
            raise FileFormatError(f"{mg.name}/{i}/@id = {m.id}; allowed: {i} (its position)")
        if m.population not in {p.name for p in net.populations}:
            raise FileFormatError(f"{mg.name}/{i}/@population = {m.population!r} is not a "
                                  "population of the network")
        pop = net[m.population]
        with _building(f"{mg.name}/{i}"):
            if isinstance(m, SpikeMonitor):
                got = net.record_spikes(pop, m.indices)
            elif isinstance(m, StateMonitor):
                got = net.record_state(pop, m.variables, m.indices, every=m.every * net.dt)
            else:
                got = net.population_rate(pop)
        if not _same_monitor(got, m):
            raise FileFormatError(f"{mg.name}/{i}: recorder could not be recreated exactly")

    if compiled and net.populations:
        _restore_state(ng, net, step)
    _read_generator(_get(ng, "generator", h5py.Group), net._rng)
    return net


def _read_population(net: Network, h: h5py.Group, name: str, compiled: bool) -> None:
    if _str(h, "name") != name:
        raise FileFormatError(f"{h.name}/@name = {_str(h, 'name')!r}; allowed: {name!r} (the "
                              "name in the parent's @order)")
    model = _read_record(_get(h, "params", h5py.Group), Params)
    if not isinstance(model, (NeuronModel, InputModel)):
        raise FileFormatError(f"{h.name}: {type(model).__name__} is not a population model")
    n = model.n
    _int(h, "n", n, n)
    neuron = isinstance(model, NeuronModel)
    # the sizes of the per-neuron datasets first, so that a wrong n allocates nothing
    ini = _get(h, "initial", h5py.Group) if neuron else None
    shaped = [_get(ini, k, h5py.Dataset) for k in _INITIAL] if neuron else []
    if isinstance(model, PoissonInput):
        shaped.append(_get(h, "rates", h5py.Dataset))
    if compiled:
        s = _get(h, "state", h5py.Group)
        shaped += [_get(s, k, h5py.Dataset) for k in _STATE_1D]
    for node in shaped:
        if node.shape != (n,):
            raise FileFormatError(f"{node.name} has shape {node.shape}; expected ({n},) "
                                  f"({h.name}/params/@n)")
    with _building(h.name):
        pop = net.add(model, name=name)
    if neuron:
        pop._init = {k: _read(ini[k], np.float64, (n,), **_state_range(model, k)) for k in _INITIAL}
    if isinstance(model, PoissonInput):
        rates = _read(h["rates"], np.float64, (n,), lo=0.0, hi=1.0 / net.dt, unit="Hz")
        with _building(f"{h.name}/rates"):
            pop._rates = pop._checked_rates(rates)
    frozen = _bool(h, "theta_frozen")
    if frozen and not getattr(model, "adaptive", False):
        raise FileFormatError(f"{h.name}/@theta_frozen is True, but {type(model).__name__} has no "
                              "adaptive threshold")
    pop._frozen = frozen


def _state_range(model, k: str) -> dict:
    """Bounds on a neuron population's state variable ``k`` (keyword arguments of _read)."""
    cond = isinstance(model.synapses, Conductance)
    if k == "theta" and not model.adaptive:
        return dict(lo=0.0, hi=0.0, unit="V (no adaptive threshold)")
    if cond and k in ("g_e", "g_i"):
        return dict(lo=0.0, hi=_MAX_ABS, unit="(conductance / leak conductance)")
    return dict(lo=-_MAX_ABS, hi=_MAX_ABS, unit="V")


def _read_projection(net: Network, h: h5py.Group, name: str, step: int) -> None:
    if _str(h, "name") != name:
        raise FileFormatError(f"{h.name}/@name = {_str(h, 'name')!r}; allowed: {name!r} (the "
                              "name in the parent's @order)")
    names = [p.name for p in net.populations]
    ends = []
    for k in ("pre_population", "post_population"):
        pname = _str(h, k)
        if pname not in names:
            raise FileFormatError(f"{h.name}/@{k} = {pname!r} is not a population of the network")
        ends.append(net[pname])
    pre, post = ends
    if post.is_input:
        raise FileFormatError(f"{h.name}/@post_population = {post.name!r} is an input "
                              f"({type(post.model).__name__}); it cannot receive synapses")
    ns = _int(h, "n_synapses", 0, _MAX_INDEX)
    for k in ("pre", "post", "delay_steps", "weights"):
        node = _get(h, k, h5py.Dataset)
        if node.shape != (ns,):
            raise FileFormatError(f"{node.name} has shape {node.shape}; expected ({ns},) "
                                  f"({h.name}/@n_synapses)")
    pre_idx = _read(h["pre"], np.int64, (ns,), lo=0, hi=pre.n - 1)
    post_idx = _read(h["post"], np.int64, (ns,), lo=0, hi=post.n - 1)
    d = _read(h["delay_steps"], np.int64, (ns,), lo=1, hi=_MAX_DELAY)
    plast = (_read_record(_get(h, "plasticity", h5py.Group), PlasticityRule)
             if "plasticity" in h else None)
    norm = (_read_record(_get(h, "normalization", h5py.Group), WeightNormalization)
            if "normalization" in h else None)
    lo, hi, unit = -_MAX_ABS, _MAX_ABS, "V"
    if isinstance(post.model.synapses, Conductance):
        lo, unit = 0.0, "(conductance weights, in units of the leak conductance)"
    if plast is not None and norm is None:
        # the rule keeps weights in its bounds; only a normalisation may scale them out
        lo, hi = max(lo, plast.w_min), plast.w_max
        unit = f"(the [w_min, w_max] of its {type(plast).__name__})"
    w = _read(h["weights"], np.float64, (ns,), lo=lo, hi=hi, unit=unit)
    if norm is None:  # only a normalisation changes weights beyond what the builder takes
        with _building(f"{h.name}/weights"):
            net._check_weights(name, post, w)
    with _building(h.name):
        pr = net.connect(pre, post, FromArrays(pre_idx, post_idx), weight=0.0,
                         delay=d * net.dt, receptor=_str(h, "receptor"), plasticity=plast,
                         normalization=norm, name=name)
    if (pr.name != name or not np.array_equal(pr._pre, pre_idx)
            or not np.array_equal(pr._post, post_idx) or not np.array_equal(pr._delay, d)):
        raise FileFormatError(f"{h.name}: synapses are not stored in (delay, pre, post) order")
    pr._w[:] = w
    rule = _read_record(_get(h, "rule", h5py.Group), ConnectivityRule, allow_unknown=True)
    pr.rule = rule if rule is not None else FromArrays(pre_idx, post_idx)
    plastic = _bool(h, "plastic")
    if plastic and plast is None:
        raise FileFormatError(f"{h.name}/@plastic is True, but there is no plasticity rule")
    pr._plastic = plastic
    pr._on_step = _int(h, "on_step", 0, step)


def _restore_state(ng: h5py.Group, net: Network, step: int) -> None:
    # the history depth follows from the delays; check it before the plan allocates R x N
    R = _int(ng, "history_depth", 3, _MAX_DELAY + 2)
    want = max((int(pr._delay.max()) for pr in net.projections if pr._delay.size), default=1) + 2
    if R != want:
        raise FileFormatError(f"{ng.name}/@history_depth = {R}; allowed: {want} (the largest "
                              "delay in steps + 2)")
    plan = net.compile()
    plan.step[0] = step
    pg = _get(ng, "populations", h5py.Group)
    for p, pop in enumerate(net.populations):
        _restore_population(_get(_get(pg, _key(pop.name), h5py.Group), "state", h5py.Group),
                            plan, p, pop, step)
    qg = _get(ng, "projections", h5py.Group)
    for pr in net.projections:
        if pr._traces is None:
            continue
        t = _get(_get(qg, _key(pr.name), h5py.Group), "traces", h5py.Group)
        x, y, hx, _ = pr._traces
        kp = pr.plasticity.kernel_params(net.dt)
        # nearest-spike traces are set to 1 at a spike and decay; all-to-all ones add 1
        xmax = 1.0 if kp["near_x"] else _MAX_ABS
        ymax = 1.0 if kp["near_y"] else _MAX_ABS
        x[:] = _read(_get(t, "x", h5py.Dataset), np.float64, x.shape, lo=0.0, hi=xmax)
        y[:] = _read(_get(t, "y", h5py.Dataset), np.float64, y.shape, lo=0.0, hi=ymax)
        hx[:] = _read(_get(t, "x_history", h5py.Dataset), np.float64, hx.shape, lo=0.0, hi=xmax)
        if "gain" in t:  # files written before per-neuron gains default to 1
            pr._gain[:] = _read(_get(t, "gain", h5py.Dataset), np.float64, pr._gain.shape,
                                lo=0.0, hi=_MAX_ABS)
    plan.version += 1


def _restore_population(s: h5py.Group, plan, p: int, pop, step: int) -> None:
    lo, hi, n, R = pop._lo, pop._lo + pop.n, pop.n, plan.R
    model = pop.model
    kind = int(plan.pop_i[p, _p.PI_KIND])
    poisson = kind == _p.KIND_POISSON
    neuron = isinstance(model, NeuronModel)
    for name, row in _ROWS:
        node = _get(s, name, h5py.Dataset)
        if name in _INITIAL and neuron and (name != "theta" or model.adaptive):
            plan.st[row, lo:hi] = _read(node, np.float64, (n,), **_state_range(model, name))
            continue
        # the other rows follow from the model (and rates): they must be what compile made
        if name == "p_spike" and poisson:
            got = _read(node, np.float64, (n,), lo=0.0, hi=1.0, unit="(a probability per step)")
            why = "rates * dt"
        elif name == "log_q" and poisson:
            got = _read(node, np.float64, (n,), hi=0.0, finite=False)
            why = "log(1 - p_spike)"
        else:
            got = _read(node, np.float64, (n,))
            why = ("R_m * i_bias of params" if name == "bias" else
                   f"{type(model).__name__} does not use it")
        want = plan.st[row, lo:hi]
        if not np.array_equal(got, want):
            _reject(node.name, got, got != want, f"{_show(want[got != want][0])} ({why})")
    plan.ref[lo:hi] = _read(_get(s, "ref", h5py.Dataset), np.int32, (n,), lo=0,
                            hi=int(plan.pop_i[p, _p.PI_REF]), unit="steps (t_ref / dt)")
    redraw = _bool(s, "redraw")
    if redraw and not poisson:
        raise FileFormatError(f"{s.name}/@redraw is True, but {pop.name!r} is not a PoissonInput")
    # a pending Poisson spike lies in the future (a redraw replaces them all)
    first = step if poisson and not redraw else 0
    plan.nxt[lo:hi] = _read(_get(s, "next_spike", h5py.Dataset), np.int64, (n,), lo=first,
                            unit="(steps; >= @step for a pending spike)")
    frozen = _bool(s, "frozen")
    if frozen != pop._frozen:
        raise FileFormatError(f"{s.name}/@frozen = {frozen}; allowed: {pop._frozen} (the "
                              "population's @theta_frozen)")
    rng = _read(_get(s, "rng", h5py.Dataset), np.uint64, (4,))
    if not rng.any():
        raise FileFormatError(f"{s.name}/rng is all zero; allowed: any other state (xoshiro256** "
                              "never leaves the zero state)")
    plan.rng[p] = rng
    pop._rng_state = rng.copy()
    cnt = _read(_get(s, "hist_count", h5py.Dataset), np.int64, (R,), lo=0, hi=n,
                unit="(spikes of the population in one step)")
    node = _get(s, "hist", h5py.Dataset)
    hist = _read(node, np.int64, (R, n))
    used = np.arange(n)[None, :] < cnt[:, None]
    bad = used & ((hist < 0) | (hist >= n))
    if bad.any():
        _reject(node.name, hist, bad, f"a neuron index in [0, {n - 1}] (the first "
                "hist_count[r] entries of row r)")
    srt = np.sort(np.where(used, hist, -1 - np.arange(n)[None, :]), axis=1)
    dup = srt[:, 1:] == srt[:, :-1]
    if dup.any():
        r = int(np.flatnonzero(dup.any(axis=1))[0])
        raise FileFormatError(f"{node.name}[{r}] lists neuron {int(srt[r][1:][dup[r]][0])} twice; "
                              "allowed: each neuron at most once per step")
    plan.hist[:, lo:hi] = hist
    plan.hist_cnt[:, p] = cnt
    e_lo, e_hi = int(plan.pop_i[p, _p.PI_SRC_LO]), int(plan.pop_i[p, _p.PI_SRC_HI])
    passed = int(np.count_nonzero(plan.src_step[e_lo:e_hi] < step))
    pos = _int(s, "source_pos", 0, passed)
    plan.pop_i[p, _p.PI_SRC_PTR] = e_lo + pos
    plan.pop_i[p, _p.PI_REDRAW] = int(redraw)
    plan.set_frozen(p, frozen)


def _read_generator(g: h5py.Group, rng: np.random.Generator) -> None:
    if _str(g, "bit_generator") != "PCG64":
        raise FileFormatError(f"{g.name}/@bit_generator = {_str(g, 'bit_generator')!r}; allowed: "
                              "'PCG64'")
    words = {}
    for k in ("state", "inc"):
        a = np.asarray(_attr(g, k))
        if a.shape != (2,) or a.dtype != np.uint64:
            raise FileFormatError(f"{g.name}/@{k} = {_show(a)}; allowed: 2 uint64 words")
        words[k] = (int(a[0]) << 64) | int(a[1])
    if words["inc"] % 2 == 0:
        raise FileFormatError(f"{g.name}/@inc is even; allowed: an odd PCG64 increment")
    rng.bit_generator.state = {"bit_generator": "PCG64", "state": words,
                               "has_uint32": _int(g, "has_uint32", 0, 1),
                               "uinteger": _int(g, "uinteger", 0, 2 ** 32 - 1)}


def _read_result(rg: h5py.Group, net: Network) -> Result:
    dt = _float(rg, "dt", lo=1e-300)
    step0 = _int(rg, "step0", 0, _MAX_STEP)
    n_steps = _int(rg, "n_steps", 0, _MAX_STEP - step0)
    raw_g = _get(rg, "raw", h5py.Group)
    spk_t = _read(_get(raw_g, "spike_steps", h5py.Dataset), np.int64, ndim=1, lo=step0,
                  hi=step0 + n_steps - 1, unit="(steps of the run)")
    if spk_t.size > 1 and np.any(np.diff(spk_t) < 0):
        _reject(f"{raw_g.name}/spike_steps", spk_t[1:], np.diff(spk_t) < 0,
                "non-decreasing steps (spikes in time order)")
    spk_i = _read(_get(raw_g, "spike_ids", h5py.Dataset), np.int64, spk_t.shape, lo=0,
                  hi=_MAX_INDEX)
    srec = _read(_get(raw_g, "state_samples", h5py.Dataset), np.float64, ndim=1)
    rrec = _read(_get(raw_g, "rate_counts", h5py.Dataset), np.int64, ndim=2, lo=0, hi=_MAX_INDEX)
    if rrec.shape[1] != n_steps:
        raise FileFormatError(f"{raw_g.name}/rate_counts has shape {rrec.shape}; expected "
                              f"(k, {n_steps}) (@n_steps)")
    raw = {"spk_t": spk_t, "spk_i": spk_i, "srec_out": srec, "rrec_out": rrec}
    mg = _get(rg, "monitors", h5py.Group)
    layout = {}
    for hid in _int_list(mg, "ids"):
        m = _get(mg, str(hid), h5py.Group)
        h = _read_monitor(m)
        if h.id != hid:
            raise FileFormatError(f"{m.name}/@id = {h.id}; allowed: {hid} (its name)")
        if isinstance(h, SpikeMonitor):
            info = {"lo": _int(m, "lo", 0, _MAX_INDEX), "n": _int(m, "n", 1, _MAX_NEURONS)}
            _need_memory(24 * info["n"], f"the spike trains of {m.name} (@n neurons)")
            if h.indices is not None and h.indices.size and h.indices.max() >= info["n"]:
                _reject(f"{m.name}/indices", h.indices, h.indices >= info["n"],
                        f"a neuron index in [0, {info['n'] - 1}] (@n)")
        elif isinstance(h, StateMonitor):
            names = _str_list(m, "row_variables")
            offs, counts = _int_list(m, "row_offsets"), _int_list(m, "row_counts")
            ns = _int(m, "n_samples", -(-n_steps // h.every), -(-n_steps // h.every))
            _need_memory(8 * ns, f"the sample times of {m.name} (@n_samples)")
            if tuple(names) != tuple(h.variables) or len(offs) != len(names) \
                    or counts != [h.indices.size] * len(names):
                raise FileFormatError(f"{m.name}: @row_variables, @row_offsets and @row_counts "
                                      f"do not describe {len(h.variables)} variables of "
                                      f"{h.indices.size} neurons ({', '.join(h.variables)})")
            for v, o, c in zip(names, offs, counts):
                if o + c * ns > srec.size:
                    raise FileFormatError(f"{m.name}: the samples of {v!r} ({c} x {ns} from "
                                          f"{o}) lie beyond raw/state_samples ({srec.size})")
            info = {"rows": {v: (o, c) for v, o, c in zip(names, offs, counts)}, "n_samples": ns}
        else:
            info = {"row": _int(m, "row", 0, rrec.shape[0] - 1),
                    "n": _int(m, "n", 1, _MAX_NEURONS)}
            row = rrec[info["row"]]
            if row.size and row.max() > info["n"]:
                _reject(f"{raw_g.name}/rate_counts[{info['row']}]", row, row > info["n"],
                        f"at most {info['n']} spikes a step (@n of {m.name})")
        if hid < len(net.monitors) and _same_monitor(net.monitors[hid], h):
            # the loaded network's handle indexes the result if it describes the same neurons
            mine = net.monitors[hid]
            k = [p.name for p in net.populations].index(mine.population)
            lo, n = sum(p.n for p in net.populations[:k]), net.populations[k].n
            if isinstance(h, StateMonitor) or (info["n"] == n and info.get("lo", lo) == lo):
                h = mine
        layout[hid] = (h, info)
    return Result(dt=dt, step0=step0, n_steps=n_steps, raw=raw, layout=layout)
