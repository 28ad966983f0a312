"""Projections: the synapses from one population to another (``Network.connect`` returns
one)."""

from __future__ import annotations

import numpy as np

from .. import plan as _p
from ..distributions import Distribution
from ..errors import NetworkError, ParameterError
from ._checks import _numeric, _values


class Projection:
    """Synapses from one population to another (returned by :meth:`Network.connect`).

    Synapses are stored sorted by (delay, pre, post); ``pre``, ``post``, ``delays`` and the
    sparse weight view use that order.
    """

    def __init__(self, network, name, pre, post, rule, receptor, pre_idx, post_idx, w, delay,
                 plasticity, normalization, index):
        self.network = network
        self.name = name
        self.pre = pre
        self.post = post
        self.rule = rule
        self.receptor = receptor
        self.plasticity = plasticity
        self.normalization = normalization
        self.index = index
        order = np.lexsort((post_idx, pre_idx, delay))
        self._pre = pre_idx[order]
        self._post = post_idx[order]
        self._delay = delay[order]
        self._w = w[order]
        for a in (self._pre, self._post, self._delay):
            a.setflags(write=False)
        self._dmin = int(self._delay.min()) if self._delay.size else 1
        self._dmax = int(self._delay.max()) if self._delay.size else 1
        self._plastic = plasticity is not None
        self._on_step = 0   # step at which plasticity was last switched on
        self._gain = np.ones(post.n)  # per-postsynaptic-neuron learning-rate factor
        self._plan = None
        self._traces = None  # (x (2, n_pre), y (2, n_post), h (2, R, n_pre), R) once bound

    def __repr__(self) -> str:
        return (f"<Projection {self.name!r}: {self.pre.name} -> {self.post.name}, "
                f"{self.n_synapses} synapses, receptor {self.receptor!r}>")

    @property
    def n_synapses(self) -> int:
        return int(self._pre.size)

    @property
    def pre_indices(self) -> np.ndarray:
        """Presynaptic neuron of each synapse (read-only, shape (n_synapses,))."""
        return self._pre

    @property
    def post_indices(self) -> np.ndarray:
        """Postsynaptic neuron of each synapse (read-only, shape (n_synapses,))."""
        return self._post

    @property
    def delays(self) -> np.ndarray:
        """Delay of each synapse in seconds (whole steps, >= dt), shape (n_synapses,)."""
        return self._delay * self.network.dt

    @property
    def plastic(self) -> bool:
        """Whether plasticity is on.  Turning it off stops trace and weight updates (and
        automatic normalisation); turning it back on restarts the traces from zero, and only
        presynaptic spikes emitted from then on take part in plasticity."""
        return self._plastic

    @plastic.setter
    def plastic(self, value: bool) -> None:
        if self.plasticity is None and value:
            raise NetworkError(f"projection {self.name!r} has no plasticity rule to switch on")
        value = bool(value)
        if value and not self._plastic and self._traces is not None:
            self.network._sync_from_engine()
            x, y, h, _ = self._traces
            x[:] = 0.0
            y[:] = 0.0
            h[:] = 0.0
        if value and not self._plastic:
            self._on_step = int(self._plan.step[0]) if self._plan is not None else 0
        self._plastic = value
        if self._plan is not None:
            self._plan.prj_i[self.index, _p.QI_PLASTIC] = int(value)
            self._plan.prj_i[self.index, _p.QI_ONSTEP] = self._on_step
            self._plan.version += 1

    @property
    def plasticity_gain(self) -> np.ndarray:
        """Learning-rate factor of each postsynaptic neuron (shape (n_post,), default 1): every
        weight change of a synapse onto neuron j is multiplied by ``gain[j]`` (0 freezes the
        neuron's incoming weights).  A copy; assign to set."""
        return np.array(self._gain, copy=True)

    @plasticity_gain.setter
    def plasticity_gain(self, value) -> None:
        if self.plasticity is None:
            raise NetworkError(f"projection {self.name!r} has no plasticity rule")
        arr = _values(f"{self.name} plasticity_gain", value, self.post.n, self.network._rng)
        if np.any(arr < 0):
            raise ParameterError(f"projection {self.name!r}: plasticity_gain must be >= 0, got "
                                 f"{arr.min():.6g}")
        self.network._sync_from_engine()
        self._gain[:] = arr
        if self._plan is not None:
            self._plan.version += 1

    # -- weights ------------------------------------------------------------------------------
    def get_weights(self, format: str = "dense") -> np.ndarray | tuple:
        """Weights as a dense (n_pre, n_post) matrix (0 where there is no synapse) or, with
        ``format='sparse'``, as ``(pre, post, w)`` arrays in storage order.  Copies."""
        self.network._sync_from_engine()
        if format == "sparse":
            return self._pre.copy(), self._post.copy(), self._w.copy()
        if format != "dense":
            raise ParameterError(f"get_weights format must be 'dense' or 'sparse', got {format!r}")
        m = np.zeros((self.pre.n, self.post.n))
        if self._has_duplicates():
            raise NetworkError(f"projection {self.name!r} has parallel synapses (same pre and post); "
                               "use get_weights('sparse')")
        m[self._pre, self._post] = self._w
        return m

    @property
    def weights(self) -> np.ndarray:
        """Dense weight matrix, shape (n_pre, n_post) (a copy; assign to set)."""
        return self.get_weights("dense")

    @weights.setter
    def weights(self, value) -> None:
        self.set_weights(value)

    def _has_duplicates(self) -> bool:
        if not hasattr(self, "_dup"):
            key = self._pre * self.post.n + self._post
            self._dup = bool(np.unique(key).size != key.size)
        return self._dup

    def set_weights(self, value, format: str = "auto") -> None:
        """Set weights from a dense (n_pre, n_post) matrix, a per-synapse array in storage order
        (shape (n_synapses,)), a scalar or a Distribution.  A dense matrix may only hold
        non-zero values where synapses exist."""
        n_pre, n_post, ns = self.pre.n, self.post.n, self.n_synapses
        arr = None
        if not isinstance(value, Distribution):
            value = _numeric(f"projection {self.name!r} weights", value)
        if not isinstance(value, Distribution) and value.ndim == 2:
            m = value.astype(float)
            if m.shape != (n_pre, n_post):
                raise ParameterError(f"dense weights for {self.name!r} must have shape "
                                     f"({n_pre}, {n_post}), got {m.shape}")
            if self._has_duplicates():
                raise NetworkError(f"projection {self.name!r} has parallel synapses; set weights "
                                   "with a per-synapse array")
            mask = np.zeros((n_pre, n_post), dtype=bool)
            mask[self._pre, self._post] = True
            if np.any(m[~mask] != 0):
                raise ParameterError(f"dense weights for {self.name!r} are non-zero where no "
                                     "synapse exists")
            arr = m[self._pre, self._post]
        else:
            arr = _values(f"projection {self.name!r} weights", value, ns, self.network._rng)
        self.network._check_weights(self.name, self.post, arr)
        self.network._sync_from_engine()
        self._w[:] = arr
        if self._plan is not None:
            self._plan.version += 1

    # -- plan binding ---------------------------------------------------------------------------
    def _copy_traces_into(self, x, y, h3, R) -> None:
        if self._traces is None:
            return
        ox, oy, oh, oR = self._traces
        x[:] = ox
        y[:] = oy
        n = int(self._plan.step[0])
        if oR == 0 or R == 0:
            return
        for back in range(1, min(oR, R)):
            if n - back < 0:
                break
            h3[:, (n - back) % R] = oh[:, (n - back) % oR]

    def _bind(self, plan, index: int) -> None:
        self._plan = plan
        self.index = index
        s0 = int(plan.prj_i[index, _p.QI_SOFF])
        self._w = plan.w[s0:s0 + self.n_synapses]
        if plan.prj_i[index, _p.QI_RULE]:
            xo, yo, ho = (int(plan.prj_i[index, c]) for c in (_p.QI_XOFF, _p.QI_YOFF, _p.QI_HOFF))
            npre, npost = self.pre.n, self.post.n
            self._gain = plan.gain[yo:yo + npost]
            rh = plan.R if plan.prj_i[index, _p.QI_TMODE] == _p.TM_HET else 0
            self._traces = (plan.xtr[:, xo:xo + npre], plan.ytr[:, yo:yo + npost],
                            plan.hx[:, ho:ho + rh * npre].reshape(2, rh, npre), rh)
