"""Shared fixtures: the engines to test, and small network builders."""

from __future__ import annotations

import os

import numpy as np
import pytest

import snnsim as sn

# The brian2 engine runs the shared tests on Brian2's numpy target: its cython target compiles
# every new code object (seconds each), which on a machine with an empty cache made the test
# run ~20 minutes longer.  tests/test_brian2_engine.py checks that cython and cpp_standalone
# give the same spikes (it names its targets explicitly).
os.environ.setdefault("SNNSIM_BRIAN2_TARGET", "numpy")

# Engines every correctness test runs on: every available engine except cuda
# (SNNSIM_TEST_ENGINES=numba,reference chooses the set explicitly).


def _engines() -> list[str]:
    chosen = os.environ.get("SNNSIM_TEST_ENGINES")
    # cuda joins only on request (SNNSIM_TEST_ENGINES=...,cuda): without a GPU it runs on
    # Numba's slow CUDA simulator, which tests/test_cuda_engine.py drives on its own
    names = chosen.split(",") if chosen else [n for n in sn.available_engines() if n != "cuda"]
    avail = sn.available_engines()
    return [n for n in names if avail.get(n) == "available"]


ENGINES = _engines()


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """Name of an available engine; tests using it run once per engine."""
    return request.param


@pytest.fixture(scope="session", autouse=True)
def _compile_once():
    """Compile (or load from cache) the Numba kernels once, before the first test."""
    from snnsim.units import ms
    net = sn.Network(dt=0.1 * ms, seed=0)
    a = net.add(sn.PoissonInput(2, rate=100.0))
    b = net.add(sn.LIF(2, synapses=sn.Conductance()))
    net.connect(a, b, weight=0.1, plasticity=sn.PairSTDP())
    net.record_spikes(b)
    net.run(1 * ms)
    yield
