"""SI scale constants.

Every quantity inside snnsim is a plain float in SI units (seconds, volts, siemens,
amperes, farads, hertz, ohms).  These constants only make user code readable::

    >>> from snnsim.units import ms, mV
    >>> tau_m = 20 * ms
    >>> tau_m
    0.02

There are no unit objects and no unit checking: ``20 * ms`` is the float ``0.02``.
"""

from __future__ import annotations

__all__ = [
    "second", "ms", "us", "volt", "mV", "siemens", "nS", "uS", "amp", "nA", "pA",
    "farad", "pF", "nF", "ohm", "Mohm", "Gohm", "Hz", "kHz",
]

second = 1.0
ms = 1e-3
us = 1e-6

volt = 1.0
mV = 1e-3

siemens = 1.0
uS = 1e-6
nS = 1e-9

amp = 1.0
nA = 1e-9
pA = 1e-12

farad = 1.0
nF = 1e-9
pF = 1e-12

ohm = 1.0
Mohm = 1e6
Gohm = 1e9

Hz = 1.0
kHz = 1e3
