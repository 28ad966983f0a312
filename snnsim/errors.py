"""Exceptions and warnings raised by snnsim.

Every error snnsim raises on purpose is a subclass of :class:`SnnsimError`, so
``except snnsim.SnnsimError`` catches them all.  Errors about bad values are also
``ValueError`` so that code written against the standard library keeps working.
"""

from __future__ import annotations

__all__ = [
    "SnnsimError", "ParameterError", "NetworkError", "RecordingError",
    "EngineError", "EngineUnavailableError", "UnsupportedModelError", "DataError",
    "FileFormatError", "NonFiniteStateError", "ResourceError", "SnnsimWarning",
]


class SnnsimError(Exception):
    """Base class of every error snnsim raises on purpose."""


class ParameterError(SnnsimError, ValueError):
    """A parameter has a value that is not allowed (names object, field, value, allowed range)."""


class NetworkError(SnnsimError, ValueError):
    """A network is built or used inconsistently (foreign populations, bad lengths, ...)."""


class RecordingError(SnnsimError, ValueError):
    """A recorder asks for something that does not exist (unknown variable, index out of range)."""


class EngineError(SnnsimError, RuntimeError):
    """An engine cannot run the network it was given."""


class EngineUnavailableError(EngineError):
    """An engine was requested whose optional dependency is not installed."""


class UnsupportedModelError(EngineError):
    """An engine cannot run a model, rule or feature of the network (names both)."""


class NonFiniteStateError(EngineError, ArithmeticError):
    """A simulation produced a NaN or infinite state value (names population, variable, step)."""


class ResourceError(SnnsimError, MemoryError):
    """A network, recording or run would need more memory (or time) than the machine has;
    the message gives the estimate and what is available."""


class DataError(SnnsimError, ValueError):
    """A data set file is missing, truncated, corrupt or of the wrong kind."""


class FileFormatError(SnnsimError, ValueError):
    """A saved snnsim file cannot be read (not snnsim, newer format, truncated)."""


class SnnsimWarning(UserWarning):
    """Something is allowed but probably not what was meant (e.g. dt larger than a time constant)."""
