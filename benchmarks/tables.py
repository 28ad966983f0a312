"""Markdown tables from benchmark JSON lines (the figures in RESULTS.md come from here).

    python benchmarks/tables.py benchmarks/out/*.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def _load(paths: list[str]) -> list[dict]:
    rows = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    return rows


def _fmt(x, digits=3):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)


def networks(rows: list[dict]) -> str:
    by = defaultdict(dict)
    for r in rows:
        if r.get("benchmark") in ("cuba", "coba"):
            key = (r["benchmark"], r["n_neurons"])
            col = r["engine"] + (f" ({r['threads']} thr)" if r["engine"] == "snnsim-numba" else "")
            by[key][col] = r
    cols = sorted({c for v in by.values() for c in v},
                  key=lambda c: (not c.startswith("snnsim-numba"), not c.startswith("snnsim"), c))
    out = ["| network | neurons | synapses | " + " | ".join(f"{c} s/s" for c in cols)
           + " | snnsim JIT s | snnsim cached start s | rate Hz (snnsim / Brian2) |",
           "|---|---|---|" + "---|" * len(cols) + "---|---|---|"]
    for (bench, n), d in sorted(by.items()):
        sn1 = next((v for k, v in d.items() if k.startswith("snnsim-numba")), {})
        b2 = next((v for k, v in d.items() if k.startswith("brian2")), {})
        out.append(f"| {bench.upper()} | {n:,} | {sn1.get('n_synapses', 0):,} | "
                   + " | ".join(_fmt(d[c]["wall_per_sim_s"]) if c in d else "–" for c in cols)
                   + f" | {_fmt(sn1.get('jit_s'))} | {_fmt(sn1.get('start_s'))} | "
                   f"{_fmt(sn1.get('rate_hz'))} / {_fmt(b2.get('rate_hz'))} |")
    return "\n".join(out)


def generic(rows: list[dict], bench: str, keys: list[str]) -> str:
    sel = [r for r in rows if r.get("benchmark") == bench]
    if not sel:
        return ""
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in sel:
        out.append("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
    return "\n".join(out)


def main() -> None:
    rows = _load(sys.argv[1:])
    print(networks(rows))
    print()
    print(generic(rows, "song", ["engine", "n_synapses", "duration_s", "wall_s", "jit_s",
                                 "rate_hz", "frac_below_0_1", "frac_above_0_9"]))
    print()
    print(generic(rows, "song_load", ["engine", "n_synapses", "duration_s", "wall_per_sim_s",
                                      "rate_hz"]))
    print()
    for b in ("diehl_cook_train", "diehl_cook_infer"):
        print(generic(rows, b, ["engine", "n_exc", "rest_mode", "schedule", "n_images", "seconds_per_image",
                                "exc_spikes_per_image"]))
        print()
    print(generic(rows, "mnist_full", ["n_exc", "epochs", "n_train", "n_test", "accuracy_voting",
                                       "accuracy_proportion", "accuracy_linear", "paper_accuracy",
                                       "seconds_per_train_image"]))


if __name__ == "__main__":
    main()
