"""A neuron model written in a user's own file, with no edit of snnsim: the Izhikevich (2003)
neuron on the numba engine, against an independent NumPy integration of the same equations
with the same scheme and step."""

from __future__ import annotations

import numpy as np
import pytest

import snnsim as sn
from snnsim.errors import UnsupportedModelError
from snnsim.neurons import NeuronKernel, NeuronModel, count, param, params
from snnsim.units import ms

# ---- the user's model: 36 lines ---------------------------------------------------------------
# Izhikevich (2003): v' = 0.04 v^2 + 5 v + 140 - u + I, u' = a (b v - u), v in mV, t in ms;
# at v >= 30 mV: v <- c, u <- u + d.  Forward Euler with the network's dt; synaptic input as
# jumps of v (the channels i_e/i_i are volts added at the next step, then cleared).


def izh_update(v, u, i_e, i_i, p):
    vm = (v + i_e + i_i) * 1000.0
    vn = vm + p.dt_ms * (0.04 * vm * vm + 5.0 * vm + 140.0 - u + p.i_ext)
    un = u + p.dt_ms * (p.a * (p.b * vm - u))
    return vn * 0.001, un, 0.0, 0.0


def izh_threshold(v, u, i_e, i_i, p):
    return v >= 0.030


def izh_reset(v, u, i_e, i_i, p):
    return p.c * 0.001, u + p.d, i_e, i_i


@params
class Izhikevich(NeuronModel):
    n: int = param(check=count)
    a: float = param(0.02)
    b: float = param(0.2)
    c: float = param(-65.0)     # mV
    d: float = param(8.0)
    i_ext: float = param(10.0)  # the model's current units

    def lower(self, dt):
        return {"a": self.a, "b": self.b, "c": self.c, "d": self.d, "i_ext": self.i_ext,
                "dt_ms": dt * 1000.0, "ref_steps": 0}

    def kernel(self):
        return NeuronKernel("Izhikevich", ("v", "u", "i_e", "i_i"),
                            ("a", "b", "c", "d", "i_ext", "dt_ms"), izh_update, izh_threshold,
                            izh_reset, hold=(), count=("v", "u"), units=("V", "", "V", "V"))

    def initial_state(self):
        return {"v": self.c * 0.001, "u": self.b * self.c, "i_e": 0.0, "i_i": 0.0}
# ---- end of the user's model -----------------------------------------------------------------

PATTERNS = {"regular spiking": dict(a=0.02, b=0.2, c=-65.0, d=8.0),
            "fast spiking": dict(a=0.1, b=0.2, c=-65.0, d=2.0),
            "chattering": dict(a=0.02, b=0.2, c=-50.0, d=2.0)}
DT = 0.1 * ms
T = 500 * ms


def numpy_izhikevich(a, b, c, d, i_ext, dt, n_steps):
    """The same equations and scheme, written independently (mV, ms); spike steps."""
    dt_ms = dt * 1000.0
    v, u = c, b * c
    spikes = []
    for n in range(n_steps):
        vn = v + dt_ms * (0.04 * v * v + 5.0 * v + 140.0 - u + i_ext)
        u = u + dt_ms * (a * (b * v - u))
        v = vn
        if v * 0.001 >= 0.030:
            spikes.append(n)
            v, u = c, u + d
        else:  # the engine keeps v in volts between steps
            v = (v * 0.001) * 1000.0
    return np.array(spikes, dtype=np.int64)


def simulate(engine: str = "numba"):
    net = sn.Network(dt=DT, seed=0)
    pops = {name: net.add(Izhikevich(1, **pars, i_ext=10.0), name.replace(" ", "_"))
            for name, pars in PATTERNS.items()}
    mons = {name: net.record_spikes(pop) for name, pop in pops.items()}
    res = net.run(T, engine=engine)
    return {name: np.rint(res[m].times / DT).astype(np.int64) for name, m in mons.items()}


@pytest.fixture(scope="module")
def numba_spikes():
    return simulate("numba")


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_izhikevich_spike_times_equal_the_numpy_integration(numba_spikes, pattern):
    ref = numpy_izhikevich(**PATTERNS[pattern], i_ext=10.0, dt=DT, n_steps=int(round(T / DT)))
    assert ref.size > 5
    np.testing.assert_array_equal(numba_spikes[pattern], ref)


def test_izhikevich_patterns_are_recognisable_from_their_isis(numba_spikes):
    isi = {k: np.diff(v) * DT for k, v in numba_spikes.items()}
    rs, fs, ch = isi["regular spiking"], isi["fast spiking"], isi["chattering"]
    # regular spiking adapts: the first interval is much shorter than the steady ones
    assert rs[0] < 0.6 * np.median(rs[-5:])
    # fast spiking: a higher, steady rate (small spread of the late intervals)
    assert fs.size > 2 * rs.size and np.std(fs[5:]) < 0.05 * np.mean(fs[5:])
    # chattering: bursts, i.e. both short within-burst and long between-burst intervals
    short, long_ = ch < 10 * ms, ch > 20 * ms
    assert short.sum() >= 2 * long_.sum() > 0


def test_state_of_the_users_variable_is_readable_and_settable():
    net = sn.Network(dt=DT, seed=0)
    pop = net.add(Izhikevich(3), "izh")
    assert pop.variables == ("v", "u", "i_e", "i_i")
    np.testing.assert_array_equal(pop.get_state("u"), np.full(3, 0.2 * -65.0))
    pop.set_state(u=np.array([0.0, 1.0, 2.0]))
    mon = net.record_state(pop, "u", indices=[0, 1, 2])
    res = net.run(2 * DT)
    # u' = a (b v - u) at the first step, from v = c
    u1 = np.array([0.0, 1.0, 2.0]) + 0.1 * (0.02 * (0.2 * -65.0 - np.array([0.0, 1.0, 2.0])))
    np.testing.assert_array_equal(res[mon]["u"][1], u1)   # samples x neurons
    before = pop.get_state("u")
    net.reset_state(keep=("u",))
    np.testing.assert_array_equal(pop.get_state("u"), before)
    net.reset_state()  # set_state before the first run set the initial values
    np.testing.assert_array_equal(pop.get_state("u"), [0.0, 1.0, 2.0])
    assert pop.get_state("v")[0] == -65.0 * 0.001


@pytest.mark.parametrize("engine", ["reference"])
def test_engines_that_cannot_compile_it_say_so(engine):
    net = sn.Network(dt=DT)
    net.add(Izhikevich(1), "izh")
    with pytest.raises(UnsupportedModelError, match=rf"engine '{engine}'.*'Izhikevich'.*'izh'"):
        net.run(1 * ms, engine=engine)


def test_a_model_without_receptor_channels_is_refused():
    class NoChannels(Izhikevich):
        def kernel(self):
            k = super().kernel()
            return NeuronKernel("NoChannels", ("v", "u"), k.params, k.update, k.threshold,
                                k.reset)
    with pytest.raises(sn.ParameterError, match="receptor channels"):
        sn.Network(dt=DT).add(params(NoChannels)(1), "x")


def test_saving_a_users_model_is_refused_by_name(tmp_path):
    from snnsim import io
    net = sn.Network(dt=DT)
    net.add(Izhikevich(1), "izh")
    with pytest.raises(sn.SnnsimError, match="Izhikevich"):
        io.save(tmp_path / "x.h5", net)
    assert not (tmp_path / "x.h5").exists()
