"""Shared helpers of the benchmark scripts: JSON-line output and start-up timing."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numba


def emit(record: dict) -> None:
    """Print one measurement as a JSON line (with machine facts)."""
    record = dict(record)
    record.setdefault("python", platform.python_version())
    record.setdefault("numba", numba.__version__)
    record.setdefault("cpu_count", os.cpu_count())
    print(json.dumps(record), flush=True)


_START_CODE = """
import time, sys
t0 = time.perf_counter()
import snnsim
from snnsim import reference_networks
net, h = getattr(reference_networks, sys.argv[1])(int(sys.argv[2]), seed=0)
net.compile()
t1 = time.perf_counter()
net.run(net.dt)   # one step: compiles (or loads) the kernels
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def start_times(builder: str, n: int) -> tuple[float, float]:
    """(jit_s, start_s): time of the first one-step run in a fresh process, first with an
    empty Numba cache (compilation), then with the cache that run left (a cached start)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", _START_CODE, builder, str(n)], env=env,
                               capture_output=True, text=True, check=True)
            out.append(float(r.stdout.split()[1]))
    return out[0], out[1]


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    value = fn(*args, **kw)
    return value, time.perf_counter() - t0
