"""Writing networks and results to HDF5 (:func:`save`, :func:`write_network`)."""

from __future__ import annotations

import os

import h5py
import numpy as np

from .. import plan as _p
from ..errors import NetworkError
from ..monitors import SpikeMonitor, StateMonitor
from ..network import Network
from ..results import Result
from ._format import FORMAT, FORMAT_VERSION, _ROWS, _ds, _key, _strs
from ._records import _write_monitor, _write_record
from .sealing import new_file


# -- writing ----------------------------------------------------------------------------------------

def write_network(g: h5py.Group, network: Network, result: Result | None = None) -> None:
    """Write ``network`` (and optionally ``result``) into an open HDF5 file or group ``g``,
    with the ``format`` attributes on ``g``.  :func:`save` is this plus an atomic file."""
    from .. import __version__
    if not isinstance(network, Network):
        raise NetworkError(f"save takes a snnsim Network, got {type(network).__name__}")
    if result is not None and not isinstance(result, Result):
        raise NetworkError(f"result must be a snnsim Result, got {type(result).__name__}")
    g.attrs["format"] = FORMAT
    g.attrs["format_version"] = np.int64(FORMAT_VERSION)
    g.attrs["snnsim_version"] = __version__
    net = network
    net._sync_from_engine()
    plan = net.compile() if (net._plan is not None and net.populations) else None
    ng = g.create_group("network")
    ng.attrs["dt"] = np.float64(net.dt)
    ng.attrs["seed"] = np.int64(net.seed)
    ng.attrs["compiled"] = np.bool_(plan is not None)
    if plan is not None:
        ng.attrs["step"] = np.int64(plan.step[0])
        ng.attrs["history_depth"] = np.int64(plan.R)
    _write_generator(ng, net._rng)

    _write_populations(ng, net, plan)
    _write_projections(ng, net, plan)

    mg = ng.create_group("monitors")
    mg.attrs["count"] = np.int64(len(net.monitors))
    for h in net.monitors:
        _write_monitor(mg.create_group(str(h.id)), h)

    if result is not None:
        _write_result(g, result)


def _write_populations(ng: h5py.Group, net: Network, plan) -> None:
    pg = ng.create_group("populations")
    pg.attrs["order"] = _strs(p.name for p in net.populations)
    for p, pop in enumerate(net.populations):
        h = pg.create_group(_key(pop.name))
        h.attrs["name"] = pop.name
        h.attrs["index"] = np.int64(p)
        h.attrs["n"] = np.int64(pop.n)
        h.attrs["model"] = type(pop.model).__name__
        h.attrs["theta_frozen"] = np.bool_(pop._frozen)
        _write_record(h, "params", pop.model)
        if pop._init:
            ini = h.create_group("initial")
            for k in ("v", "g_e", "g_i", "theta"):  # theta is 0 where the model has none
                _ds(ini, k, np.asarray(pop._init.get(k, np.zeros(pop.n)), dtype=np.float64))
        if pop._rates is not None:
            _ds(h, "rates", pop._rates)
        if plan is not None:
            lo, hi = pop._lo, pop._lo + pop.n
            s = h.create_group("state")
            for name, row in _ROWS:
                _ds(s, name, plan.st[row, lo:hi])
            _ds(s, "ref", plan.ref[lo:hi])
            _ds(s, "next_spike", plan.nxt[lo:hi])
            _ds(s, "rng", plan.rng[p])
            _ds(s, "hist", plan.hist[:, lo:hi])
            _ds(s, "hist_count", plan.hist_cnt[:, p])
            s.attrs["source_pos"] = np.int64(plan.pop_i[p, _p.PI_SRC_PTR] - plan.pop_i[p, _p.PI_SRC_LO])
            s.attrs["redraw"] = np.bool_(plan.pop_i[p, _p.PI_REDRAW])
            s.attrs["frozen"] = np.bool_(plan.pop_i[p, _p.PI_FROZEN])


def _write_projections(ng: h5py.Group, net: Network, plan) -> None:
    qg = ng.create_group("projections")
    qg.attrs["order"] = _strs(pr.name for pr in net.projections)
    for q, pr in enumerate(net.projections):
        _check_saveable_weights(net, pr)
        h = qg.create_group(_key(pr.name))
        h.attrs["name"] = pr.name
        h.attrs["index"] = np.int64(q)
        h.attrs["pre_population"] = pr.pre.name
        h.attrs["post_population"] = pr.post.name
        h.attrs["receptor"] = pr.receptor
        h.attrs["plastic"] = np.bool_(pr._plastic)
        h.attrs["on_step"] = np.int64(pr._on_step)
        h.attrs["n_synapses"] = np.int64(pr.n_synapses)
        _write_record(h, "rule", pr.rule, strict=False)
        if pr.plasticity is not None:
            _write_record(h, "plasticity", pr.plasticity)
        if pr.normalization is not None:
            _write_record(h, "normalization", pr.normalization)
        _ds(h, "pre", pr._pre)
        _ds(h, "post", pr._post)
        _ds(h, "delay_steps", pr._delay)
        _ds(h, "weights", pr._w)
        if plan is not None and pr._traces is not None:
            x, y, hx, _ = pr._traces
            t = h.create_group("traces")
            _ds(t, "x", x)
            _ds(t, "y", y)
            _ds(t, "x_history", hx)
            _ds(t, "gain", pr._gain)


