"""Bounds and checks of command-line options, shared by the commands of :mod:`snnsim.cli`.

Each check raises :class:`~snnsim.errors.ParameterError` naming the option, the value and
what is allowed (``snnsim: error: ...`` on the command line), before anything is read,
written or removed.  README, "The ``snnsim`` command", lists the bounds.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ParameterError

__all__ = ["MAX_SEED", "MAX_EPOCHS", "MAX_JOBS", "fail", "check_int", "check_engine",
           "check_data_option", "check_out_folder", "check_subset"]

#: Largest --seed: scikit-learn's random_state (the MLP and logistic baselines, the continual
#: MLPs) takes no more; the network's SeedSequence would take any integer >= 0.
MAX_SEED = 2**32 - 1
#: Most --epochs (with the model file's bounds the network's int64 step counter keeps a
#: margin of more than 100x even for 60,000 images repeated the most times).
MAX_EPOCHS = 100
#: Most --jobs (threads of the frozen passes; each holds a copy of the network).
MAX_JOBS = 256


def fail(message: str):
    """Raise :class:`~snnsim.errors.ParameterError` with ``message``."""
    raise ParameterError(message)


def check_int(option: str, value, lo: int, hi: int | None = None, *, optional: bool = False) -> None:
    """Refuse an integer option outside ``[lo, hi]`` (``None`` too unless ``optional``).

    Raises
    ------
    ParameterError
        ``--n-exc must be an integer from 1 to 10,000, got 0``.
    """
    if value is None and optional:
        return
    allowed = f"from {lo:,} to {hi:,}" if hi is not None else f">= {lo:,}"
    if (isinstance(value, bool) or not isinstance(value, int) or value < lo
            or (hi is not None and value > hi)):
        shown = value if not isinstance(value, int) or len(str(value)) <= 24 else f"{str(value)[:12]}..."
        fail(f"{option} must be an integer {allowed}, got {shown}")


def check_engine(name: str) -> None:
    """Refuse an engine that is not registered or cannot run here (before any work)."""
    from .engines import ENGINES, available_engines
    if name not in ENGINES:
        import difflib
        hint = difflib.get_close_matches(str(name), list(ENGINES), n=1)
        fail(f"--engine must be one of {', '.join(ENGINES)}, got {name!r}"
             + (f"; did you mean {hint[0]!r}?" if hint else ""))
    status = available_engines()[name]
    if status != "available":
        fail(f"--engine {name}: {status}")
    if name == "cuda":
        from .engines.cuda import device_info
        device_info()                 # EngineUnavailableError without a GPU


def check_data_option(data: str | None, dataset: str) -> None:
    """``--data`` only for the data sets read from IDX files, and then an existing folder."""
    if data is None:
        return
    if dataset not in ("mnist", "fashion-mnist"):
        fail(f"--data is only for --dataset mnist or fashion-mnist (IDX files), not {dataset!r}")
    if not data or not Path(data).is_dir():
        fail(f"--data {data!r} is not a folder (it should hold the gzip IDX files)")


def check_out_folder(option: str, value: str) -> Path:
    """A folder path for output: not empty, not an existing file, no file on its way."""
    if not value or not value.strip():
        fail(f"{option} must name a folder, got {value!r}")
    out = Path(value)
    if out.exists() and not out.is_dir():
        fail(f"{option} {value!r} is a file, not a folder")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                fail(f"{option} {value!r}: {str(parent)!r} is a file, not a folder")
            break
    return out


def check_subset(ds, n_train, n_test) -> None:
    """``--n-train`` / ``--n-test`` within the data set."""
    for option, n, part, have in (("--n-train", n_train, "training", len(ds.y_train)),
                                  ("--n-test", n_test, "test", len(ds.y_test))):
        if n is not None and n > have:
            fail(f"{option} must be at most the {have:,} {part} examples of {ds.name}, got {n:,}")
