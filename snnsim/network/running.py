"""Running a :class:`~snnsim.network.Network`: ``run`` in chunks (a progress bar for long
runs, Ctrl-C stopping at a completed step, NaN checks between chunks), ``reset_state`` and
``normalize_weights``.  :class:`Network` takes these methods from :class:`_Running`."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np

try:  # the C functions: signal.signal's enum conversions cost ~10 us a run() call
    import _signal as _sig
except ImportError:  # pragma: no cover - not CPython
    _sig = signal

from .. import plan as _p
from .._params import fail, positive
from ..errors import NetworkError, NonFiniteStateError, ParameterError
from ..results import Result
from ._checks import MAX_STEPS, _check_memory, _check_time, _num, _steps
from .projection import Projection

# running: the first chunk is timed, then chunks of about _CHUNK_S wall seconds; a bar is
# shown (progress=None) when the rest of the run is estimated to take over _BAR_AFTER_S
_FIRST_CHUNK_STEPS = 1000
_FIRST_CHUNK_WORK = 10 ** 7         # neuron-steps: smaller first chunks for big networks
_CHUNK_S = 0.25
_BAR_AFTER_S = 5.0
# what Network.run may rely on beyond the engine contract, by engine name:
#   chunks: run(k, rec) may be called repeatedly with one recording (progress, Ctrl-C)
#   plan_state: the neuron state is in the plan after run() (checked for NaN for free)
_TRAITS = {"numba": ("chunks", "plan_state"), "reference": ("chunks", "plan_state"),
           "brian2": ("plan_state",), "cuda": ("chunks",)}


class _SigintFlag:
    """While active (main thread only), a first SIGINT only sets ``flag``; Network.run checks
    it between chunks.  A second SIGINT goes to the previous handler (KeyboardInterrupt now,
    possibly in the middle of a chunk)."""

    def __init__(self):
        self.flag = False
        self._old = None

    def _handle(self, signum, frame):
        if self.flag and callable(self._old):
            self._old(signum, frame)
        self.flag = True

    def __enter__(self) -> "_SigintFlag":
        if threading.current_thread() is threading.main_thread():
            old = _sig.getsignal(signal.SIGINT)
            if callable(old):  # not SIG_IGN / SIG_DFL / a handler installed outside Python
                self._old = old
                _sig.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            _sig.signal(signal.SIGINT, self._old)
            self._old = None


class _Running:
    """The running half of :class:`~snnsim.network.Network` (a mixin: it uses the builder's
    populations, projections, plan and ``compile``)."""

    def _recording(self):
        if self._rec_cache is None:
            from ..engines import RecordingSpec
            self._rec_cache = RecordingSpec.build(self, self._plan)
        return self._rec_cache

    def _simulation(self, engine, options):
        if (isinstance(engine, str) and self._sim is not None
                and self._sim_key == (engine, tuple(sorted(options.items())))):
            return self._sim  # the common case: the same engine as the last run
        from ..engines import check_options, get_engine
        if isinstance(engine, str):
            eng = get_engine(engine)
        elif isinstance(getattr(engine, "name", None), str) and callable(getattr(engine, "prepare",
                                                                                 None)):
            eng = engine  # an engine object
        else:
            raise ParameterError(f"run.engine must be an engine name (e.g. 'numba' or 'reference') "
                                 f"or an engine object, got {engine!r}")
        key = (eng.name, tuple(sorted(options.items())))
        if self._sim is None or self._sim_key != key:
            check_options(eng, options)
            self._sync_from_engine()
            self._sim = None
            self._sim = eng.prepare(self._plan, **options)
            self._sim_key = key
            self._sim_traits = _TRAITS.get(eng.name, ())
        return self._sim

    def _check_finite(self, s0: int, s1: int, engine: str) -> None:
        """Raise NonFiniteStateError if a neuron's v, channel or theta is NaN or infinite
        (O(neurons); called after each chunk of a run, steps [s0, s1))."""
        plan = self._plan
        rows = plan.st[_p.S_V:_p.S_THETA + 1]
        if np.isfinite(rows).all():
            return
        for pop in self.populations:
            block = rows[:, pop._lo:pop._lo + pop.n]
            for name in pop.variables:
                vals = block[_p.STATE_ROWS[name]]
                bad = ~np.isfinite(vals)
                if bad.any():
                    i = int(np.argmax(bad))
                    exc = NonFiniteStateError(
                        f"population {pop.name!r}: {name} of neuron {i} is {float(vals[i])!r} after "
                        f"steps {s0} to {s1 - 1} (t = {_num(s0 * self.dt)} s to "
                        f"{_num(s1 * self.dt)} s) on engine {engine!r} ({int(bad.sum())} of "
                        f"{pop.n} neurons non-finite); the network is left at step {s1}; look "
                        "for weights, biases or state values so large that the update overflows")
                    exc.population, exc.variable, exc.index, exc.steps = pop.name, name, i, (s0, s1)
                    raise exc

    def _first_chunk(self, n_steps: int, progress) -> int:
        n = max(1, self._plan.n_neurons)
        k = min(_FIRST_CHUNK_STEPS, max(10, _FIRST_CHUNK_WORK // n))
        if progress:
            k = min(k, -(-n_steps // 100))
        return max(1, min(n_steps, k))

    def _advance(self, sim, rec, n_steps: int, progress, engine: str, stop: _SigintFlag) -> int:
        """Run ``n_steps`` steps in chunks (one when short), checking for NaN and Ctrl-C
        between them.  Returns the steps done (fewer when interrupted)."""
        plan = self._plan
        check = "plan_state" in self._sim_traits
        if n_steps == 0 or "chunks" not in self._sim_traits:
            bar = self._bar(n_steps) if progress and n_steps else None
            s0 = int(plan.step[0])
            try:
                sim.run(n_steps, rec)
            finally:
                if bar is not None:
                    bar.n = n_steps * self.dt
                    bar.close()
            if check and n_steps:
                self._check_finite(s0, s0 + n_steps, engine)
            return n_steps
        done, bar, chunks = 0, None, 0
        k = self._first_chunk(n_steps, progress)
        try:
            while done < n_steps:
                s0 = int(plan.step[0])
                t0 = time.perf_counter()
                sim.run(k, rec)
                per_step = max(time.perf_counter() - t0, 1e-9) / k
                done += k
                chunks += 1
                if check:
                    self._check_finite(s0, s0 + k, engine)
                if stop.flag:
                    break
                # (by default judged from the second chunk: the first may include loading
                # or compiling the engine's code)
                if bar is None and done < n_steps and (
                        progress or (progress is None and chunks >= 2
                                     and per_step * (n_steps - done) > _BAR_AFTER_S)):
                    bar = self._bar(n_steps)
                if bar is not None:
                    bar.n = done * self.dt  # set, not accumulated: no rounding drift
                    bar.refresh()
                k = max(1, min(n_steps - done, int(_CHUNK_S / per_step)))
                if progress:
                    k = min(k, -(-n_steps // 100))
        finally:
            if bar is not None:
                bar.close()
        return done

    def _bar(self, n_steps: int):
        from tqdm.auto import tqdm
        return tqdm(total=n_steps * self.dt, unit="s sim", desc="simulating",
                    bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g} s [{elapsed}<{remaining}]")

    def run(self, duration: float, engine: str = "numba", *, progress: bool | None = None,
            **options) -> Result:
        """Simulate ``duration`` seconds (rounded to whole steps), continuing from the current
        state, and return what the recorders saw.

        Parameters
        ----------
        duration : float
            Simulated time (s), >= 0, at most 2**53 steps in all.
        engine : str
            ``"numba"`` (default), ``"reference"``, or an installed optional engine.
        progress : bool or None
            Show a tqdm progress bar: None (default) when the run is estimated (from its
            first chunk) to take more than about 5 s, True always, False never.
        **options
            Engine options, e.g. ``threads=2`` for ``numba``; an option the engine does not
            take is a ParameterError naming the options it takes.

        Returns
        -------
        Result
            What the recorders saw in ``[t, t + duration)``.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C (SIGINT, main thread): the run stops at the end of the chunk in progress
            (long runs go in chunks of about 0.25 s, results bitwise the same as one call),
            the network is left consistent at that step, and the steps done are in the
            exception's ``result`` attribute and in ``network.interrupted_result``.  A second
            Ctrl-C interrupts at once and may leave the network mid-chunk.
        NonFiniteStateError
            A neuron's state became NaN or infinite (checked after every chunk; the
            exception's ``result`` holds the steps done).
        ResourceError
            The recordings of this run would need more than 90 % of the available memory.

        Notes
        -----
        The numba and reference engines run in chunks; brian2 in one call (its standalone
        target cannot start a run with spikes in flight), so Ctrl-C there works as Brian2's.
        """
        duration = _check_time("run", "duration", duration)
        if progress is not None and not isinstance(progress, (bool, np.bool_)):
            fail("run", "progress", progress, "None, True or False")
        n_steps = _steps("run.duration", duration, self.dt, MAX_STEPS)
        plan = self.compile()
        step0 = int(plan.step[0])
        if step0 + n_steps > MAX_STEPS:
            fail("run", "duration", duration, f"at most {(MAX_STEPS - step0) * self.dt:.6g} s "
                 f"from t = {step0 * self.dt:.6g} s (the step counter is limited to 2**53)", "s")
        sim = self._simulation(engine, options)
        spec = self._recording()
        _check_memory(f"run({duration:.6g} s): the recordings of {n_steps} steps",
                      spec.nbytes(n_steps))
        self.interrupted_result = None
        rec = spec.start(n_steps, step0)
        with _SigintFlag() as stop:
            try:
                done = self._advance(sim, rec, n_steps, progress, self._sim_key[0], stop)
            except NonFiniteStateError as exc:
                stopped = int(plan.step[0]) - step0
                exc.result = Result(dt=self.dt, step0=step0, n_steps=stopped,
                                    raw=rec.finish(stopped), layout=rec.layout_for(stopped))
                raise
        if stop.flag:  # Ctrl-C: stopped after the chunk in progress (or at the end)
            res = Result(dt=self.dt, step0=step0, n_steps=done, raw=rec.finish(done),
                         layout=rec.layout_for(done))
            self.interrupted_result = res
            exc = KeyboardInterrupt(f"run interrupted at t = {(step0 + done) * self.dt:.6g} s "
                                    f"after {done} of {n_steps} steps; the steps done are in "
                                    "network.interrupted_result")
            exc.result = res
            raise exc
        return Result(dt=self.dt, step0=step0, n_steps=n_steps, raw=rec.finish(),
                      layout=rec.layout)

    # -- between runs -----------------------------------------------------------------------
    def reset_state(self, keep: tuple[str, ...] = ()) -> None:
        """Return every neuron, input and trace to its initial state and the time to 0; weights
        are kept, and so is each variable named in ``keep`` (e.g. ``keep=("theta",)``).
        Random generators continue (new Poisson spikes after a reset)."""
        if isinstance(keep, str):
            keep = (keep,)
        if not isinstance(keep, (tuple, list, set, frozenset)):
            raise ParameterError(f"reset_state keep= takes a tuple of names, got {keep!r}")
        own = sorted({pop._key(v) for pop in self.populations for v in pop.variables}
                     - {"v", "g_e", "g_i", "theta"})  # variables of models outside the LIF family
        for k in keep:
            if k not in ("v", "g_e", "g_i", "theta") and k not in own:
                names = ", ".join(repr(x) for x in ["v", "g_e", "g_i", "theta"] + own)
                raise ParameterError(f"reset_state keep= takes {names}, got {k!r}")
        plan = self.compile()
        self._sync_from_engine()
        for p, pop in enumerate(self.populations):
            lo, hi = pop._lo, pop._lo + pop.n
            pop._fill_initial(plan.st[:, lo:hi], plan.ref[lo:hi], plan.pop_i[p], keep)
        plan.xtr[:] = 0.0
        plan.ytr[:] = 0.0
        plan.hx[:] = 0.0
        for pr in self.projections:
            pr._on_step = 0
        plan.prj_i[:, _p.QI_ONSTEP] = 0
        plan.hist_cnt[:] = 0
        plan.step[0] = 0
        plan.version += 1

    def normalize_weights(self, projection: Projection, target_sum: float | None = None) -> None:
        """Scale each postsynaptic neuron's incoming weights of ``projection`` to sum to
        ``target_sum`` (default: the projection's ``WeightNormalization``)."""
        if not isinstance(projection, Projection) or projection.network is not self:
            raise NetworkError("normalize_weights takes a projection of this network")
        if target_sum is None:
            if projection.normalization is None:
                raise ParameterError(f"projection {projection.name!r} has no WeightNormalization; "
                                     "pass target_sum=")
            target_sum = projection.normalization.target_sum
        target_sum = positive("normalize_weights", "target_sum", target_sum, "")
        plan = self.compile()
        if self._sim is not None and hasattr(self._sim, "normalize_weights"):
            # the engine keeps the weights elsewhere (GPU): normalise them there
            self._sim.normalize_weights(projection.index, float(target_sum))
            return
        self._sync_from_engine()
        from ..engines._numba_kernels import normalize_columns
        s0 = int(plan.prj_i[projection.index, _p.QI_SOFF])
        normalize_columns(plan.w, plan.syn_post, s0, s0 + projection.n_synapses, projection.post.n,
                          float(target_sum))
        plan.version += 1
