"""Execute every tutorial notebook in notebooks/ top to bottom, in its small configuration.

Each notebook runs in a fresh Jupyter kernel started with *this* interpreter (a kernelspec
written to a temporary folder, found through ``JUPYTER_PATH``), with
``SNNSIM_NOTEBOOK_SMALL=1`` and ``MPLBACKEND=Agg`` in the kernel's environment and a
per-cell timeout.  A cell that raises fails the test with the cell's traceback.  The test
then appends one cell that prints, as JSON, values the notebook computed, and checks them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "snnsim-test-python3"
CELL_TIMEOUT = 180      # seconds per cell (the slowest cell takes well under a minute)

# What each notebook must have computed (names of its variables -> check).  Every notebook in
# notebooks/ must be listed here, so a new notebook cannot go untested by accident.
CHECKS = {
    "01_first_network.ipynb": (
        "{'exc_rate': float(trains['exc'].mean_rate()), 'n_lines': len(trace.indices),"
        " 't_second': float(more[spikes['exc']].t_start)}",
        lambda r: 1.0 < r["exc_rate"] < 50.0 and r["n_lines"] == 3 and r["t_second"] == 0.5),
    "02_stdp_rules.ipynb": (
        "{'pair_err': float(pair_error), 'dc_err': float(dc_error),"
        " 'nearest_ok': bool(nearest_matches), 'low': float(frac_low), 'high': float(frac_high)}",
        lambda r: (r["pair_err"] < 1e-9 and r["dc_err"] < 1e-9 and r["nearest_ok"]
                   and r["low"] > 0.05 and r["high"] > 0.05)),
    "03_diehl_cook_digits.ipynb": (
        "{'acc': {k: float(v) for k, v in accuracies.items()}, 'chance': 0.1}",
        lambda r: min(r["acc"].values()) > 0.3),
    "04_save_load_resume.ipynb": (
        "{'same_run': bool(same_spikes and same_weights), 'h5_ok': bool(h5_matches),"
        " 'resumed_from': int(resumed_from), 'resume_same': bool(resume_identical)}",
        lambda r: r["same_run"] and r["h5_ok"] and r["resume_same"]),
    # the sequential MLP forgets task 1, the joint MLP does not, the consolidated STDP network
    # keeps more of task 1 than the sequential MLP; the hand-checked forgetting example holds
    "05_continual_learning.ipynb": (
        "{'hand': float(cl.average_forgetting(a)),"
        " 'first': {k: e['final_accuracy_first_task'] for k, e in results.items()}}",
        lambda r: (abs(r["hand"] - 0.55) < 1e-12 and r["first"]["mlp_sequential"] < 0.5
                   and r["first"]["mlp_joint"] > 0.7
                   and r["first"]["stdp_cf"] > r["first"]["mlp_sequential"] + 0.2)),
    # a user-defined model: the three patterns spike (fast spiking most), chattering bursts,
    # and the reference engine refuses the model by name
    "06_user_models.ipynb": (
        "{'counts': counts, 'bursting': bursting, 'refused': refused}",
        lambda r: (min(r["counts"].values()) > 3
                   and r["counts"]["fast spiking"] > 2 * r["counts"]["regular spiking"]
                   and r["bursting"] and "Izhikevich" in r["refused"])),
}



def _notebooks() -> list[str]:
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment for the kernels: a kernelspec for sys.executable on JUPYTER_PATH, the
    small configuration, the Agg backend, and the platformdirs paths Jupyter will use in its
    next major version (without it jupyter_core warns that it is migrating; warnings are
    errors in the test run)."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name=KERNEL, prefix=str(prefix), display_name="snnsim test kernel")
    env = dict(os.environ)
    env.update(JUPYTER_PATH=str(prefix / "share" / "jupyter"), JUPYTER_PLATFORM_DIRS="1",
               SNNSIM_NOTEBOOK_SMALL="1", MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


def test_every_notebook_is_checked():
    assert _notebooks() == sorted(CHECKS), "add the new notebook to CHECKS"
    for name in _notebooks():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:     # outputs are stripped in the repository
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
        src = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert 'os.environ.get("SNNSIM_NOTEBOOK_SMALL") == "1"' in src, name


@pytest.mark.parametrize("name", _notebooks())
def test_notebook_runs(name, kernel_env, monkeypatch, tmp_path):
    for key in ("JUPYTER_PATH", "JUPYTER_PLATFORM_DIRS"):
        monkeypatch.setenv(key, kernel_env[key])   # for the kernelspec lookup in this process
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    expr, check = CHECKS[name]
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json as _json\nimport matplotlib.pyplot as _plt\n"
        f"print('CHECK ' + _json.dumps({{'figures': len(_plt.get_fignums()), 'values': {expr}}}))"))
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(tmp_path)}},
                                     allow_errors=False, record_timing=True)
    t0 = time.perf_counter()
    try:
        client.execute(env=kernel_env)
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{name}: a cell failed:\n{exc}", pytrace=False)
    seconds = time.perf_counter() - t0
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream"
                   and o.name == "stdout")
    line = [ln for ln in text.splitlines() if ln.startswith("CHECK ")]
    assert line, f"{name}: the check cell printed nothing"
    found = json.loads(line[-1][len("CHECK "):])
    assert check(found["values"]), f"{name}: unexpected values {found['values']}"
    # figures were drawn (under Agg they stay open in the kernel: nothing shows or closes them)
    assert found["figures"] >= 2, f"{name}: only {found['figures']} figures"
    # the notebooks run clean: nothing on stderr (warnings, tracebacks, progress bars)
    errors = "".join(o.get("text", "") for o in outputs if o.output_type == "stream"
                     and o.name == "stderr")
    assert errors == "", f"{name} wrote to stderr:\n{errors}"
    print(f"{name}: {seconds:.1f} s", file=sys.stderr)
