"""Connectivity rules: which (pre, post) pairs a projection connects.

Every rule has ``build(n_pre, n_post, rng, same_population)`` returning two int64 arrays
``(pre, post)`` of equal length.  Random rules draw only from the generator they are given
(the network's), so the same seed gives the same synapses.
"""

from __future__ import annotations

import numpy as np

from ._params import Params, boolean, count, index_array, param, params, probability
from .errors import ParameterError

__all__ = ["ConnectivityRule", "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree",
           "FromArrays"]


class ConnectivityRule(Params):
    """Base class of connectivity rules."""

    def build(self, n_pre: int, n_post: int, rng: np.random.Generator,
              same_population: bool) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


@params
class AllToAll(ConnectivityRule):
    """Every presynaptic neuron to every postsynaptic neuron.

    Parameters
    ----------
    allow_self : bool
        When a population connects to itself, whether ``i -> i`` synapses exist.

    Examples
    --------
    >>> import numpy as np
    >>> pre, post = AllToAll(allow_self=False).build(3, 3, np.random.default_rng(0), True)
    >>> len(pre)
    6
    """

    allow_self: bool = param(True, check=boolean)

    def build(self, n_pre, n_post, rng, same_population):
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), n_post)
        post = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
        if same_population and not self.allow_self:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


@params
class OneToOne(ConnectivityRule):
    """Neuron ``i`` to neuron ``i``; both populations must have the same size.

    Examples
    --------
    >>> import numpy as np
    >>> OneToOne().build(3, 3, np.random.default_rng(0), False)[1]
    array([0, 1, 2])
    """

    def build(self, n_pre, n_post, rng, same_population):
        if n_pre != n_post:
            raise ParameterError(f"OneToOne needs populations of equal size, got {n_pre} -> {n_post}")
        idx = np.arange(n_pre, dtype=np.int64)
        return idx, idx.copy()


@params
class FixedProbability(ConnectivityRule):
    """Each pair is connected independently with probability ``p``.

    Drawn by geometric skipping over the ``n_pre * n_post`` pairs, so the cost grows with
    the number of synapses, not the number of pairs.

    Parameters
    ----------
    p : float
        Connection probability, in [0, 1].
    allow_self : bool
        When a population connects to itself, whether ``i -> i`` synapses exist.

    Examples
    --------
    >>> import numpy as np
    >>> pre, post = FixedProbability(0.1).build(100, 100, np.random.default_rng(0), False)
    >>> 700 < len(pre) < 1300
    True
    """

    p: float = param(check=probability)
    allow_self: bool = param(True, check=boolean)

    def build(self, n_pre, n_post, rng, same_population):
        total = n_pre * n_post
        if self.p == 0.0 or total == 0:
            flat = np.zeros(0, dtype=np.int64)
        elif self.p == 1.0:
            flat = np.arange(total, dtype=np.int64)
        else:
            chunks = []
            pos = -1
            expected = total * self.p
            while True:
                m = int(expected + 5 * np.sqrt(expected) + 16)
                gaps = rng.geometric(self.p, size=m).astype(np.int64)
                idx = pos + np.cumsum(gaps)
                done = idx[-1] >= total
                idx = idx[idx < total]
                chunks.append(idx)
                if done:
                    break
                pos = int(idx[-1])
            flat = np.concatenate(chunks)
        pre, post = np.divmod(flat, n_post)
        if same_population and not self.allow_self:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre.astype(np.int64), post.astype(np.int64)


@params
class FixedInDegree(ConnectivityRule):
    """Each postsynaptic neuron receives exactly ``k`` synapses from distinct presynaptic neurons.

    Parameters
    ----------
    k : int
        In-degree, in [1, 2**31 - 1] (and at most the number of presynaptic neurons
        available, checked when the projection is built).
    allow_self : bool
        When a population connects to itself, whether ``i -> i`` synapses exist.

    Examples
    --------
    >>> import numpy as np
    >>> pre, post = FixedInDegree(5).build(20, 4, np.random.default_rng(0), False)
    >>> np.bincount(post).tolist()
    [5, 5, 5, 5]
    """

    k: int = param(check=count)
    allow_self: bool = param(True, check=boolean)

    def build(self, n_pre, n_post, rng, same_population):
        no_self = same_population and not self.allow_self
        available = n_pre - (1 if no_self else 0)
        if self.k > available:
            raise ParameterError(f"FixedInDegree.k must be <= {available} (presynaptic neurons "
                                 f"available), got {self.k}")
        pre = np.empty((n_post, self.k), dtype=np.int64)
        for j in range(n_post):
            chosen = rng.choice(available, size=self.k, replace=False)
            if no_self:
                chosen = chosen + (chosen >= j)
            pre[j] = np.sort(chosen)
        post = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        return pre.ravel(), post


@params
class FromArrays(ConnectivityRule):
    """Explicit synapses ``pre[k] -> post[k]`` (duplicates allowed: parallel synapses).

    Parameters
    ----------
    pre, post : array of int, shape (k,)
        Presynaptic and postsynaptic neuron of each synapse: integers (or floats with
        integral values) in ``[0, 2**31 - 1)``, and within the populations' sizes when the
        projection is built.

    Examples
    --------
    >>> import numpy as np
    >>> FromArrays([0, 1], [1, 0]).build(2, 2, np.random.default_rng(0), True)[0]
    array([0, 1])
    """

    pre: np.ndarray = param(check=index_array)
    post: np.ndarray = param(check=index_array)

    def _validate(self) -> None:
        if self.pre.shape != self.post.shape:
            raise ParameterError(f"FromArrays.post must have the same length as pre "
                                 f"({self.pre.size}), got {self.post.size}")

    def build(self, n_pre, n_post, rng, same_population):
        for name, arr, n in (("pre", self.pre, n_pre), ("post", self.post, n_post)):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                bad = arr[(arr < 0) | (arr >= n)][0]
                raise ParameterError(f"FromArrays.{name} indices must be in [0, {n}), got {int(bad)}")
        return self.pre.copy(), self.post.copy()
