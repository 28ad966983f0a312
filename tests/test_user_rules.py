"""A plasticity rule outside the triplet family, written in the test file with no edit of
snnsim: soft bounds with separate exponents for potentiation and depression, on the numba
engine, checked against its closed-form pairing window."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snnsim as sn
from snnsim._params import param, params
from snnsim.plasticity import PlasticityRule, RuleKernel
from snnsim.units import ms

from test_stdp import DT, _pairing_net

# ---- the user's rule --------------------------------------------------------------------------
# dw = +a_plus x1 (w_max - w)**mu_plus at a postsynaptic spike,
# dw = -a_minus y1 (w - w_min)**mu_minus at a presynaptic arrival; pair traces (x1, y1).


def sb_depress(w, y1, x2, p):
    return min(max(w - p.a_minus * y1 * (w - p.w_min) ** p.mu_minus, p.w_min), p.w_max)


def sb_potentiate(w, x1, y2, p):
    return min(max(w + p.a_plus * x1 * (p.w_max - w) ** p.mu_plus, p.w_min), p.w_max)


@params
class SoftBoundSTDP(PlasticityRule):
    a_plus: float = param(0.01)
    a_minus: float = param(0.012)
    tau_plus: float = param(20 * ms)
    tau_minus: float = param(20 * ms)
    mu_plus: float = param(0.5)
    mu_minus: float = param(2.0)
    w_min: float = param(0.0)
    w_max: float = param(1.0)
    timing: str = param("arrival")

    def kernel_params(self, dt):
        px, py = math.exp(-dt / self.tau_plus), math.exp(-dt / self.tau_minus)
        return {"p_x1": px, "p_x2": px, "p_y1": py, "p_y2": py, "near_x": 0.0, "near_y": 0.0,
                "emission": 0.0, "a_plus": self.a_plus, "a_minus": self.a_minus,
                "mu_plus": self.mu_plus, "mu_minus": self.mu_minus, "w_min": self.w_min,
                "w_max": self.w_max}

    def kernel(self):
        return RuleKernel("SoftBoundSTDP", ("a_plus", "a_minus", "mu_plus", "mu_minus", "w_min",
                                            "w_max"), sb_depress, sb_potentiate)
# ---- end of the user's rule -------------------------------------------------------------------


@pytest.mark.parametrize("w0", [0.2, 0.5, 0.9])
def test_soft_bound_rule_pairing_window(w0):
    rule = SoftBoundSTDP()
    dts = np.arange(-60, 61, 5.0) * ms
    t0 = 100 * ms
    pre_times = [[t0 - DT] for _ in dts]            # arrival (one-step delay) at t0
    post_times = [[t0 + d] for d in dts]
    net, proj, spikes = _pairing_net(pre_times, post_times, rule, w0=w0)
    res = net.run(200 * ms)
    st = res[spikes]
    assert np.array_equal(np.sort(st.indices), np.arange(dts.size))  # each fired once, on time
    pre, post, w = proj.get_weights("sparse")
    got = np.empty(dts.size)
    got[post] = w
    # closed form of one pair: the trace of the earlier spike, seen at the later one
    x = np.exp(-np.abs(dts) / (20 * ms))
    expected = np.where(dts >= 0, w0 + 0.01 * x * (1.0 - w0) ** 0.5,
                        w0 - 0.012 * x * (w0 - 0.0) ** 2.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
    # and it is not the triplet family's window (the exponents matter)
    pair = np.where(dts >= 0, w0 + 0.01 * x, w0 - 0.012 * x)
    assert np.max(np.abs(got - pair)) > 1e-4


def test_engines_without_compiled_rules_refuse_it():
    net, proj, spikes = _pairing_net([[1 * ms]], [[2 * ms]], SoftBoundSTDP())
    with pytest.raises(sn.UnsupportedModelError,
                       match=r"engine 'reference' cannot run plasticity rule 'SoftBoundSTDP'"):
        net.run(5 * ms, engine="reference")
