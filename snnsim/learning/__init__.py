"""The learning layer: STDP classifiers on image data sets and everything around them.

* :mod:`~snnsim.learning.datasets` -- MNIST, Fashion-MNIST, mnist-mini and digits;
* :mod:`~snnsim.learning.encoding` -- pixel intensities to Poisson rates and spike trains;
* :mod:`~snnsim.learning.diehl_cook` -- the Diehl & Cook (2015) network and its model file;
* :mod:`~snnsim.learning.readout` -- voting, proportion and linear readouts of spike counts;
* :mod:`~snnsim.learning.classifier` -- :class:`~snnsim.learning.classifier.STDPClassifier`,
  a scikit-learn estimator around the network;
* :mod:`~snnsim.learning.baselines` -- backprop (MLP) and logistic-regression baselines;
* :mod:`~snnsim.learning.continual` -- class-incremental (continual) learning experiments
  (the ``snnsim continual`` command).

The layer talks to :class:`~snnsim.Network` and :class:`~snnsim.Result` only.  Submodules
are imported on first use (``from snnsim.learning import datasets``); the old paths
(``snnsim.datasets``, ``snnsim.classifier``, ``snnsim.experiments.continual``, ...) name
the same modules (:mod:`snnsim._compat`).
"""

from __future__ import annotations

import importlib

__all__ = ["datasets", "encoding", "diehl_cook", "readout", "classifier", "baselines", "continual"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
