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
``intensity_step`` and the example is shown again (a pixel's rate is capped at ``1 / dt``,
one spike per time step, the most a Poisson input can fire).

Model files (:func:`load_model`) must set every key of :data:`MODEL_FILE_KEYS` -- an empty
file, a missing section or a missing key is an error naming what is missing, never a silent
default -- with the right type (a number, an integer or a string) and a valid value; the
bounds are listed in :func:`load_model`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from pathlib import Path

import numpy as np

from .._params import (Params, choice, count, finite, nonnegative, param, params, positive)
from ..connectivity import AllToAll, OneToOne
from ..distributions import Uniform
from ..errors import ParameterError
from ..inputs import PoissonInput
from ..network import Network
from ..neurons import LIF, AdaptiveLIF
from ..plasticity import DiehlCookSTDP, WeightNormalization
from ..synapses import Conductance
from ..units import mV, ms

__all__ = ["DiehlCookParams", "DiehlCookNetwork", "load_model", "MODEL_FILE_KEYS", "DIGITS_SETTINGS",
           "MAX_N_EXC"]

#: Largest excitatory layer a model file's ``exc.n`` (and ``snnsim run --n-exc``) may ask
#: for: the inhibitory projection is all-to-all, ``n_exc**2`` synapses (10**8 here, several
#: GB); Diehl & Cook's largest network had 6,400 neurons.  The Python API has no such limit.
MAX_N_EXC = 10_000
#: Most time steps of one presentation (``present / dt``) or pause (``rest / dt``): 500 s of
#: simulated time at dt = 0.5 ms against the original 700 steps; with the other bounds the
#: network's int64 step counter stays below 2**63 with a wide margin.
MAX_STEPS = 1_000_000
#: Most time steps of the longest input delay (``delay_max / dt``; the original: 20).
MAX_DELAY_STEPS = 10_000
#: Most repetitions of one example at a raised intensity (``(max_intensity - intensity) /
#: intensity_step``; the original: 30).
MAX_REPEATS = 1_000
#: Largest ``min_spikes`` (the original: 5).
MAX_MIN_SPIKES = 1_000_000
#: Largest model file read (bytes); the shipped one has about 2,500.
MAX_FILE_BYTES = 1 << 20


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
        units = {f.name: f.metadata.get("unit", "") for f in dataclasses.fields(self)}
        _check_relations(self.to_dict(), lambda f: f"DiehlCookParams.{f}",
                         lambda f: f"{getattr(self, f):.6g} {units[f]}".rstrip())
        # the records the network is built from, so that their own bounds are checked now
        for prefix, build in (("exc_", lambda: _exc_model(self, 1)),
                              ("inh_", lambda: _inh_model(self, 1)), ("", lambda: _stdp_rule(self))):
            try:
                build()
            except ParameterError as exc:
                msg = str(exc)
                m = re.match(r"(\w+)\.(\w+) (.*)", msg, flags=re.S)
                if m and hasattr(self, prefix + m.group(2)):
                    cls, attr, rest = m.groups()
                    msg = f"DiehlCookParams.{prefix}{attr} ({cls}.{attr}) {rest}"
                else:
                    msg = f"DiehlCookParams: {msg}"
                raise ParameterError(msg) from None


