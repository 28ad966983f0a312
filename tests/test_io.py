"""Saving and loading networks and results (snnsim.io): bitwise round trips, the documented
plain-h5py layout, bad files, atomic writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

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
    from snnsim.diehl_cook import DiehlCookNetwork, DiehlCookParams
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
    with pytest.raises(sn.FileFormatError, match=r"real\.h5"):
        io.load(real)


def test_future_format_version_is_rejected(tmp_path):
    real = _real_file(tmp_path)
    with h5py.File(real, "a") as f:
        f.attrs["format_version"] = np.int64(2)
    with pytest.raises(sn.FileFormatError, match=r"real\.h5.*format_version 2.*upgrade"):
        io.load(real)


def test_unknown_class_name_is_not_looked_up(tmp_path):
    real = _real_file(tmp_path)
    with h5py.File(real, "a") as f:
        f["network/populations/exc/params"].attrs["type"] = "os.system"
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
