"""Reference models reproduce their published firing rates (Brette et al. 2007)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snnsim.reference_networks import brette2007_cuba, vogels_abbott2005_coba

ROOT = Path(__file__).resolve().parents[1]


def _mean_rate(builder, seeds, duration=1.0, n=4000):
    rates = []
    for seed in seeds:
        net, h = builder(n, seed=seed)
        res = net.run(duration)
        rates.append((len(res[h["spikes_exc"]]) + len(res[h["spikes_inh"]])) / (n * duration))
    return float(np.mean(rates)), rates


def test_cuba_rate_matches_brian2():
    # Brian2 on the same parameters: about 5.5 Hz.  Single seeds scatter by about 10 %,
    # so the mean over four networks is compared.
    mean, rates = _mean_rate(brette2007_cuba, range(4))
    assert abs(mean - 5.5) <= 0.55, rates


def test_coba_rate_matches_brian2():
    # Brian2 on the same parameters: 18-20 Hz.
    mean, rates = _mean_rate(vogels_abbott2005_coba, range(4))
    assert 18.0 * 0.9 <= mean <= 20.0 * 1.1, rates
    assert min(rates) > 5.0  # every network sustains its activity


def test_coba_is_self_sustained_only_thanks_to_its_initial_conductances():
    net, h = vogels_abbott2005_coba(4000, seed=0)
    for pop in (h["exc"], h["inh"]):
        pop.set_state(g_e=np.clip(pop.get_state("g_e"), 0, None),
                      g_i=np.clip(pop.get_state("g_i"), 0, None))
    res = net.run(0.5)
    late = sum(int(np.sum(res[h[k]].times > 0.1)) for k in ("spikes_exc", "spikes_inh"))
    assert late == 0  # the activity dies out instead of sustaining itself


@pytest.mark.parametrize("script", ["brette2007_cuba.py", "vogels_abbott2005_coba.py"])
def test_model_scripts_print_json(script):
    out = subprocess.run([sys.executable, str(ROOT / "models" / script), "--n", "1000",
                          "--duration", "0.2", "--seed", "1"], capture_output=True, text=True,
                         check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("model", "engine", "n_neurons", "duration_s", "rate_hz", "wall_s"):
        assert key in rec
    assert rec["n_neurons"] == 1000 and rec["duration_s"] == 0.2 and rec["rate_hz"] > 0


def test_song_miller_abbott_bimodality_100s():
    """Song, Miller & Abbott (2000), additive STDP: after 100 s the weights pile up at both
    bounds (Brian2: about 23 % below 0.1 g_max and 18 % above 0.9 g_max).  The full 100 s
    run takes a few seconds, so it is part of the default test run."""
    out = subprocess.run([sys.executable, str(ROOT / "models" / "song_miller_abbott2000.py"),
                          "--duration", "100"], capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    assert rec["frac_below_0_1"] >= 0.15 and rec["frac_above_0_9"] >= 0.15, rec
    assert 10 < rec["final_rate_hz"] < 40, rec


def test_song_miller_abbott_weights_start_to_split():
    """A 20 s run of the same model (default test run): the distribution, uniform at first,
    already has more weights near both bounds than a uniform one would."""
    from snnsim.reference_networks import song_miller_abbott2000
    net, h = song_miller_abbott2000(seed=1)
    net.run(20.0)
    w = h["proj"].get_weights("sparse")[2] / h["g_max"]
    assert np.mean(w < 0.1) > 0.12 and np.mean(w > 0.9) > 0.12
    assert np.mean((w > 0.4) & (w < 0.6)) < 0.2