def _check_relations(v: dict, label, show) -> None:
    """Checks between fields of :class:`DiehlCookParams` (SI values ``v``); ``label(field)``
    and ``show(field)`` name a field and its value in the caller's terms (record fields or
    model-file keys)."""
    def bad(field: str, allowed: str) -> None:
        raise ParameterError(f"{label(field)} must be {allowed}, got {show(field)}")

    dt = v["dt"]
    if v["delay_max"] < v["delay_min"]:
        bad("delay_max", f">= {label('delay_min')} = {show('delay_min')}")
    if v["max_intensity"] < v["intensity"]:
        bad("max_intensity", f">= {label('intensity')} = {show('intensity')}")
    if not dt <= v["present"] <= MAX_STEPS * dt:
        bad("present", f"from 1 to {MAX_STEPS:,} time steps of {label('dt')} = {show('dt')}")
    if v["rest"] > MAX_STEPS * dt:
        bad("rest", f"at most {MAX_STEPS:,} time steps of {label('dt')} = {show('dt')}")
    if v["delay_max"] > MAX_DELAY_STEPS * dt:
        bad("delay_max", f"at most {MAX_DELAY_STEPS:,} time steps of {label('dt')} = {show('dt')}")
    if (v["max_intensity"] - v["intensity"]) / v["intensity_step"] > MAX_REPEATS:
        bad("intensity_step", f">= ({label('max_intensity')} - {label('intensity')}) / "
                              f"{MAX_REPEATS:,} (an example is shown at most {MAX_REPEATS + 1:,} "
                              "times)")
    if v["min_spikes"] > MAX_MIN_SPIKES:
        bad("min_spikes", f"at most {MAX_MIN_SPIKES:,}")
    if v["rate_per_level"] * 255 * v["intensity"] * dt > 1.0:
        bad("rate_per_level", f"at most 1 / (255 x {label('intensity')} x {label('dt')}): at the "
                              "first intensity a pixel of full value may fire at most once per "
                              "time step")


def _exc_model(p: DiehlCookParams, n: int) -> AdaptiveLIF:
    return AdaptiveLIF(n, tau_m=p.exc_tau_m, v_rest=p.exc_v_rest, v_reset=p.exc_v_reset,
                       v_th=p.exc_v_th, t_ref=p.exc_t_ref, theta_plus=p.exc_theta_plus,
                       tau_theta=p.exc_tau_theta,
                       synapses=Conductance(tau_e=p.exc_tau_e, tau_i=p.exc_tau_i, e_e=p.exc_e_e,
                                            e_i=p.exc_e_i))


def _inh_model(p: DiehlCookParams, n: int) -> LIF:
    return LIF(n, tau_m=p.inh_tau_m, v_rest=p.inh_v_rest, v_reset=p.inh_v_reset,
               v_th=p.inh_v_th, t_ref=p.inh_t_ref,
               synapses=Conductance(tau_e=p.inh_tau_e, tau_i=p.inh_tau_i, e_e=p.inh_e_e,
                                    e_i=p.inh_e_i))


def _stdp_rule(p: DiehlCookParams) -> DiehlCookSTDP:
    return DiehlCookSTDP(nu_pre=p.nu_pre, nu_post=p.nu_post, tau_pre=p.tau_pre,
                         tau_post1=p.tau_post1, tau_post2=p.tau_post2, w_max=p.w_max,
                         timing=p.timing)


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


_UNITS = {"ms": "ms", "mv": "mV", "hz": "Hz"}
_TOML_TYPES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "an array", dict: "a table"}


def _key_unit(key: str) -> str:
    """The unit a model-file key is written in, from its name: ``tau_m_ms`` -> ``ms``."""
    return _UNITS.get(key.rsplit("_", 1)[-1], "") if "_" in key else ""


def _key_kind(field: str) -> str:
    """``"string"``, ``"integer"`` or ``"number"``: what a key's value must be."""
    if not field:
        return "string"                       # model.name
    kind = {f.name: f.type for f in dataclasses.fields(DiehlCookParams)}[field]
    return {"str": "string", "int": "integer"}.get(str(kind), "number")


def _shown(value) -> str:
    """A TOML value for a message: its text (shortened) and, unless a number, its type."""
    text = repr(value)
    if isinstance(value, int) and len(text) > 20:
        text = f"{text[:8]}... (an integer of {len(text.lstrip('-'))} digits)"
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    kind = next((k for t, k in _TOML_TYPES.items() if type(value) is t), "a date or time")
    return f"{text} ({kind})"


