"""Saving and loading networks and recordings as HDF5 files (layout: ``docs/hdf5-format.md``).

A saved network holds its whole engine-independent description -- time step, seed,
populations with their model parameters and initial values, projections with their
synapses, delays and weights, plasticity rules, recorders -- and, once it has been compiled,
its whole dynamic state: the step, neuron state, refractory counters, Poisson next-spike
steps and random streams, spike-source positions, the spike history ring (spikes still in
flight), plasticity traces, and the state of the builder's random generator.  Loading it
gives a network whose further runs are bitwise the runs the original would have made, and
whose further ``connect`` calls draw the same random numbers.

Loading never executes anything from the file: there is no pickle and no eval; model
classes are looked up by name in a fixed table of snnsim classes, and every parameter goes
through the class's validation.  Files written by :func:`save` carry a checksum seal that
:func:`load` checks before the HDF5 library reads them, and every dataset and attribute is
validated (type, dtype, shape, range, finiteness, consistency with the network being built)
before it reaches the network or compiled code; a bad file raises
:class:`~snnsim.errors.FileFormatError` naming the file, the dataset, the value and what is
allowed (``docs/hdf5-format.md``, "Validation on read").

Examples
--------
>>> import os, tempfile
>>> import snnsim as sn
>>> from snnsim import io
>>> net = sn.Network(dt=1e-4, seed=3)
>>> inp = net.add(sn.PoissonInput(5, rate=50.0), name="input")
>>> out = net.add(sn.LIF(2), name="out")
>>> proj = net.connect(inp, out, weight=1e-3)
>>> spikes = net.record_spikes(inp)
>>> result = net.run(0.05)
>>> path = os.path.join(tempfile.mkdtemp(), "net.h5")
>>> io.save(path, net, result)
>>> net2, result2 = io.load(path)
>>> bool((result2[spikes].times == result[spikes].times).all())
True
>>> bool((net2.run(0.05)[spikes].times == net.run(0.05)[spikes].times).all())
True
"""

from ._format import FORMAT, FORMAT_VERSION, RECORD_CLASSES, _ds
from .read import check_header, load, open_snnsim, read_network
from .sealing import atomic_write, new_file, seal
from .write import save, write_network

# The package's modules: _format (layout constants, names, datasets), sealing (atomic
# writing and the 512-byte checksum seal), write (save), read (load), _validate (checked
# reading of datasets and attributes) and _records (parameter records and recorders).

__all__ = ["save", "load", "atomic_write", "new_file", "seal", "write_network", "read_network",
           "open_snnsim", "check_header", "FORMAT", "FORMAT_VERSION"]
