"""Spike encodings of images: Poisson rate coding.

Diehl & Cook (2015): an input neuron fires a Poisson train at ``pixel / 8 * intensity`` Hz
for 8-bit pixels (up to 63.75 Hz at intensity 2).  Images with another range (the 8x8
digits, 0..16) are first scaled to 0..255.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["intensity_to_rates", "poisson_spike_trains"]


def intensity_to_rates(images: np.ndarray, max_value: float = 255.0,
                       rate_per_level: float = 0.125) -> np.ndarray:
    """Firing rates (Hz) at intensity 1 for images with values in ``[0, max_value]``.

    Parameters
    ----------
    images : array (n, ...) or (...)
        Pixel values; they are scaled to 0..255 and multiplied by ``rate_per_level``.
    max_value : float
        The value that maps to 255 (255 for MNIST, 16 for scikit-learn's digits).
    rate_per_level : float
        Hz per 8-bit level at intensity 1 (Diehl & Cook: 1/8).

    Returns
    -------
    rates : float array, shape (n, n_pixels) (or (n_pixels,) for one image)

    Examples
    --------
    >>> intensity_to_rates(np.array([[0, 255]]))[0].tolist()
    [0.0, 31.875]
    """
    x = np.asarray(images, dtype=float)
    if max_value <= 0 or not np.isfinite(max_value):
        raise ParameterError(f"max_value must be > 0, got {max_value!r}")
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0):
        raise ParameterError("images must be finite and >= 0 (pixel intensities)")
    flat = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.ravel()
    return flat * (255.0 / max_value) * rate_per_level


def poisson_spike_trains(rates: np.ndarray, duration: float, dt: float,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli-per-step Poisson trains: ``(times, indices)`` for a :class:`SpikeSource`.

    Each neuron ``i`` spikes in each step with probability ``rates[i] * dt``.

    Examples
    --------
    >>> t, i = poisson_spike_trains(np.array([0.0, 1000.0]), 0.01, 0.001, np.random.default_rng(0))
    >>> set(i.tolist())
    {1}
    """
    rates = np.asarray(rates, dtype=float)
    steps = int(round(duration / dt))
    p = rates * dt
    if np.any(p > 1) or np.any(p < 0):
        raise ParameterError("rates must be in [0, 1/dt]")
    hits = rng.random((steps, rates.size)) < p
    step, idx = np.nonzero(hits)
    return step * dt, idx
