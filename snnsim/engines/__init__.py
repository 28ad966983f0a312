"""Engines: one contract, several implementations.

An engine has a ``name`` and ``prepare(plan, **options) -> Simulation``.  A simulation has
``run(n_steps, recording)`` (advance the plan's state by ``n_steps`` steps and append what
the recorders see to ``recording``), ``pull()`` (copy any state it keeps elsewhere back into
the plan) and nothing else.  Engines know nothing of data sets or readouts.

``get_engine(name)`` imports an engine module only when it is asked for, so importing
snnsim never imports optional dependencies.  ``check_options(engine, options)`` refuses
options an engine's ``prepare`` does not take, for every engine, before it is prepared.

A ``Network.run`` may call ``run`` several times with one recording (a long run goes in
chunks, so that Ctrl-C and progress bars work); engines must give the same results as for
one call.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import inspect
from dataclasses import dataclass

import numpy as np

from ..errors import EngineUnavailableError, ParameterError
from ..monitors import RateMonitor, SpikeMonitor, StateMonitor

__all__ = ["get_engine", "available_engines", "check_options", "RecordingSpec", "RunRecording",
           "ENGINES"]

# name -> (module, class, required import, extra to install)
ENGINES: dict[str, tuple[str, str, str | None, str | None]] = {
    "numba": ("snnsim.engines.numba_cpu", "NumbaEngine", None, None),
    "reference": ("snnsim.engines.reference", "ReferenceEngine", None, None),
    "brian2": ("snnsim.engines.brian2", "Brian2Engine", "brian2", "brian2"),
    "cuda": ("snnsim.engines.cuda", "CudaEngine", "numba.cuda", "cuda"),
}


def available_engines() -> dict[str, str]:
    """Each registered engine with ``"available"`` or the reason it is not."""
    out = {}
    for name, (_mod, _cls, needs, extra) in ENGINES.items():
        if needs is None or importlib.util.find_spec(needs) is not None:
            out[name] = "available"
        else:
            out[name] = f"needs {needs}: pip install \"snnsim[{extra}]\""
    return out


def get_engine(name: str):
    """Return an engine instance by name (raises EngineUnavailableError if not installed)."""
    if not isinstance(name, str):
        raise ParameterError(f"engine must be an engine name ({', '.join(ENGINES)}), got {name!r}")
    if name not in ENGINES:
        hint = difflib.get_close_matches(str(name), list(ENGINES), n=1)
        raise ParameterError(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}"
                             + (f"; did you mean {hint[0]!r}?" if hint else ""))
    module, cls, needs, extra = ENGINES[name]
    if needs is not None and importlib.util.find_spec(needs) is None:
        raise EngineUnavailableError(f"engine {name!r} needs {needs}: pip install \"snnsim[{extra}]\"")
    return getattr(importlib.import_module(module), cls)()


@functools.lru_cache(maxsize=None)
def _option_names(prepare_func) -> tuple[tuple[str, ...], str | None, bool]:
    """(option names, name of the plan argument, takes **options) of a ``prepare``."""
    params = list(inspect.signature(prepare_func).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    first = params[0].name if params else None
    names = tuple(p.name for p in params[1:]
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return names, first, any(p.kind == p.VAR_KEYWORD for p in params)


def check_options(engine, options: dict) -> None:
    """Refuse options that ``engine.prepare(plan, **options)`` does not take.

    Raises
    ------
    ParameterError
        Naming the option, the engine and the options it takes (an engine whose
        ``prepare`` takes ``**options`` checks them itself).
    """
    func = getattr(type(engine), "prepare", None) or engine.prepare
    try:
        names, first, var_kw = _option_names(func)
    except (TypeError, ValueError):  # no signature to read: the engine checks
        return
    for key in options:
        if key == first or (key not in names and not var_kw):
            hint = difflib.get_close_matches(str(key), names, n=1)
            raise ParameterError(f"unknown option {key!r} for engine {engine.name!r}; options: "
                                 f"{', '.join(names) or 'none'}"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""))


@dataclass
class RecordingSpec:
    """What the network's recorders ask for, as flat arrays (rebuilt when recorders change)."""

    rec_mask: np.ndarray         # uint8[N]: record spikes of this neuron
    rec_per_step: int            # most spikes that can be recorded in one step
    srec_var: np.ndarray         # int64[K]: state row of each recorded (variable, neuron)
    srec_idx: np.ndarray         # int64[K]: global neuron index
    srec_every: np.ndarray       # int64[K]: sampling period (steps)
    rrec_pop: np.ndarray         # int64[Kr]: populations with rate recorders
    monitors: list               # [(handle, info)]

    @classmethod
    def build(cls, net, plan) -> "RecordingSpec":
        N = plan.n_neurons
        mask = np.zeros(N, dtype=np.uint8)
        var, idx, every, rpop, mons = [], [], [], [], []
        for h in net.monitors:
            pop = net[h.population]
            lo = pop._lo
            if isinstance(h, SpikeMonitor):
                if h.indices is None:
                    mask[lo:lo + pop.n] = 1
                else:
                    mask[lo + h.indices] = 1
                mons.append((h, {"lo": lo, "n": pop.n}))
            elif isinstance(h, StateMonitor):
                rows = {}
                for v in h.variables:
                    rows[v] = (len(var), h.indices.size)
                    var.extend([plan.rows[v]] * h.indices.size)
                    idx.extend((lo + h.indices).tolist())
                    every.extend([h.every] * h.indices.size)
                mons.append((h, {"rows": rows}))
            elif isinstance(h, RateMonitor):
                mons.append((h, {"row": len(rpop), "n": pop.n}))
                rpop.append(pop.index)
        as64 = lambda a: np.asarray(a, dtype=np.int64)
        return cls(rec_mask=mask, rec_per_step=int(mask.sum()), srec_var=as64(var),
                   srec_idx=as64(idx), srec_every=as64(every), rrec_pop=as64(rpop), monitors=mons)

    def nbytes(self, n_steps: int) -> int:
        """Memory (bytes) of the buffers of a run of ``n_steps`` steps: 8 bytes a state sample,
        8 bytes a step per rate recorder, 16 bytes a slot of the initial spike buffer (an upper
        bound, 8 bytes a step per recorded value, where that is below 64 MiB)."""
        cap = max(4096, 4 * self.rec_per_step) if self.rec_per_step else 1
        upper = 8 * (self.srec_var.size + self.rrec_pop.size) * n_steps + 16 * cap
        if upper < 2 ** 26:
            return upper
        samples = int((-(-n_steps // np.maximum(self.srec_every, 1))).sum()) if self.srec_every.size \
            else 0
        return 8 * samples + 8 * self.rrec_pop.size * n_steps + 16 * cap

    def start(self, n_steps: int, step0: int) -> "RunRecording":
        return RunRecording(self, n_steps, step0)


class RunRecording:
    """Buffers of one ``Network.run`` call; engines append into them."""

    def __init__(self, spec: RecordingSpec, n_steps: int, step0: int):
        self.spec = spec
        self.n_steps = n_steps
        self.base = step0
        n_samples = -(-n_steps // np.maximum(spec.srec_every, 1))
        self.srec_off = np.zeros(spec.srec_var.size, dtype=np.int64)
        if n_samples.size:
            np.cumsum(n_samples[:-1], out=self.srec_off[1:])
        self.srec_out = np.zeros(int(n_samples.sum()))
        self.rrec_out = np.zeros((spec.rrec_pop.size, n_steps), dtype=np.int64)
        cap = max(4096, 4 * spec.rec_per_step) if spec.rec_per_step else 1
        self.spk_t = np.zeros(cap, dtype=np.int64)
        self.spk_i = np.zeros(cap, dtype=np.int64)
        self.spk_n = np.zeros(1, dtype=np.int64)
        self.layout = {}
        for h, info in spec.monitors:
            info = dict(info)
            if isinstance(h, StateMonitor):
                ns = int(-(-n_steps // h.every))
                info["n_samples"] = ns
                info["rows"] = {v: (int(self.srec_off[r0]) if count else 0, count)
                                for v, (r0, count) in info["rows"].items()}
            self.layout[h.id] = (h, info)

    def ensure_room(self) -> None:
        """Grow the spike buffer (doubling) so that one more step always fits.

        Raises
        ------
        ResourceError
            The larger buffer would need more than 90 % of the available memory (the run
            stops at the last completed step)."""
        need = int(self.spk_n[0]) + self.spec.rec_per_step
        if need > self.spk_t.size:
            cap = max(2 * self.spk_t.size, need)
            from .._memory import _check_memory
            _check_memory(f"recording spikes ({int(self.spk_n[0])} so far): a spike buffer of "
                          f"{cap} spikes", 16 * cap)
            for name in ("spk_t", "spk_i"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=np.int64)
                new[:old.size] = old
                setattr(self, name, new)

    def _kept(self, n_done: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples of each recorded value in the first ``n_done`` steps, and their offsets
        in a compacted buffer."""
        kept = -(-n_done // np.maximum(self.spec.srec_every, 1))
        off = np.zeros(kept.size, dtype=np.int64)
        if kept.size:
            np.cumsum(kept[:-1], out=off[1:])
        return kept, off

    def finish(self, n_done: int | None = None) -> dict:
        """The raw buffers of the run; of its first ``n_done`` steps when it stopped early
        (then described by :meth:`layout_for`)."""
        n = int(self.spk_n[0])
        raw = {"spk_t": self.spk_t[:n].copy(), "spk_i": self.spk_i[:n].copy(),
               "srec_out": self.srec_out, "rrec_out": self.rrec_out}
        if n_done is None or n_done >= self.n_steps:
            return raw
        kept, off = self._kept(n_done)
        # value k keeps samples srec_off[k] ... srec_off[k] + kept[k] - 1
        idx = np.repeat(self.srec_off - off, kept) + np.arange(int(kept.sum()), dtype=np.int64)
        raw["srec_out"] = self.srec_out[idx]
        raw["rrec_out"] = np.ascontiguousarray(self.rrec_out[:, :n_done])
        return raw

    def layout_for(self, n_done: int) -> dict:
        """The layout of ``finish(n_done)``: state rows re-packed to the first ``n_done``
        steps' samples."""
        if n_done >= self.n_steps:
            return self.layout
        _, off = self._kept(n_done)
        rows_of = {h.id: info.get("rows") for h, info in self.spec.monitors}
        layout = {}
        for hid, (h, info) in self.layout.items():
            info = dict(info)
            if isinstance(h, StateMonitor):
                info["n_samples"] = int(-(-n_done // h.every))
                info["rows"] = {v: (int(off[r0]) if count else 0, count)
                                for v, (r0, count) in rows_of[hid].items()}
            layout[hid] = (h, info)
        return layout
