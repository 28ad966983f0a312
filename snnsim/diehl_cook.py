"""The Diehl & Cook (2015) network: model file, builder, and example presentation.

Diehl, P. U. & Cook, M. (2015) Unsupervised learning of digit recognition using
spike-timing-dependent plasticity. Front. Comput. Neurosci. 9:99.

Poisson inputs (one per pixel) drive ``n_exc`` adaptive-threshold conductance LIF neurons
through all-to-all plastic synapses (:class:`~snnsim.plasticity.DiehlCookSTDP`); each
excitatory neuron excites one inhibitory partner, which inhibits all other excitatory
neurons (soft winner-take-all).  The defaults of :class:`DiehlCookParams` are the
parameters of the authors' published code; ``models/diehl_cook_2015.toml`` spells them out.

Presentation of one example (:meth:`DiehlCookNetwork.present`): incoming weights of every
excitatory neuron are normalised to ``norm_target``; the input fires at
``pixel * rate_per_level * intensity`` Hz for ``present`` seconds, then is silent for
``rest`` seconds (``rest_mode="simulate"``, as in the original) -- or, as a documented
deviation for speed, the network state except theta is reset instead
(``rest_mode="reset"``; theta then relaxes as it would have during the rest).  While
learning, theta relaxes towards ``-exc_theta_offset`` (the original's ``theta - offset``
with theta starting at the 20 mV offset), so neurons that stop firing regain excitability.
If the excitatory layer fired fewer than ``min_spikes`` spikes, the intensity rises by
``intensity_step`` and the example is shown again.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from pathlib import Path

import numpy as np

from ._params import (Params, choice, count, finite, nonnegative, param, params, positive)
from .connectivity import AllToAll, OneToOne
from .distributions import Uniform
from .errors import ParameterError
from .inputs import PoissonInput
from .network import Network
from .neurons import LIF, AdaptiveLIF
from .plasticity import DiehlCookSTDP, WeightNormalization
from .synapses import Conductance
from .units import mV, ms

__all__ = ["DiehlCookParams", "DiehlCookNetwork", "load_model", "MODEL_FILE_KEYS", "DIGITS_SETTINGS"]


@params
class DiehlCookParams(Params):
    """All parameters of the Diehl & Cook network (SI units; defaults = the original code)."""

    dt: float = param(0.5 * ms, unit="s", check=positive)
    # input encoding and presentation
    rate_per_level: float = param(0.125, unit="Hz", check=positive)
    intensity: float = param(2.0, check=positive)
    intensity_step: float = param(1.0, check=positive)
    max_intensity: float = param(32.0, check=positive)
    min_spikes: int = param(5, check=count)
    present: float = param(350 * ms, unit="s", check=positive)
    rest: float = param(150 * ms, unit="s", check=nonnegative)
    # excitatory layer
    n_exc: int = param(400, check=count)
    exc_tau_m: float = param(100 * ms, unit="s", check=positive)
    exc_v_rest: float = param(-65 * mV, unit="V", check=finite)
    exc_v_reset: float = param(-65 * mV, unit="V", check=finite)
    exc_v_th: float = param(-52 * mV, unit="V", check=finite)
    exc_t_ref: float = param(5 * ms, unit="s", check=nonnegative)
    exc_theta_plus: float = param(0.05 * mV, unit="V", check=nonnegative)
    exc_tau_theta: float = param(1e7 * ms, unit="s", check=positive)
    # the original code fires at v > theta - offset + v_th with theta starting at offset
    # (20 mV) and decaying towards 0, so over a long run the threshold drifts down by up to
    # the offset; 0 starts theta at 0 instead (the threshold never drops below v_th)
    exc_theta_offset: float = param(20 * mV, unit="V", check=nonnegative)
    exc_tau_e: float = param(1 * ms, unit="s", check=positive)
    exc_tau_i: float = param(2 * ms, unit="s", check=positive)
    exc_e_e: float = param(0 * mV, unit="V", check=finite)
    exc_e_i: float = param(-100 * mV, unit="V", check=finite)
    # inhibitory layer
    inh_tau_m: float = param(10 * ms, unit="s", check=positive)
    inh_v_rest: float = param(-60 * mV, unit="V", check=finite)
    inh_v_reset: float = param(-45 * mV, unit="V", check=finite)
    inh_v_th: float = param(-40 * mV, unit="V", check=finite)
    inh_t_ref: float = param(2 * ms, unit="s", check=nonnegative)
    inh_tau_e: float = param(1 * ms, unit="s", check=positive)
    inh_tau_i: float = param(2 * ms, unit="s", check=positive)
    inh_e_e: float = param(0 * mV, unit="V", check=finite)
    inh_e_i: float = param(-85 * mV, unit="V", check=finite)
    # input -> excitatory
    w_scale: float = param(0.3, check=positive)
    w_offset: float = param(0.01, check=nonnegative)
    delay_min: float = param(0 * ms, unit="s", check=nonnegative)
    delay_max: float = param(10 * ms, unit="s", check=nonnegative)
    norm_target: float = param(78.0, check=positive)
    # STDP
    nu_pre: float = param(1e-4, check=nonnegative)
    nu_post: float = param(1e-2, check=nonnegative)
    tau_pre: float = param(20 * ms, unit="s", check=positive)
    tau_post1: float = param(20 * ms, unit="s", check=positive)
    tau_post2: float = param(40 * ms, unit="s", check=positive)
    w_max: float = param(1.0, check=positive)
    timing: str = param("arrival", check=choice("arrival", "emission"))
    # recurrent
    w_exc_inh: float = param(10.4, check=nonnegative)
    w_inh_exc: float = param(17.0, check=nonnegative)

    def _validate(self) -> None:
        if self.delay_max < self.delay_min:
            raise ParameterError(f"DiehlCookParams.delay_max must be >= delay_min = "
                                 f"{self.delay_min:.6g} s, got {self.delay_max:.6g} s")
        if self.max_intensity < self.intensity:
            raise ParameterError("DiehlCookParams.max_intensity must be >= intensity")


# model-file section/key -> (field, scale to SI)
MODEL_FILE_KEYS: dict[tuple[str, str], tuple[str, float]] = {
    ("model", "name"): ("", 0.0), ("model", "dt_ms"): ("dt", ms),
    ("input", "rate_per_level_hz"): ("rate_per_level", 1.0),
    ("input", "intensity"): ("intensity", 1.0), ("input", "intensity_step"): ("intensity_step", 1.0),
    ("input", "max_intensity"): ("max_intensity", 1.0), ("input", "min_spikes"): ("min_spikes", 0.0),
    ("input", "present_ms"): ("present", ms), ("input", "rest_ms"): ("rest", ms),
    ("exc", "n"): ("n_exc", 0.0),
    ("input_to_exc", "w_scale"): ("w_scale", 1.0), ("input_to_exc", "w_offset"): ("w_offset", 1.0),
    ("input_to_exc", "delay_min_ms"): ("delay_min", ms),
    ("input_to_exc", "delay_max_ms"): ("delay_max", ms),
    ("input_to_exc", "norm_target"): ("norm_target", 1.0),
    ("stdp", "nu_pre"): ("nu_pre", 1.0), ("stdp", "nu_post"): ("nu_post", 1.0),
    ("stdp", "tau_pre_ms"): ("tau_pre", ms), ("stdp", "tau_post1_ms"): ("tau_post1", ms),
    ("stdp", "tau_post2_ms"): ("tau_post2", ms), ("stdp", "w_max"): ("w_max", 1.0),
    ("stdp", "timing"): ("timing", 0.0),
    ("exc_to_inh", "weight"): ("w_exc_inh", 1.0), ("inh_to_exc", "weight"): ("w_inh_exc", 1.0),
}
for _layer in ("exc", "inh"):
    for _key, _scale in (("tau_m_ms", ms), ("v_rest_mv", mV), ("v_reset_mv", mV),
                         ("v_th_mv", mV), ("t_ref_ms", ms), ("tau_e_ms", ms), ("tau_i_ms", ms),
                         ("e_e_mv", mV), ("e_i_mv", mV)):
        MODEL_FILE_KEYS[(_layer, _key)] = (f"{_layer}_{_key.rsplit('_', 1)[0]}", _scale)
MODEL_FILE_KEYS[("exc", "theta_plus_mv")] = ("exc_theta_plus", mV)
MODEL_FILE_KEYS[("exc", "tau_theta_ms")] = ("exc_tau_theta", ms)
MODEL_FILE_KEYS[("exc", "theta_offset_mv")] = ("exc_theta_offset", mV)


# 8x8 digits (64 inputs instead of 784): with the original normalisation target (78) the
# mean weight would exceed w_max and the layer barely learns (17 % voting for 400 neurons).
# Scaling the target with the number of inputs (78 * 64/784 = 6.4) and raising it 4x, with
# 4x the input intensity, restores a drive comparable to MNIST's: 87 % voting, 93 % linear
# readout for 400 neurons after one epoch (benchmarks/RESULTS.md).
DIGITS_SETTINGS = {"norm_target": 78.0 * 64 / 784 * 4, "intensity": 8.0, "intensity_step": 4.0,
                   "max_intensity": 64.0}


def load_model(path: str | Path, **overrides) -> DiehlCookParams:
    """Read a Diehl & Cook model file (TOML; units in the key names) into parameters.

    Unknown sections or keys are errors (with the closest valid name); ``overrides`` are
    SI field values of :class:`DiehlCookParams` applied on top.  Nothing in the file is
    executed.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ParameterError(f"model file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"model file {str(path)!r} is not valid TOML: {exc}") from None
    known = [f"{s}.{k}" for s, k in MODEL_FILE_KEYS]
    values: dict = {}
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise ParameterError(f"{path}: top-level key {section!r} must be a [section]")
        for key, value in table.items():
            name = f"{section}.{key}"
            if (section, key) not in MODEL_FILE_KEYS:
                hint = difflib.get_close_matches(name, known, n=1)
                raise ParameterError(f"{path}: unknown key {name!r}"
                                     + (f"; did you mean {hint[0]!r}?" if hint else ""))
            field, scale = MODEL_FILE_KEYS[(section, key)]
            if not field:
                continue
            if scale == 0.0:
                values[field] = value
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ParameterError(f"{path}: {name} must be a number, got {value!r}")
                values[field] = float(value) * scale
    values.update(overrides)
    return DiehlCookParams(**values)


class DiehlCookNetwork:
    """A built Diehl & Cook network with the presentation protocol.

    Parameters
    ----------
    params : DiehlCookParams
    n_input : int
        Number of input pixels (784 for MNIST, 64 for 8x8 digits).
    seed : int
        Network seed.
    engine : str
        Engine used to run it.
    rest_mode : {'simulate', 'reset'}
        Simulate the silent pause between examples (original) or reset the state
        (except theta) instead -- faster, a documented deviation.
    """

    def __init__(self, params: DiehlCookParams, n_input: int, seed: int = 0,
                 engine: str = "numba", rest_mode: str = "simulate", **engine_options):
        if rest_mode not in ("simulate", "reset"):
            raise ParameterError(f"rest_mode must be 'simulate' or 'reset', got {rest_mode!r}")
        self.params = p = params
        self.n_input = n_input
        self.engine = engine
        self.engine_options = engine_options
        self.rest_mode = rest_mode
        net = self.network = Network(dt=p.dt, seed=seed)
        self.input = net.add(PoissonInput(n_input, rate=0.0), name="input")
        self.exc = net.add(AdaptiveLIF(
            p.n_exc, tau_m=p.exc_tau_m, v_rest=p.exc_v_rest, v_reset=p.exc_v_reset,
            v_th=p.exc_v_th, t_ref=p.exc_t_ref, theta_plus=p.exc_theta_plus,
            tau_theta=p.exc_tau_theta,
            synapses=Conductance(tau_e=p.exc_tau_e, tau_i=p.exc_tau_i, e_e=p.exc_e_e,
                                 e_i=p.exc_e_i)), name="exc")
        self.inh = net.add(LIF(
            p.n_exc, tau_m=p.inh_tau_m, v_rest=p.inh_v_rest, v_reset=p.inh_v_reset,
            v_th=p.inh_v_th, t_ref=p.inh_t_ref,
            synapses=Conductance(tau_e=p.inh_tau_e, tau_i=p.inh_tau_i, e_e=p.inh_e_e,
                                 e_i=p.inh_e_i)), name="inh")
        self.inh.set_initial(v=p.inh_v_rest)
        rule = DiehlCookSTDP(nu_pre=p.nu_pre, nu_post=p.nu_post, tau_pre=p.tau_pre,
                             tau_post1=p.tau_post1, tau_post2=p.tau_post2, w_max=p.w_max,
                             timing=p.timing)
        w0 = (Uniform(0.0, 1.0).sample(net._rng, n_input * p.n_exc) + p.w_offset) * p.w_scale
        self.proj = net.connect(self.input, self.exc, AllToAll(), weight=np.minimum(w0, p.w_max),
                                delay=Uniform(p.delay_min, p.delay_max), plasticity=rule,
                                normalization=WeightNormalization(p.norm_target),
                                name="input->exc")
        net.connect(self.exc, self.inh, OneToOne(), weight=p.w_exc_inh, name="exc->inh")
        net.connect(self.inh, self.exc, AllToAll(allow_self=False), weight=p.w_inh_exc,
                    receptor="inh", name="inh->exc")
        self.spikes_exc = net.record_spikes(self.exc)
        self.input_count = net.population_rate(self.input)
        self.inh_count = net.population_rate(self.inh)
        self.synaptic_events = 0   # transmitted spikes x fan-out, since creation
        self.n_presentations = 0
        net.compile()

    @property
    def learning(self) -> bool:
        return self.proj.plastic

    @learning.setter
    def learning(self, on: bool) -> None:
        """Plasticity and theta adaptation on (training) or off (labelling, testing)."""
        self.proj.plastic = bool(on)
        self.exc.theta_frozen = not on

    def _run(self, duration: float):
        return self.network.run(duration, engine=self.engine, **self.engine_options)

    def _theta_drift(self, duration: float, decay: bool = False) -> None:
        """While learning: theta relaxes towards -exc_theta_offset instead of 0, as the
        original's (theta - offset) does; ``decay`` also applies the ordinary decay (for
        the rest period that rest_mode="reset" does not simulate)."""
        p = self.params
        if not self.learning or (p.exc_theta_offset <= 0 and not decay):
            return
        q = math.exp(-duration / p.exc_tau_theta)
        th = self.exc.get_state("theta")
        if decay:
            th = th * q
        self.exc.set_state(theta=th - p.exc_theta_offset * (1.0 - q))

    def present(self, rates: np.ndarray) -> np.ndarray:
        """Show one example; ``rates`` are the input rates (Hz) at intensity 1.

        Returns the spike count of every excitatory neuron during the (last) presentation.
        """
        p = self.params
        if self.learning:
            self.network.normalize_weights(self.proj)
        intensity = p.intensity
        n_exc = p.n_exc
        while True:
            self.input.set_rates(rates * intensity)
            res = self._run(p.present)
            self._theta_drift(p.present)
            counts = res[self.spikes_exc].counts()
            self.synaptic_events += int(res[self.input_count].counts.sum()) * n_exc
            self.synaptic_events += int(counts.sum()) + int(res[self.inh_count].counts.sum()) * (n_exc - 1)
            self.n_presentations += 1
            self.input.set_rates(0.0)
            if self.rest_mode == "simulate":
                if p.rest > 0:
                    res = self._run(p.rest)
                    self._theta_drift(p.rest)
                    self.synaptic_events += (int(res[self.spikes_exc].counts().sum())
                                             + int(res[self.inh_count].counts.sum()) * (n_exc - 1))
            else:
                self.network.reset_state(keep=("theta",))
                self._theta_drift(p.rest, decay=True)
            if counts.sum() >= p.min_spikes or intensity + p.intensity_step > p.max_intensity:
                return counts
            intensity += p.intensity_step

    def present_batched(self, rates: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Spike counts (n, n_exc) of the frozen network for every row of ``rates``,
        ``batch_size`` examples at a time in one simulation (engine ``"cuda"``), each from the
        current state; an example is shown again at a higher intensity while the layer fires
        fewer than ``min_spikes`` spikes, as in :meth:`present`."""
        from .engines.cuda import run_batched
        p = self.params
        out = np.zeros((len(rates), p.n_exc), dtype=np.int64)
        intensity = np.full(len(rates), p.intensity)
        todo = np.arange(len(rates))
        while todo.size:
            for lo in range(0, todo.size, batch_size):
                idx = todo[lo:lo + batch_size]
                out[idx] = run_batched(self.network, rates[idx] * intensity[idx, None], p.present,
                                       input=self.input, count=self.exc, **self.engine_options)
                self.n_presentations += idx.size
            again = (out[todo].sum(axis=1) < p.min_spikes) & (
                intensity[todo] + p.intensity_step <= p.max_intensity)
            todo = todo[again]
            intensity[todo] += p.intensity_step
        return out

    def rates_for(self, images: np.ndarray, max_value: float) -> np.ndarray:
        """Input rates (Hz, at intensity 1) for images of values 0..max_value, shape (n, n_input)."""
        from .encoding import intensity_to_rates
        return intensity_to_rates(images, max_value, self.params.rate_per_level)