def _read_toml(path: Path) -> dict:
    """The parsed TOML document of a model file; every way it cannot be read is a
    :class:`ParameterError` naming the file."""
    where = f"model file {str(path)!r}"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ParameterError(f"{where} does not exist") from None
    except OSError as exc:
        raise ParameterError(f"{where} cannot be read: {exc.strerror or exc}") from None
    if path.is_dir():
        raise ParameterError(f"{where} is a folder; give the path of a .toml file such as "
                             "models/diehl_cook_2015.toml")
    if not path.is_file():
        raise ParameterError(f"{where} is not a regular file (a device, pipe or socket)")
    if st.st_size > MAX_FILE_BYTES:
        raise ParameterError(f"{where} has {st.st_size:,} bytes; a model file is a few kB of TOML "
                             f"(at most {MAX_FILE_BYTES:,} bytes)")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ParameterError(f"{where} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{where} is not valid TOML: {exc}") from None
    except (ValueError, RecursionError) as exc:   # integers of > 4300 digits, deep nesting
        raise ParameterError(f"{where} is not valid TOML: {type(exc).__name__}: "
                             f"{str(exc)[:200]}") from None


def _key_value(where: str, section: str, key: str, value):
    """A model-file value checked for its key's type and range; numbers in the file's unit."""
    field, _ = MODEL_FILE_KEYS[(section, key)]
    name, unit, kind = f"{section}.{key}", _key_unit(key), _key_kind(field)

    def bad(allowed: str) -> None:
        raise ParameterError(f"{where}: {name} must be {allowed}, got {_shown(value)}"
                             + (f" {unit}" if unit and isinstance(value, (int, float))
                                and not isinstance(value, bool) else ""))

    if kind == "string":
        if not isinstance(value, str):
            bad("a string" if field else "a non-empty string")
        if field == "timing" and value not in ("arrival", "emission"):
            hint = difflib.get_close_matches(value, ["arrival", "emission"], n=1)
            bad("'arrival' or 'emission'" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        if not field and not value.strip():
            bad("a non-empty string")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            bad("an integer (no decimal point)")
        top = MAX_N_EXC if field == "n_exc" else MAX_MIN_SPIKES
        if not 1 <= value <= top:
            bad(f"an integer from 1 to {top:,}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        bad("a number" + (f" in {unit}" if unit else ""))
    if isinstance(value, int) and abs(value) > 2**63:
        bad("a number within the range of a float")
    x = float(value)
    check = {f.name: f.metadata["check"] for f in dataclasses.fields(DiehlCookParams)}[field]
    if not math.isfinite(x):
        bad("finite")
    if check is positive and not x > 0:
        bad(f"> 0 {unit}".rstrip())
    if check is nonnegative and not x >= 0:
        bad(f">= 0 {unit}".rstrip())
    return x


def load_model(path: str | Path, **overrides) -> DiehlCookParams:
    """Read a Diehl & Cook model file (TOML; units in the key names) into parameters.

    The file must set every key of :data:`MODEL_FILE_KEYS` (``models/diehl_cook_2015.toml``
    lists them all with the original values): a missing key or section, or an empty file, is
    an error naming what is missing -- nothing silently takes a default.  Every value must
    have its key's type (a number, with the unit in the key's name: ``_ms``, ``_mv``,
    ``_hz``; an integer for ``exc.n`` and ``input.min_spikes``; a string for ``model.name``
    and ``stdp.timing``) and a valid value: the sign each parameter needs, finite,
    ``exc.n`` from 1 to :data:`MAX_N_EXC`, ``input.min_spikes`` from 1 to 10**6,
    ``input.present_ms`` from 1 to 10**6 time steps of ``model.dt_ms``, ``input.rest_ms``
    and ``input_to_exc.delay_max_ms`` at most 10**6 and 10**4 steps, ``delay_min_ms <=
    delay_max_ms``, ``intensity <= max_intensity`` with at most 1,000 repetitions of an
    example, and a full-value pixel firing at most once per step at the first intensity;
    the neuron, synapse and plasticity records the network is built from check their own
    bounds too.  Unknown sections or keys are errors with the closest valid name.  Files
    larger than 1 MiB are refused.  ``overrides`` are SI field values of
    :class:`DiehlCookParams` applied on top.  Nothing in the file is executed.

    Raises
    ------
    ParameterError
        Naming the file, the key, the value and what is allowed.
    """
    path = Path(path)
    where = f"model file {str(path)!r}"
    doc = _read_toml(path)
    sections = sorted({s for s, _ in MODEL_FILE_KEYS})
    known = [f"{s}.{k}" for s, k in MODEL_FILE_KEYS]
    values: dict = {}
    file_values: dict = {}
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise ParameterError(f"{where}: top-level key {section!r} must be a [section] "
                                 f"(one of {', '.join(sections)}), got {_shown(table)}")
        if section not in sections:
            hint = difflib.get_close_matches(section, sections, n=1)
            raise ParameterError(f"{where}: unknown section [{section}]"
                                 + (f"; did you mean [{hint[0]}]?" if hint else "")
                                 + f" (sections: {', '.join(sections)})")
        for key, value in table.items():
            name = f"{section}.{key}"
            if (section, key) not in MODEL_FILE_KEYS:
                hint = difflib.get_close_matches(name, known, n=1)
                raise ParameterError(f"{where}: unknown key {name!r}"
                                     + (f"; did you mean {hint[0]!r}?" if hint else ""))
            x = _key_value(where, section, key, value)
            field, scale = MODEL_FILE_KEYS[(section, key)]
            if field:
                file_values[field] = (name, x, _key_unit(key))
                values[field] = x if scale == 0.0 else x * scale
    present = {f"{s}.{k}" for s, t in doc.items() for k in t}
    missing = [k for k in known if k not in present]
    if missing:
        gone = [s for s in sections if s not in doc]
        parts = ([f"section{'s' if len(gone) > 1 else ''} {', '.join(f'[{s}]' for s in gone)}"]
                 if gone else [])
        keys = [k for k in missing if k.split(".", 1)[0] not in gone]
        if keys:
            parts.append(f"key{'s' if len(keys) > 1 else ''} {', '.join(keys)}")
        what = "is empty" if not doc else f"lacks {' and '.join(parts)}"
        raise ParameterError(f"{where} {what}: a model file must set every key (all "
                             f"{len(known)} are in models/diehl_cook_2015.toml, with the original "
                             "values); nothing takes a default")
    try:
        _check_relations(values, lambda f: file_values[f][0],
                         lambda f: f"{file_values[f][1]:.6g} {file_values[f][2]}".rstrip())
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    values.update(overrides)
    try:
        return DiehlCookParams(**values)
    except ParameterError as exc:   # a record's own bound, or an override: name the key
        msg = re.sub(r"DiehlCookParams\.(\w+)",
                     lambda m: (file_values[m.group(1)][0] if m.group(1) in file_values
                                and m.group(1) not in overrides else m.group(0)), str(exc))
        raise ParameterError(f"{where}: {msg}") from None


def _capped(rates: np.ndarray, dt: float) -> np.ndarray:
    """``rates`` (Hz) with every rate above ``1 / dt`` (more than one spike per step) set to
    the largest rate ``r`` with ``r * dt <= 1``; the array itself where none is."""
    over = rates * dt > 1.0
    if not over.any():
        return rates
    top = 1.0 / dt
    while top * dt > 1.0:
        top = float(np.nextafter(top, 0.0))
    return np.where(over, top, rates)


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
        self.exc = net.add(_exc_model(p, p.n_exc), name="exc")
        self.inh = net.add(_inh_model(p, p.n_exc), name="inh")
        self.inh.set_initial(v=p.inh_v_rest)
        rule = _stdp_rule(p)
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
            self.input.set_rates(_capped(rates * intensity, p.dt))
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
        from ..engines.cuda import run_batched
        p = self.params
        out = np.zeros((len(rates), p.n_exc), dtype=np.int64)
        intensity = np.full(len(rates), p.intensity)
        todo = np.arange(len(rates))
        while todo.size:
            for lo in range(0, todo.size, batch_size):
                idx = todo[lo:lo + batch_size]
                batch = _capped(rates[idx] * intensity[idx, None], p.dt)
                out[idx] = run_batched(self.network, batch, p.present, input=self.input,
                                       count=self.exc, **self.engine_options)
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
