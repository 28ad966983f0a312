"""Saving and loading networks and results (snnsim.io): bitwise round trips, the documented
plain-h5py layout, bad files, atomic writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnsim as sn
from snnsim import io
from snnsim.units import Hz, mV, ms


def build(seed: int = 5) -> tuple[sn.Network, dict]:
    """A network using every feature whose state a file must carry."""
    net = sn.Network(dt=0.1 * ms, seed=seed)
    rates = np.linspace(20, 120, 40) * Hz
    poi = net.add(sn.PoissonInput(40, rate=rates), name="poisson")
    src = net.add(sn.SpikeSource(5, times=np.arange(0, 200, 1.5) * ms,
                                 indices=np.arange(134) % 5), name="source")
    exc = net.add(sn.AdaptiveLIF(20, tau_m=20 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                                 v_th=-55 * mV, t_ref=2 * ms, theta_plus=0.5 * mV,
                                 tau_theta=50 * ms,
                                 synapses=sn.Conductance(tau_e=2 * ms, tau_i=5 * ms, e_e=0.0,
                                                         e_i=-80 * mV)), name="exc")
    cur = net.add(sn.LIF(10, tau_m=10 * ms, v_rest=-70 * mV, v_reset=-70 * mV, v_th=-54 * mV,
                         r_m=1e8, i_bias=np.linspace(0.0, 0.17e-9, 10),
                         synapses=sn.Current(tau_e=3 * ms, tau_i=6 * ms)), name="cur/rent")
    frz = net.add(sn.AdaptiveLIF(5, theta_plus=1 * mV, theta_frozen=True,
                                 synapses=sn.Conductance()), name="frozen")
    exc.set_initial(v=sn.Uniform(-65 * mV, -56 * mV))
    het = net.connect(poi, exc, sn.FixedProbability(0.5), weight=sn.Uniform(0.0, 0.3),
                      delay=sn.Uniform(0.1 * ms, 3 * ms),
                      plasticity=sn.PairSTDP(a_plus=0.01, a_minus=0.012, w_max=1.0),
                      normalization=sn.WeightNormalization(6.0, every=7 * ms), name="het")
    emi = net.connect(src, exc, sn.AllToAll(), weight=0.2, delay=1 * ms,
                      plasticity=sn.TripletSTDP(timing="emission", w_max=1.0,
                                                weight_dependence="multiplicative"), name="emi")
    hom = net.connect(poi, cur, sn.FixedInDegree(8), weight=sn.Normal(4 * mV, 1 * mV, low=0.0),
                      delay=2 * ms, plasticity=sn.DiehlCookSTDP(nu_pre=1e-4, nu_post=1e-3,
                                                                w_max=10 * mV), name="hom")
    near = net.connect(poi, frz, sn.AllToAll(), weight=0.1, delay=sn.Uniform(0.5 * ms, 4 * ms),
                       plasticity=sn.PairSTDP(interaction="nearest", timing="emission"),
                       name="near")
    rec = net.connect(exc, exc, sn.FixedProbability(0.2, allow_self=False), weight=0.05,
                      receptor="inh", delay=sn.Uniform(1 * ms, 5 * ms), name="rec")
    net.connect(exc, cur, sn.FromArrays([0, 1, 1, 3], [2, 2, 2, 9]), weight=[1e-3, 2e-3, 3e-3, 4e-3],
                delay=[1 * ms, 1 * ms, 1 * ms, 3 * ms])
    mons = {
        "exc": net.record_spikes(exc),
        "poi": net.record_spikes(poi, indices=[0, 3, 5, 39]),
        "frz": net.record_spikes(frz),
        "cur": net.record_spikes(cur),
        "state": net.record_state(exc, ["v", "g_e", "theta"], [0, 1, 7], every=0.3 * ms),
        "icur": net.record_state(cur, "i_e", range(3)),
        "rate": net.population_rate(cur),
    }
    return net, dict(mons=mons, het=het, emi=emi, hom=hom, near=near, rec=rec)


def plan_state(net: sn.Network) -> dict:
    p = net.compile()
    return {k: getattr(p, k).copy() for k in ("step", "st", "ref", "nxt", "rng", "pop_i", "hist",
                                               "hist_cnt", "prj_i", "w", "xtr", "ytr", "hx")}


def assert_same_state(a: sn.Network, b: sn.Network) -> None:
    sa, sb = plan_state(a), plan_state(b)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k, strict=True)


def assert_same_result(ra: sn.Result, rb: sn.Result, handles_a, handles_b) -> None:
    assert (ra.dt, ra.step0, ra.n_steps) == (rb.dt, rb.step0, rb.n_steps)
    for ha, hb in zip(handles_a, handles_b):
        da, db = ra[ha], rb[hb]
        if isinstance(ha, sn.SpikeMonitor):
            np.testing.assert_array_equal(da.times, db.times, strict=True)
            np.testing.assert_array_equal(da.indices, db.indices, strict=True)
            np.testing.assert_array_equal(da.recorded, db.recorded, strict=True)
        elif isinstance(ha, sn.StateMonitor):
            np.testing.assert_array_equal(da.times, db.times, strict=True)
            assert da.variables == db.variables
            for v in da.variables:
                np.testing.assert_array_equal(da[v], db[v], strict=True)
        else:
            np.testing.assert_array_equal(da.counts, db.counts, strict=True)


def test_round_trip_continues_bitwise(tmp_path):
    a, o = build()
    r0 = a.run(25 * ms)
    o["near"].plastic = False            # frozen traces across the save
    o["hom"].plastic = False
    a["frozen"].theta_frozen = False
    r1 = a.run(12.3 * ms)
    o["hom"].plastic = True              # switched on just before the save: on_step matters
    assert o["hom"]._on_step == 373
    a["poisson"].set_rates(np.linspace(150, 10, 40))  # a pending redraw is state too
    # the saved moment has everything in flight: spikes in the delay ring, traces, history
    assert len(r0[o["mons"]["exc"]]) > 20 and len(r1[o["mons"]["cur"]]) > 0
    assert np.any(a.compile().hx != 0) and np.any(a.compile().hist_cnt != 0)
    path = tmp_path / "net.h5"
    io.save(path, a)
    b = io.load(path)
    assert isinstance(b, sn.Network)
    assert_same_state(a, b)
    mons_a = list(a.monitors)
    for step in range(3):
        if step == 1:
            for net in (a, b):
                net.projection("near").plastic = True
                net["poisson"].set_rates(60 * Hz)
        ra, rb = a.run(20 * ms), b.run(20 * ms)
        assert_same_result(ra, rb, mons_a, b.monitors)
        assert_same_state(a, b)
    assert len(ra[o["mons"]["exc"]]) > 0
    for net in (a, b):                    # initial values and rates came through too
        net.reset_state(keep=("theta",))
    ra, rb = a.run(15 * ms), b.run(15 * ms)
    assert_same_result(ra, rb, mons_a, b.monitors)
    assert_same_state(a, b)
    for pa, pb in zip(a.projections, b.projections):
        np.testing.assert_array_equal(pa.get_weights("sparse")[2], pb.get_weights("sparse")[2])
    # the weights did move after the load, so equality above is not trivial
    assert not np.array_equal(o["het"].get_weights("sparse")[2], build()[1]["het"].get_weights("sparse")[2])


def test_description_round_trips(tmp_path):
    a, o = build()
    o["near"].plastic = False
    path = tmp_path / "net.h5"
    io.save(path, a)
    b = io.load(path)
    assert (b.dt, b.seed) == (a.dt, a.seed)
    assert [p.name for p in b.populations] == [p.name for p in a.populations]
    for pa, pb in zip(a.populations, b.populations):
        assert type(pb.model) is type(pa.model) and pb.model == pa.model
        assert pb.theta_frozen == pa.theta_frozen
        for k in pa._init:
            np.testing.assert_array_equal(pa._init[k], pb._init[k])
    for pa, pb in zip(a.projections, b.projections):
        assert (pa.name, pa.pre.name, pa.post.name, pa.receptor, pa.plastic) == \
            (pb.name, pb.pre.name, pb.post.name, pb.receptor, pb.plastic)
        assert pb.rule == pa.rule and pb.plasticity == pa.plasticity
        assert pb.normalization == pa.normalization
        np.testing.assert_array_equal(pa.delays, pb.delays)
        np.testing.assert_array_equal(pa.pre_indices, pb.pre_indices)
    for ha, hb in zip(a.monitors, b.monitors):
        assert type(ha) is type(hb) and ha.id == hb.id and ha.population == hb.population
    assert isinstance(b.projection("emi").plasticity, sn.TripletSTDP)
    assert b.projection("emi").plasticity.weight_dependence == "multiplicative"
    assert b["frozen"].model.synapses == sn.Conductance()


def test_uncompiled_network_round_trips(tmp_path):
    a, o = build(seed=11)
    io.save(tmp_path / "n.h5", a)
    b = io.load(tmp_path / "n.h5")
    assert b._plan is None
    ra, rb = a.run(30 * ms), b.run(30 * ms)
    assert len(ra[o["mons"]["exc"]]) > 0
    assert_same_result(ra, rb, a.monitors, b.monitors)
    assert_same_state(a, b)


def test_generator_state_is_restored(tmp_path):
    a, _ = build(seed=3)
    a.run(5 * ms)
    io.save(tmp_path / "n.h5", a)
    b = io.load(tmp_path / "n.h5")
    for net in (a, b):   # new random synapses, weights, delays and initial values
        net.connect(net["poisson"], net["cur/rent"], sn.FixedProbability(0.3),
                    weight=sn.Uniform(0, 1 * mV), delay=sn.Uniform(1 * ms, 2 * ms), name="late")
        net["exc"].set_initial(theta=sn.Uniform(0.0, 1 * mV))
    la, lb = (n.projection("late") for n in (a, b))
    for x, y in zip(la.get_weights("sparse"), lb.get_weights("sparse")):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(la.delays, lb.delays)
    np.testing.assert_array_equal(a["exc"].get_state("theta"), b["exc"].get_state("theta"))
    ra, rb = a.run(10 * ms), b.run(10 * ms)
    assert_same_result(ra, rb, a.monitors, b.monitors)
    assert_same_state(a, b)


def test_generator_state_is_not_reseeded(tmp_path):
    a = sn.Network(dt=0.1 * ms, seed=9)
    a.add(sn.LIF(3), name="x")
    a._rng.uniform(size=17)           # the builder has drawn something
    io.save(tmp_path / "n.h5", a)
    b = io.load(tmp_path / "n.h5")
    assert b._rng.bit_generator.state == a._rng.bit_generator.state
    assert b._rng.uniform() == a._rng.uniform()


def test_result_round_trips_exactly(tmp_path):
    a, o = build()
    a.run(10 * ms)
    res = a.run(20 * ms)
    path = tmp_path / "res.h5"
    io.save(path, a, res)
    b, res2 = io.load(path)
    assert isinstance(res2, sn.Result)
    assert (res2.t_start, res2.t_stop) == (res.t_start, res.t_stop)
    # indexable by the original handles and by the loaded network's handles
    assert_same_result(res, res2, a.monitors, a.monitors)
    assert_same_result(res, res2, a.monitors, b.monitors)
    for k in ("spk_t", "spk_i", "srec_out", "rrec_out"):
        np.testing.assert_array_equal(res._raw[k], res2._raw[k], strict=True)
    assert len(res[o["mons"]["poi"]]) > 0
    assert io.load(path, with_result=False).__class__ is sn.Network
    assert io.load(tmp_path / "res.h5", with_result=True)[1] is not None
    io.save(tmp_path / "nores.h5", a)
    assert io.load(tmp_path / "nores.h5", with_result=True)[1] is None


def test_result_of_another_network_keeps_its_handles(tmp_path):
    a, o = build()
    res = a.run(10 * ms)
    other = sn.Network(dt=0.1 * ms, seed=1)
    other.add(sn.LIF(2), name="solo")
    io.save(tmp_path / "x.h5", other, res)
    _, res2 = io.load(tmp_path / "x.h5")
    assert_same_result(res, res2, a.monitors, a.monitors)


def test_plain_h5py_reading_follows_the_documented_layout(tmp_path):
    """docs/hdf5-format.md: read spikes and weights without snnsim.io."""
    a, o = build()
    res = a.run(20 * ms)
    path = tmp_path / "doc.h5"
    io.save(path, a, res)
    spikes = res[o["mons"]["exc"]]
    pre, post, w = o["het"].get_weights("sparse")
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "snnsim" and f.attrs["format_version"] == 1
        assert isinstance(f.attrs["snnsim_version"], str)
        times = f["results/spikes/exc/times"][()]
        steps = f["results/spikes/exc/steps"][()]
        idx = f["results/spikes/exc/indices"][()]
        g = f["network/projections/het"]
        fw, fpre, fpost = g["weights"][()], g["pre"][()], g["post"][()]
        delays = g["delay_steps"][()] * f["network"].attrs["dt"]
        assert g.attrs["pre_population"] == "poisson"
        assert g["plasticity"].attrs["type"] == "PairSTDP"
        assert g["plasticity"].attrs["a_minus"] == 0.012
        # a "/" in a name is escaped as %2F
        assert f["network/populations/cur%2Frent"].attrs["name"] == "cur/rent"
        assert list(f["network/populations"].attrs["order"])[3] == "cur/rent"
        v = f["results/states/exc/v"][()]
        assert f["network/populations/exc/params/synapses"].attrs["type"] == "Conductance"
        dense = np.zeros((f["network/populations/poisson"].attrs["n"],
                          f["network/populations/exc"].attrs["n"]))
        dense[fpre, fpost] = fw
    np.testing.assert_array_equal(times, spikes.times)
    np.testing.assert_array_equal(steps * a.dt, spikes.times)
    np.testing.assert_array_equal(idx, spikes.indices)
    np.testing.assert_array_equal(fw, w)
    np.testing.assert_array_equal(fpre, pre)
    np.testing.assert_array_equal(fpost, post)
    np.testing.assert_array_equal(delays, o["het"].delays)
    np.testing.assert_array_equal(dense, o["het"].weights)
    np.testing.assert_array_equal(v, res[o["mons"]["state"]]["v"])


def test_documented_example_runs(tmp_path):
    """The plain-h5py example of docs/hdf5-format.md runs on a saved Diehl & Cook network."""
    from snnsim.learning.diehl_cook import DiehlCookNetwork, DiehlCookParams
    doc = (Path(__file__).parents[1] / "docs" / "hdf5-format.md").read_text()
    code = re.search(r"## Reading a file with plain h5py.*?```python\n(.*?)```", doc, re.S).group(1)
    assert "snnsim" not in code.replace('"snnsim"', "")
    dc = DiehlCookNetwork(DiehlCookParams(n_exc=3), 16, seed=0, rest_mode="reset")
    dc.input.set_rates(np.full(16, 60.0))
    res = dc.network.run(50 * ms)
    io.save(tmp_path / "net.h5", dc.network, res)
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["DiehlCookSTDP", "1.0"]


def test_user_defined_rule_loads_as_stored_synapses(tmp_path):
    from snnsim._params import params

    @params
    class FixedProbability(sn.ConnectivityRule):   # a user's class, named like a built-in
        def build(self, n_pre, n_post, rng, same_population):
            pre = np.arange(n_pre, dtype=np.int64)
            return pre, pre % n_post

    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.SpikeSource(6, times=np.arange(6) * ms, indices=np.arange(6)), name="a")
    b = net.add(sn.LIF(3), name="b")
    pr = net.connect(a, b, FixedProbability(), weight=20 * mV)
    io.save(tmp_path / "u.h5", net)
    b2 = io.load(tmp_path / "u.h5").projection("a->b")
    assert isinstance(b2.rule, sn.FromArrays)
    np.testing.assert_array_equal(b2.get_weights(), pr.get_weights())
    with pytest.raises(sn.NetworkError, match="only snnsim's own model classes"):
        @params
        class MyLIF(sn.LIF):
            pass
        net.add(MyLIF(2), name="mine")
        io.save(tmp_path / "v.h5", net)


def test_large_datasets_are_compressed(tmp_path):
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(100), name="a")
    b = net.add(sn.LIF(100), name="b")
    net.connect(a, b, weight=sn.Uniform(0, 1e-3))
    io.save(tmp_path / "c.h5", net)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["network/projections/a->b/weights"].compression == "gzip"
        assert f["network/projections/a->b/pre"].compression == "gzip"


def _real_file(tmp_path) -> Path:
    net, _ = build()
    net.run(5 * ms)
    path = tmp_path / "real.h5"
    io.save(path, net)
    return path


def test_random_bytes_are_rejected(tmp_path):
    p = tmp_path / "noise.h5"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(sn.FileFormatError, match=r"noise\.h5.*not an HDF5 file"):
        io.load(p)


def test_foreign_hdf5_is_rejected(tmp_path):
    p = tmp_path / "foreign.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("data", data=np.arange(10))
    with pytest.raises(sn.FileFormatError, match=r"foreign\.h5.*not an snnsim file"):
        io.load(p)
    with h5py.File(p, "a") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(sn.FileFormatError, match="not an snnsim file"):
        io.load(p)


def test_truncated_file_is_rejected(tmp_path):
    real = _real_file(tmp_path)
    data = real.read_bytes()
    for frac in (0.5, 0.9):
        p = tmp_path / f"trunc{frac}.h5"
        p.write_bytes(data[:int(len(data) * frac)])
        with pytest.raises(sn.FileFormatError, match=rf"trunc{frac}\.h5.*truncated"):
            io.load(p)


def test_damaged_content_is_rejected(tmp_path):
    real = _real_file(tmp_path)
    with h5py.File(real, "a") as f:
        del f["network/projections/het/weights"]
    io.seal(real)
    with pytest.raises(sn.FileFormatError, match=r"real\.h5"):
        io.load(real)


def test_future_format_version_is_rejected(tmp_path):
    real = _real_file(tmp_path)
    with h5py.File(real, "a") as f:
        f.attrs["format_version"] = np.int64(2)
    io.seal(real)   # as a newer snnsim would have written it
    with pytest.raises(sn.FileFormatError, match=r"real\.h5.*format_version 2.*upgrade"):
        io.load(real)


def test_unknown_class_name_is_not_looked_up(tmp_path):
    real = _real_file(tmp_path)
    with h5py.File(real, "a") as f:
        f["network/populations/exc/params"].attrs["type"] = "os.system"
    io.seal(real)
    with pytest.raises(sn.FileFormatError, match="unknown or misplaced model class 'os.system'"):
        io.load(real)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        io.load("/nonexistent/dir/x.h5")


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    p = tmp_path / "keep.h5"
    net, _ = build()
    io.save(p, net)
    before = p.read_bytes()
    with pytest.raises(RuntimeError):
        with io.atomic_write(p) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("interrupted")
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.h5"]
    with pytest.raises(sn.NetworkError):    # a failing save does not replace the file either
        io.save(p, "not a network")
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["keep.h5"]


def test_no_pickle_in_the_package():
    root = Path(sn.__file__).parent
    pat = re.compile(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|marshal|shelve)\b"
                     r"|allow_pickle\s*=\s*True|(?<![.\w])(eval|exec)\(", re.M)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if pat.search(p.read_text())]
    assert offenders == []


# -- validation on read: every value that reaches a network or compiled code is checked -----

@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """A file (written without the checksum block, as files before it and checkpoints are)
    of the build() network after a short run, with its result: spikes in flight in every
    input population, traces and Poisson waiting times under way."""
    net, _ = build()
    net.run(5 * ms)
    res = net.run(3 * ms)
    p = tmp_path_factory.mktemp("stored") / "base.h5"
    with h5py.File(p, "w") as f:
        io.write_network(f, net, res)
    return p


def _edited(tmp_path: Path, stored: Path, edit, name: str = "bad.h5") -> Path:
    p = tmp_path / name
    p.write_bytes(stored.read_bytes())
    with h5py.File(p, "r+") as f:
        edit(f)
    return p


def _set(path: str, index, value):
    def edit(f):
        ds = f[path]
        if index is None:
            ds[...] = value
        else:
            ds[index] = value
    return edit


def _attr_set(path: str, name: str, value):
    def edit(f):
        f[path].attrs[name] = value
    return edit


def _replace(path: str, data):
    def edit(f):
        del f[path]
        f[path] = data
    return edit


def _hist_pair(f, pop: str, row: int, entries, count: int):
    s = f[f"network/populations/{pop}/state"]
    h = s["hist"][()]
    h[row, :len(entries)] = entries
    s["hist"][...] = h
    c = s["hist_count"][()]
    c[row] = count
    s["hist_count"][...] = c


P = "network/populations"
Q = "network/projections"
# (what, edit, pattern the FileFormatError must match: the dataset or attribute, and the value)
BAD_FILES = [
    ("history count above the population size (a segfault before)",
     _set(f"{P}/exc/state/hist_count", 7, 21),
     r"exc/state/hist_count\[7\] = 21; allowed: an integer in \[0, 20\]"),
    ("history entry out of range",
     lambda f: _hist_pair(f, "poisson", 3, [40], 1),
     r"poisson/state/hist\[3\]\[0\] = 40; allowed: a neuron index in \[0, 39\]"),
    ("negative history entry",
     lambda f: _hist_pair(f, "source", 0, [-2], 1), r"source/state/hist\[0\]\[0\] = -2"),
    ("a neuron twice in one step",
     lambda f: _hist_pair(f, "exc", 1, [3, 3], 2), r"exc/state/hist\[1\] lists neuron 3 twice"),
    ("NaN weight", _set(f"{Q}/rec/weights", 2, np.nan), r"rec/weights\[2\] = nan; allowed: finite"),
    ("weight above w_max of a plastic rule", _set(f"{Q}/emi/weights", 0, 1.5),
     r"emi/weights\[0\] = 1.5; allowed: finite, in \[0, 1\] \(the \[w_min, w_max\] of its Triplet"),
    ("negative conductance weight", _set(f"{Q}/rec/weights", 0, -0.1),
     r"rec/weights\[0\] = -0.1; allowed: finite, in \[0, "),
    ("NaN membrane potential", _set(f"{P}/exc/state/v", 3, np.nan), r"exc/state/v\[3\] = nan"),
    ("infinite current", _set(f"{P}/cur%2Frent/state/g_i", 0, -np.inf),
     r"cur%2Frent/state/g_i\[0\] = -inf"),
    ("huge state", _set(f"{P}/exc/state/theta", 0, 1e300), r"exc/state/theta\[0\] = 1e\+300"),
    ("negative conductance", _set(f"{P}/exc/state/g_e", 0, -1.0), r"exc/state/g_e\[0\] = -1.0"),
    ("negative initial conductance", _set(f"{P}/frozen/initial/g_i", 4, -0.5),
     r"frozen/initial/g_i\[4\] = -0.5"),
    ("theta of a population without adaptive threshold", _set(f"{P}/cur%2Frent/state/theta", 1,
                                                              1e-3),
     r"cur%2Frent/state/theta\[1\] = 0.001; allowed: 0.0 \(LIF does not use it\)"),
    ("NaN trace", _set(f"{Q}/het/traces/x", (0, 4), np.nan), r"het/traces/x\[0\]\[4\] = nan"),
    ("negative trace", _set(f"{Q}/hom/traces/y", (1, 0), -1.0), r"hom/traces/y\[1\]\[0\] = -1.0"),
    ("nearest-spike trace above 1", _set(f"{Q}/near/traces/x", (0, 3), 2.0),
     r"near/traces/x\[0\]\[3\] = 2.0; allowed: finite, in \[0, 1\]"),
    ("negative trace history", _set(f"{Q}/het/traces/x_history", (1, 3, 2), -1.0),
     r"het/traces/x_history\[1\]\[3\]\[2\] = -1.0"),
    ("infinite plasticity gain", _set(f"{Q}/emi/traces/gain", 2, np.inf),
     r"emi/traces/gain\[2\] = inf"),
    ("negative step", _attr_set("network", "step", np.int64(-1)),
     r"/network/@step = -1; allowed: an integer in \[0, 9007199254740992\]"),
    ("pending Poisson spike in the past", _set(f"{P}/poisson/state/next_spike", 5, 79),
     r"poisson/state/next_spike\[5\] = 79; allowed: an integer >= 80"),
    ("negative next-spike step", _set(f"{P}/exc/state/next_spike", 0, -1),
     r"exc/state/next_spike\[0\] = -1; allowed: an integer >= 0"),
    ("all-zero random state", _set(f"{P}/poisson/state/rng", None, 0),
     r"poisson/state/rng is all zero"),
    ("spike probability of 2", _set(f"{P}/poisson/state/p_spike", 0, 2.0),
     r"poisson/state/p_spike\[0\] = 2.0; allowed: finite, in \[0, 1\]"),
    ("spike probability that is not rate * dt", _set(f"{P}/poisson/state/p_spike", 0, 0.5),
     r"poisson/state/p_spike\[0\] = 0.5; allowed: 0.002 \(rates \* dt\)"),
    ("NaN log(1 - p)", _set(f"{P}/poisson/state/log_q", 1, np.nan), r"poisson/state/log_q\[1\]"),
    ("bias other than R_m i_bias", _set(f"{P}/cur%2Frent/state/bias", 0, 1.0),
     r"cur%2Frent/state/bias\[0\] = 1.0; allowed: 0.0 \(R_m \* i_bias of params\)"),
    ("refractory counter beyond int32 (wrapped before)",
     _replace(f"{P}/exc/state/ref", np.full(20, 2 ** 31, dtype=np.int64)),
     r"exc/state/ref\[0\] = 2147483648; allowed: an integer in \[0, 20\]"),
    ("negative refractory counter", _set(f"{P}/exc/state/ref", 0, -3), r"exc/state/ref\[0\] = -3"),
    ("history count as floats", _replace(f"{P}/exc/state/hist_count", np.zeros(51)),
     r"exc/state/hist_count has dtype float64"),
    ("wrong shape", _replace(f"{P}/exc/state/v", np.zeros(21)),
     r"exc/state/v has shape \(21,\); expected \(20,\)"),
    ("SpikeSource position beyond the events passed", _attr_set(f"{P}/source/state",
                                                               "source_pos", np.int64(7)),
     r"source/state/@source_pos = 7; allowed: an integer in \[0, 6\]"),
    ("plasticity switched on in the future", _attr_set(f"{Q}/het", "on_step", np.int64(81)),
     r"het/@on_step = 81; allowed: an integer in \[0, 80\]"),
    ("population size that disagrees with the datasets",
     _attr_set(f"{P}/exc/params", "n", np.int64(2 ** 40)), r"exc/params"),
    ("boolean stored as a number", _attr_set(f"{P}/poisson/state", "redraw", np.int64(1)),
     r"poisson/state/@redraw must be a boolean, got 1"),
    ("a redraw flag on a non-Poisson population",
     _attr_set(f"{P}/exc/state", "redraw", np.bool_(True)),
     r"exc/state/@redraw is True, but 'exc' is not a PoissonInput"),
    ("recorded spike outside the run", _set("results/raw/spike_steps", 0, -5),
     r"results/raw/spike_steps\[0\] = -5; allowed: an integer in \[50, 79\]"),
    ("recorder over 2**31 neurons", _attr_set("results/monitors/0", "n", np.int64(2 ** 40)),
     r"results/monitors/0/@n = 1099511627776; allowed: an integer in \[1, 2147483647\]"),
    ("rate count above the population size", _set("results/raw/rate_counts", (0, 3), 11),
     r"rate_counts\[0\]\[3\] = 11; allowed: at most 10 spikes a step"),
    ("even PCG64 increment", _attr_set("network/generator", "inc",
                                       np.array([0, 2], dtype=np.uint64)),
     r"generator/@inc is even"),
    ("a soft link instead of a dataset",
     lambda f: (f[f"{Q}/het"].__delitem__("weights"),
                f[f"{Q}/het"].__setitem__("weights", h5py.SoftLink(f"/{Q}/het/delay_steps"))),
     r"het/weights is a SoftLink; snnsim files hold no links"),
]


@pytest.mark.parametrize("what, edit, pattern", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_values_are_refused_naming_the_dataset(tmp_path, stored, what, edit, pattern):
    p = _edited(tmp_path, stored, edit)
    with pytest.raises(sn.FileFormatError, match=pattern) as info:
        io.load(p)
    assert "bad.h5" in str(info.value)


def test_the_unedited_file_loads_and_continues(tmp_path, stored):
    """The reference for the table above: the same file, unedited, loads and runs."""
    p = tmp_path / "good.h5"
    p.write_bytes(stored.read_bytes())
    net, res = io.load(p)
    assert net.t == pytest.approx(8 * ms) and res.n_steps == 30
    r = net.run(5 * ms)
    assert len(r[net.monitors[0]]) > 0


# the float datasets of the state: any non-finite or out-of-bound element is refused, by name
FLOAT_STATE = [f"{P}/exc/state/v", f"{P}/exc/state/g_e", f"{P}/exc/state/theta",
               f"{P}/cur%2Frent/state/g_e", f"{P}/cur%2Frent/initial/v", f"{Q}/het/weights",
               f"{Q}/hom/weights", f"{Q}/exc->cur%2Frent/weights", f"{Q}/het/traces/x",
               f"{Q}/emi/traces/y", f"{Q}/het/traces/x_history", f"{Q}/near/traces/gain",
               f"{P}/poisson/rates"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(FLOAT_STATE), where=st.integers(0, 10 ** 6),
       value=st.one_of(st.sampled_from([np.nan, np.inf, -np.inf]),
                       st.floats(1.01e30, 1e308), st.floats(-1e308, -1.01e30)))
def test_non_finite_or_huge_floats_are_refused(tmp_path, stored, path, where, value):
    def edit(f):
        ds = f[path]
        i = np.unravel_index(where % ds.size, ds.shape)
        ds[i] = value
    p = _edited(tmp_path, stored, edit)
    with pytest.raises(sn.FileFormatError, match=re.escape(path.split("/", 2)[2])):
        io.load(p)


# integer datasets that index compiled code: any element outside its range is refused
INDEXING = [(f"{P}/exc/state/hist_count", 0, 20), (f"{P}/poisson/state/hist_count", 0, 40),
            (f"{Q}/het/pre", 0, 39), (f"{Q}/het/post", 0, 19), (f"{Q}/rec/post", 0, 19),
            (f"{Q}/het/delay_steps", 1, 2 ** 30), (f"{P}/frozen/state/ref", 0, 20)]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=st.sampled_from(INDEXING), where=st.integers(0, 10 ** 6),
       offset=st.integers(1, 2 ** 62), below=st.booleans())
def test_out_of_range_indices_and_counts_are_refused(tmp_path, stored, entry, where, offset,
                                                     below):
    path, lo, hi = entry
    value = lo - offset if below else hi + offset

    def edit(f):
        data = f[path][()].astype(np.int64)
        data.flat[where % data.size] = value
        del f[path]
        f[path] = data
    p = _edited(tmp_path, stored, edit)
    with pytest.raises(sn.FileFormatError, match=re.escape(path.split("/", 2)[2])):
        io.load(p)


def test_a_sealed_file_with_flipped_bits_is_refused(tmp_path):
    """io.save seals the file with its SHA-256: a flipped bit in a weight (which loaded
    silently, as another weight, before) or anywhere else is refused before the HDF5
    library reads the file."""
    net, o = build()
    net.run(2 * ms)
    p = tmp_path / "sealed.h5"
    io.save(p, net)
    with h5py.File(p, "r") as f:
        off = f["network/projections/emi/weights"].id.get_offset()
    assert p.read_bytes()[:14] == b"snnsim-seal 1\n"
    for k, pos in enumerate((off + 3, 700, p.stat().st_size - 1, 20)):
        data = bytearray(p.read_bytes())
        data[pos] ^= 0x10
        bad = tmp_path / f"flip{k}.h5"
        bad.write_bytes(bytes(data))
        with pytest.raises(sn.FileFormatError, match=rf"flip{k}\.h5.*(checksum|block)"):
            io.load(bad)
    data = p.read_bytes()
    (tmp_path / "long.h5").write_bytes(data + b"\0")
    with pytest.raises(sn.FileFormatError, match="longer than written"):
        io.load(tmp_path / "long.h5")
    (tmp_path / "short.h5").write_bytes(data[:-100])
    with pytest.raises(sn.FileFormatError, match="truncated or incomplete"):
        io.load(tmp_path / "short.h5")
    # a change made on purpose is accepted once sealed again
    with h5py.File(p, "r+") as f:
        f["network/projections/emi/weights"][0] = 0.5
    with pytest.raises(sn.FileFormatError, match=r"checksum mismatch.*snnsim\.io\.seal"):
        io.load(p)
    io.seal(p)
    assert io.load(p).projection("emi").get_weights("sparse")[2][0] == 0.5
    with pytest.raises(sn.FileFormatError, match="no snnsim checksum block"):
        io.seal(_unsealed(tmp_path, net))


def _unsealed(tmp_path: Path, net) -> Path:
    p = tmp_path / "plain.h5"
    with h5py.File(p, "w") as f:
        io.write_network(f, net)
    return p


def test_save_refuses_weights_that_load_would_refuse(tmp_path):
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(3, rate=50 * Hz), name="a")
    b = net.add(sn.LIF(2), name="b")
    pr = net.connect(a, b, weight=0.5, plasticity=sn.PairSTDP(w_max=1.0))
    pr.set_weights(np.full(6, 2.0))    # the builder takes it; the rule clips it when it acts
    with pytest.raises(sn.NetworkError, match=r"cannot save projection 'a->b': synapse 0 has "
                                              r"weight 2, outside \[w_min, w_max\] = \[0, 1\]"):
        io.save(tmp_path / "w.h5", net)
    assert not (tmp_path / "w.h5").exists()
    pr.set_weights(np.full(6, 1.0))
    io.save(tmp_path / "w.h5", net)
    assert io.load(tmp_path / "w.h5").projection("a->b").get_weights("sparse")[2].max() == 1.0
    # a normalised projection may hold weights beyond w_max until the rule's next update
    c = sn.Network(dt=0.1 * ms, seed=0)
    a = c.add(sn.PoissonInput(3, rate=50 * Hz), name="a")
    b = c.add(sn.LIF(2), name="b")
    pr = c.connect(a, b, weight=0.1, plasticity=sn.PairSTDP(w_max=0.2),
                   normalization=sn.WeightNormalization(1.5))
    c.normalize_weights(pr)
    io.save(tmp_path / "n.h5", c)
    np.testing.assert_array_equal(io.load(tmp_path / "n.h5").projection("a->b").weights, pr.weights)


def test_damaged_hdf5_internals_become_file_format_errors(tmp_path, stored):
    """An unsealed file (as checkpoints and older files are) whose HDF5 structures are
    damaged: errors of the HDF5 library become FileFormatError naming the file."""
    rng = np.random.default_rng(3)
    seen = 0
    for k in range(12):
        data = bytearray(stored.read_bytes())
        for pos in rng.integers(0, 4096, size=8):   # superblock, root group, first headers
            data[pos] ^= 1 << int(rng.integers(8))
        p = tmp_path / f"d{k}.h5"
        p.write_bytes(bytes(data))
        try:
            io.load(p)
        except sn.SnnsimError as exc:
            assert f"d{k}.h5" in str(exc)
            seen += 1
    assert seen >= 6


def test_load_checks_with_result():
    with pytest.raises(sn.ParameterError, match="with_result must be None, True or False"):
        io.load("x.h5", with_result="yes")
