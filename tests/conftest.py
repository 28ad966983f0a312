"""Shared fixtures: the engines to test, and small network builders."""

from __future__ import annotations

import os

import numpy as np
import pytest

import snnsim as sn

# Engines every correctness test runs on.  Optional engines join when installed
# (SNNSIM_TEST_ENGINES=numba,reference restricts the set).
_DEFAULT_ENGINES = ["numba", "reference"]


def _engines() -> list[str]:
    chosen = os.environ.get("SNNSIM_TEST_ENGINES")
    names = chosen.split(",") if chosen else list(sn.available_engines())
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
