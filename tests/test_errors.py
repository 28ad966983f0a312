"""Bad input raises SnnsimError subclasses whose messages name object, field, value, allowed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import snnsim as sn
from snnsim.units import Hz, mV, ms

bad_floats = st.one_of(st.floats(max_value=0.0, allow_nan=False), st.just(math.nan),
                       st.just(math.inf), st.just(-math.inf))


@settings(max_examples=60, deadline=None)
@given(value=bad_floats, field=st.sampled_from(["tau_m", "tau_theta"]))
def test_non_positive_or_non_finite_time_constants(value, field):
    with pytest.raises(sn.ParameterError) as exc:
        sn.AdaptiveLIF(3, **{field: value})
    msg = str(exc.value)
    assert f"AdaptiveLIF.{field}" in msg and "> 0 s" in msg


@settings(max_examples=40, deadline=None)
@given(value=bad_floats, field=st.sampled_from(["tau_e", "tau_i"]),
       cls=st.sampled_from([sn.Current, sn.Conductance]))
def test_bad_synaptic_time_constants(value, field, cls):
    with pytest.raises(sn.ParameterError, match=f"{cls.__name__}.{field} must be > 0"):
        cls(**{field: value})


@settings(max_examples=50, deadline=None)
@given(v_th=st.floats(-0.1, 0.0), gap=st.floats(0.0, 0.05))
def test_reset_not_below_threshold(v_th, gap):
    with pytest.raises(sn.ParameterError, match=r"LIF.v_reset must be < v_th"):
        sn.LIF(2, v_th=v_th, v_reset=v_th + gap)


@settings(max_examples=50, deadline=None)
@given(dt=st.one_of(st.floats(max_value=0.0, allow_nan=False), st.just(math.nan), st.just(math.inf)))
def test_bad_dt(dt):
    with pytest.raises(sn.ParameterError, match="Network.dt"):
        sn.Network(dt=dt)


@settings(max_examples=50, deadline=None)
@given(rate=st.one_of(st.floats(max_value=-1e-12, allow_nan=False), st.just(math.nan),
                      st.just(math.inf)))
def test_bad_rates(rate):
    with pytest.raises(sn.ParameterError, match="rate"):
        sn.PoissonInput(3, rate=rate)
    net = sn.Network(dt=0.1 * ms)
    inp = net.add(sn.PoissonInput(3, rate=1.0))
    with pytest.raises(sn.ParameterError, match="rate"):
        inp.set_rates([1.0, rate, 2.0])


@settings(max_examples=30, deadline=None)
@given(duration=st.one_of(st.floats(max_value=-1e-12, allow_nan=False), st.just(math.nan),
                          st.just(math.inf)))
def test_bad_run_duration(duration):
    net = sn.Network(dt=0.1 * ms)
    net.add(sn.LIF(1))
    with pytest.raises(sn.ParameterError, match="run.duration"):
        net.run(duration)


@settings(max_examples=30, deadline=None)
@given(n_w=st.integers(0, 12).filter(lambda k: k != 6))
def test_mismatched_weight_and_delay_lengths(n_w):
    net = sn.Network(dt=0.1 * ms)
    a = net.add(sn.PoissonInput(2))
    b = net.add(sn.LIF(3))
    with pytest.raises(sn.ParameterError, match="length 6"):
        net.connect(a, b, weight=np.ones(n_w))
    with pytest.raises(sn.ParameterError, match="length 6"):
        net.connect(a, b, weight=1.0, delay=np.ones(n_w) * ms)


def test_messages_name_object_field_value_and_allowed():
    with pytest.raises(sn.ParameterError) as exc:
        sn.LIF(10, tau_m=-0.02)
    assert str(exc.value) == "LIF.tau_m must be > 0 s and finite, got -0.02 s"
    with pytest.raises(sn.ParameterError, match="unknown parameter 'tau_mem' for LIF; did you mean 'tau_m'"):
        sn.LIF(10, tau_mem=0.02)
    with pytest.raises(sn.ParameterError, match="did you mean 'a_plus'"):
        sn.PairSTDP(aplus=0.1)
    with pytest.raises(sn.ParameterError, match="LIF.n must be an integer >= 1, got 0"):
        sn.LIF(0)
    with pytest.raises(sn.ParameterError, match="missing"):
        sn.LIF()
    with pytest.raises(sn.ParameterError, match="interaction must be one of 'all', 'nearest'.*did you mean 'nearest'"):
        sn.PairSTDP(interaction="neares")
    with pytest.raises(sn.ParameterError, match="w_max must be >= w_min"):
        sn.PairSTDP(w_min=1.0, w_max=0.5)
    with pytest.raises(sn.ParameterError, match="i_bias is not zero"):
        sn.LIF(1, i_bias=1e-9)
    with pytest.raises(sn.ParameterError, match="Uniform.high must be >= low"):
        sn.Uniform(1.0, 0.0)
    with pytest.raises(sn.ParameterError, match="probability"):
        sn.FixedProbability(1.5)
    with pytest.raises(sn.ParameterError, match=r"SpikeSource.indices must be in \[0, 2\)"):
        sn.SpikeSource(2, times=[0.0], indices=[2])


def test_network_usage_errors():
    a_net, b_net = sn.Network(dt=0.1 * ms), sn.Network(dt=0.1 * ms)
    a = a_net.add(sn.PoissonInput(2), name="a")
    b = b_net.add(sn.LIF(2), name="b")
    c = a_net.add(sn.LIF(2), name="c")
    with pytest.raises(sn.NetworkError, match="'b' belongs to another network"):
        a_net.connect(a, b)
    with pytest.raises(sn.NetworkError, match="input"):
        a_net.connect(c, a)
    with pytest.raises(sn.ParameterError, match="receptor.*did you mean 'inh'"):
        a_net.connect(a, c, receptor="ihn")
    with pytest.raises(sn.RecordingError, match="no variable 'vm'.*did you mean 'v'"):
        a_net.record_state(c, ["vm"], [0])
    with pytest.raises(sn.RecordingError, match="explicit neuron indices"):
        a_net.record_state(c, ["v"], None)
    with pytest.raises(sn.RecordingError, match=r"\[0, 2\)"):
        a_net.record_state(c, ["v"], [5])
    with pytest.raises(sn.RecordingError, match="no variable 'g_e'"):
        a_net.record_state(c, ["g_e"], [0])  # current-based: the channel is i_e
    with pytest.raises(sn.ParameterError, match="conductance weights must be >= 0"):
        d = a_net.add(sn.LIF(2, synapses=sn.Conductance()))
        a_net.connect(a, d, weight=-0.1)
    with pytest.raises(sn.ParameterError, match="delays must be >= 0"):
        a_net.connect(a, c, delay=-1 * ms)
    with pytest.raises(sn.NetworkError, match="already exists"):
        a_net.add(sn.LIF(1), name="c")
    with pytest.raises(sn.ParameterError, match="unknown engine 'numbaa'.*did you mean 'numba'"):
        a_net.run(1 * ms, engine="numbaa")
    with pytest.raises(sn.NetworkError, match="not a PoissonInput"):
        c.set_rates(1.0)
    with pytest.raises(sn.ParameterError, match="threads"):
        a_net.run(1 * ms, threads=0)
    with pytest.raises(sn.NetworkError, match="no adaptive threshold"):
        c.theta_frozen = True


def test_dt_larger_than_a_time_constant_warns():
    net = sn.Network(dt=2 * ms)
    with pytest.warns(sn.SnnsimWarning, match="tau_e"):
        net.add(sn.LIF(1, tau_m=20 * ms, synapses=sn.Conductance(tau_e=1 * ms)))


def test_importing_snnsim_does_not_import_optional_backends():
    import subprocess
    import sys
    code = ("import sys, snnsim; net = snnsim.Network(); net.add(snnsim.LIF(1)); net.run(0.001); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('brian2', 'numba_cuda') "
            "or m.startswith('numba.cuda')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