def _check_saveable_weights(net: Network, pr) -> None:
    """Refuse weights that :func:`load` would refuse, so that every file ``save`` writes
    loads: outside ``[w_min, w_max]`` of a plastic projection's rule (without a
    WeightNormalization, nothing else puts them there; the rule clips them at its next
    update), or what the builder refuses."""
    if pr.normalization is not None:
        return
    w, rule = pr._w, pr.plasticity
    if rule is not None and w.size:
        out = (w < rule.w_min) | (w > rule.w_max)
        if out.any():
            k = int(np.flatnonzero(out)[0])
            raise NetworkError(f"cannot save projection {pr.name!r}: synapse {k} has weight "
                               f"{w[k]:.6g}, outside [w_min, w_max] = [{rule.w_min:.6g}, "
                               f"{rule.w_max:.6g}] of its {type(rule).__name__} (its next update "
                               "would clip it; a file holding it is refused as damaged); clip "
                               "the weights with set_weights, or give the projection a "
                               "WeightNormalization")
    net._check_weights(pr.name, pr.post, w)


def _write_generator(ng: h5py.Group, rng: np.random.Generator) -> None:
    st = rng.bit_generator.state
    if st.get("bit_generator") != "PCG64":
        raise NetworkError(f"cannot save a network whose generator is {st.get('bit_generator')!r}")
    g = ng.create_group("generator")
    g.attrs["bit_generator"] = "PCG64"
    m = (1 << 64) - 1
    for k in ("state", "inc"):
        v = int(st["state"][k])
        g.attrs[k] = np.array([v >> 64, v & m], dtype=np.uint64)
    g.attrs["has_uint32"] = np.int64(st["has_uint32"])
    g.attrs["uinteger"] = np.uint64(st["uinteger"])


def _unique_key(group: h5py.Group, base: str, mid: int) -> str:
    key = base if base not in group else f"{base}#{mid}"
    while key in group:
        key += "_"
    return key


def _write_result(g: h5py.Group, res: Result) -> None:
    rg = g.create_group("results")
    rg.attrs["dt"] = np.float64(res.dt)
    rg.attrs["step0"] = np.int64(res.step0)
    rg.attrs["n_steps"] = np.int64(res.n_steps)
    rg.attrs["t_start"] = np.float64(res.t_start)
    rg.attrs["t_stop"] = np.float64(res.t_stop)
    raw = rg.create_group("raw")
    _ds(raw, "spike_steps", np.asarray(res._raw["spk_t"], dtype=np.int64))
    _ds(raw, "spike_ids", np.asarray(res._raw["spk_i"], dtype=np.int64))
    _ds(raw, "state_samples", np.asarray(res._raw["srec_out"], dtype=np.float64))
    _ds(raw, "rate_counts", np.asarray(res._raw["rrec_out"], dtype=np.int64))
    mg = rg.create_group("monitors")
    mg.attrs["ids"] = np.array(list(res._layout), dtype=np.int64)
    groups = {k: rg.create_group(k) for k in ("spikes", "states", "rates")}
    for hid, (h, info) in res._layout.items():
        m = mg.create_group(str(hid))
        _write_monitor(m, h)
        data = res[h]
        if isinstance(h, SpikeMonitor):
            m.attrs["lo"], m.attrs["n"] = np.int64(info["lo"]), np.int64(info["n"])
            s = groups["spikes"].create_group(_unique_key(groups["spikes"], _key(h.population), hid))
            _ds(s, "times", data.times)
            _ds(s, "steps", np.rint(data.times / res.dt).astype(np.int64))
            _ds(s, "indices", data.indices)
            _ds(s, "recorded", data.recorded)
            s.attrs["n_neurons"] = np.int64(data.n_neurons)
        elif isinstance(h, StateMonitor):
            m.attrs["n_samples"] = np.int64(info["n_samples"])
            rows = info["rows"]
            m.attrs["row_variables"] = _strs(rows)
            m.attrs["row_offsets"] = np.array([rows[v][0] for v in rows], dtype=np.int64)
            m.attrs["row_counts"] = np.array([rows[v][1] for v in rows], dtype=np.int64)
            s = groups["states"].create_group(_unique_key(groups["states"], _key(h.population), hid))
            _ds(s, "times", data.times)
            _ds(s, "indices", data.indices)
            for v in data.variables:
                _ds(s, v, data[v])
        else:
            m.attrs["row"], m.attrs["n"] = np.int64(info["row"]), np.int64(info["n"])
            s = groups["rates"].create_group(_unique_key(groups["rates"], _key(h.population), hid))
            _ds(s, "times", data.times)
            _ds(s, "counts", data.counts)
            s.attrs["n_neurons"] = np.int64(data.n_neurons)
        s.attrs["monitor_id"] = np.int64(hid)
        s.attrs["population"] = h.population


def save(path: str | os.PathLike, network: Network, result: Result | None = None) -> None:
    """Save ``network`` (description and current state) and optionally one ``result`` to an
    HDF5 file at ``path``, atomically (see :func:`atomic_write`).

    Parameters
    ----------
    path : str or path
        File to write (replaced if it exists).
    network : Network
        The network; if it has been compiled (run), its whole dynamic state is saved too.
    result : Result, optional
        A recording to store with it (``load`` then returns ``(network, result)``).
    """
    with new_file(path) as f:
        write_network(f, network, result)
