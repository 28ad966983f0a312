"""The network builder: populations, projections, recorders, and running.

Examples
--------
>>> import snnsim as sn
>>> from snnsim.units import ms, mV, Hz
>>> net = sn.Network(dt=0.1 * ms, seed=1)
>>> inp = net.add(sn.PoissonInput(100, rate=20 * Hz), name="input")
>>> exc = net.add(sn.LIF(10, tau_m=20 * ms, v_rest=-70 * mV, v_reset=-70 * mV,
...                      v_th=-50 * mV), name="exc")
>>> proj = net.connect(inp, exc, sn.AllToAll(), weight=2 * mV, delay=1 * ms)
>>> spikes = net.record_spikes(exc)
>>> result = net.run(100 * ms)
>>> result[spikes].t_stop
0.1

Limits
------
Everything is checked when it is given, before anything is allocated or run, and a bad
value raises a :class:`~snnsim.errors.SnnsimError` subclass naming the object, the field,
the value and what is allowed:

* ``dt`` in [``DT_MIN``, ``DT_MAX``] = [1e-7 s, 1 s].
* Durations measured in steps (``t / dt``, rounded to the nearest step) must fit the
  integer that holds them, with margin: refractory periods at most ``MAX_REF_STEPS`` =
  2**30 steps (an int32 counter), delays at most ``MAX_DELAY_STEPS`` = 2**30 steps (int32
  per synapse), run durations, recording periods, normalisation periods and spike times at
  most ``MAX_STEPS`` = 2**53 steps (int64 counters; 2**53 keeps ``step * dt`` exact).
* Populations have at most ``MAX_NEURONS`` = 2**31 - 1 neurons (int32 synapse indices).
* Weights and values given to ``set_state``/``set_initial`` are finite numbers (no strings,
  booleans or objects) of magnitude at most ``MAX_VALUE`` = 1e6 (volts for ``v``,
  ``theta`` and current-based weights and channels; units of the leak conductance for
  conductances), and conductances and conductance weights are >= 0.  (The parameter
  records bound their own fields: see :mod:`snnsim._params`.)
* Memory is estimated before ``add`` (about 128 bytes a neuron), ``connect`` (about 100
  bytes a synapse while it is built), ``compile`` (the plan, with its spike-history ring
  of ``(max delay + 2) x n_neurons`` int64) and ``run`` (8 bytes a state sample, 8 bytes a
  step per rate recorder); an estimate above ``MEMORY_FRACTION`` = 90 % of the memory
  available (``MemAvailable`` of /proc/meminfo) raises :class:`~snnsim.errors.ResourceError`
  with the estimate and the available memory.
* After every run (every chunk of a long run) the neuron state (``v``, the two channels,
  ``theta``) of every population is checked for NaN and infinity, which raises
  :class:`~snnsim.errors.NonFiniteStateError` naming population, variable, neuron and the
  steps of the run (engines that keep the state elsewhere, i.e. ``cuda``, are not checked).
"""

from ._checks import (DELAY_ROUNDING_WARN, DT_MAX, DT_MIN, MAX_DELAY_STEPS, MAX_NEURONS,
                      MAX_REF_STEPS, MAX_STEPS, MAX_VALUE, MEMORY_FRACTION, _check_memory,
                      _check_name, _check_time, _steps, available_memory)
from .builder import Network
from .population import Population
from .projection import Projection

# The package's modules: _checks (limits, argument checks, memory estimates), population,
# projection, builder (Network: add, connect, record, compile) and running (Network.run in
# chunks with a progress bar and Ctrl-C, reset_state, normalize_weights).  The tunables of
# chunked running (_FIRST_CHUNK_STEPS, _CHUNK_S, _BAR_AFTER_S) live in .running and the
# memory probe used by the estimates in ._checks: patch them there.

__all__ = ["Network", "Population", "Projection"]
