"""Vogels & Abbott (2005) / Brette et al. (2007) benchmark 2, COBA (conductance-based).

    python models/vogels_abbott2005_coba.py [--n N] [--duration SECONDS] [--engine NAME] [--seed S]

Prints, as its last line, one JSON object: model, engine, n_neurons, n_synapses, duration_s,
spikes, rate_hz, wall_s (simulation only), build_s.  Parameters:
snnsim.reference_networks.vogels_abbott2005_coba.
"""

from snnsim.reference_networks import balanced_network_script

if __name__ == "__main__":
    balanced_network_script("vogels_abbott2005_coba")
