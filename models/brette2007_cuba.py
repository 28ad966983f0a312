"""Brette et al. (2007) benchmark 1, CUBA (current-based balanced network).

    python models/brette2007_cuba.py [--n N] [--duration SECONDS] [--engine NAME] [--seed S]

Prints, as its last line, one JSON object: model, engine, n_neurons, n_synapses, duration_s,
spikes, rate_hz, wall_s (simulation only), build_s.  Parameters:
snnsim.reference_networks.brette2007_cuba.
"""

from snnsim.reference_networks import balanced_network_script

if __name__ == "__main__":
    balanced_network_script("brette2007_cuba")
