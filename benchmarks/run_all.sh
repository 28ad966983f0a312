#!/usr/bin/env bash
# Run every CPU benchmark, snnsim beside Brian2, into benchmarks/out/*.jsonl.
# Needs an environment with both snnsim and Brian2 (see benchmarks/BRIAN2_ENV.md):
#   PY=.venv313/bin/python bash benchmarks/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
mkdir -p benchmarks/out
$PY benchmarks/bench_networks.py --sizes 4000 16000 64000 --threads 1 2 --engine numba brian2 | tee benchmarks/out/networks.jsonl
$PY benchmarks/bench_stdp.py --engine numba brian2 | tee benchmarks/out/stdp.jsonl
$PY benchmarks/bench_diehl_cook.py | tee benchmarks/out/diehl_cook.jsonl
$PY benchmarks/tables.py benchmarks/out/*.jsonl
