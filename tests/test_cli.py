"""The ``snnsim`` command and its model files: every bad option or model file is refused
before anything is read, written or removed (``snnsim: error: ...``, exit status 2, naming
the option or key); an earlier run is never deleted by a refused run and is replaced only
with --overwrite; a run killed with SIGKILL and resumed writes the summary of an
uninterrupted run.  Every command runs in a temporary folder (cwd included)."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnsim as sn
from snnsim import checkpoint as ck
from snnsim.cli import MAX_SEED, main
from snnsim.learning.classifier import STDPClassifier
from snnsim.learning.diehl_cook import MAX_N_EXC, MODEL_FILE_KEYS, DiehlCookParams, load_model

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "diehl_cook_2015.toml"
DOC = tomllib.loads(MODEL.read_text())
N_DIGITS_TRAIN, N_DIGITS_TEST = 1437, 360
FAST = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """``snnsim.cli.main(argv)`` in this process: (exit status, stderr)."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:               # argparse's own errors
        code = exc.code
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, *named: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("snnsim: error: "), err
    for name in named:
        assert name in last, (name, last)


def toml_text(doc: dict) -> str:
    """A small TOML writer (tables of scalars, arrays and inline tables)."""
    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v == math.inf else
                                               "-inf" if v == -math.inf else repr(v))
        if isinstance(v, (int,)):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (datetime.date, datetime.time)):
            return v.isoformat()
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(v)

    lines = []
    for section, table in doc.items():
        if not isinstance(table, dict):
            lines.insert(0, f"{section} = {value(table)}")
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def fingerprint(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def earlier_run(folder: Path) -> Path:
    """A folder as an earlier run leaves it (its checkpoint is not a real one: nothing may
    read it in these tests) and a file of the user's."""
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / ck.CHECKPOINT_FILE).write_bytes(b"weights of a week-long job")
    (folder / "summary.json").write_text('{"accuracy": 0.9}')
    (folder / "notes.txt").write_text("mine")
    return folder


@pytest.fixture
def place(tmp_path, monkeypatch):
    """cwd = an empty temporary folder holding an earlier run in ./old."""
    monkeypatch.chdir(tmp_path)
    earlier_run(tmp_path / "old")
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    return tmp_path


def base(out="old") -> list[str]:
    return ["run", MODEL, "--dataset", "digits", "--n-exc", "10", "--n-train", "100",
            "--n-test", "20", "--jobs", "1", "--quiet", "--out", out, "--overwrite"]


def with_option(argv: list[str], option: str, value) -> list[str]:
    argv = list(argv)
    if option in argv:
        i = argv.index(option)
        argv[i + 1] = value
    else:
        argv += [option, value]
    return argv


# -- the failures of issue 14, one by one (each a traceback or a silent default before) ------------

@pytest.mark.parametrize("option, value, named", [
    ("--n-exc", "0", "--n-exc"),                 # was silently ignored: 400 neurons trained
    ("--n-exc", "-3", "--n-exc"),
    ("--n-exc", str(MAX_N_EXC + 1), "--n-exc"),
    ("--n-train", "0", "--n-train"),             # tracebacks ...
    ("--n-train", "-1", "--n-train"),
    ("--n-test", "0", "--n-test"),
    ("--n-test", "-5", "--n-test"),
    ("--n-label", "0", "--n-label"),
    ("--n-label", "-2", "--n-label"),
    ("--seed", str(2**64), "--seed"),
    ("--seed", str(MAX_SEED + 1), "--seed"),     # scikit-learn's random_state would fail late
    ("--out", "a_file", "--out"),
    ("--out", "a_file/below", "--out"),
    ("--n-label", "101", "--n-label"),           # more than --n-train: was clamped silently
    ("--n-train", str(N_DIGITS_TRAIN + 1), "--n-train"),
    ("--n-train", "1", "--n-train"),             # one class: the baselines failed at the end
    ("--jobs", "0", "--jobs"),
    ("--epochs", "0", "--epochs"),
    ("--checkpoint-every", "0", "--checkpoint-every"),
    ("--engine", "numbaa", "--engine"),
    ("--data", ".", "--data"),
])
def test_bad_options_are_refused_before_any_work(place, capsys, option, value, named):
    before = fingerprint(place)
    code, err = run_cli(with_option(base(), option, value), capsys)
    assert_refused(code, err, named)
    assert fingerprint(place) == before          # the earlier run in ./old is untouched


@pytest.mark.parametrize("model, named", [
    ("empty", "model file"),                     # a folder: was IsADirectoryError
    ("nope.toml", "does not exist"),
])
def test_bad_model_paths(place, capsys, model, named):
    code, err = run_cli(["run", model, "--out", "old", "--overwrite"], capsys)
    assert_refused(code, err, named)
    assert (place / "old" / "checkpoint" / ck.CHECKPOINT_FILE).exists()


def test_presentation_of_1e308_ms_is_refused(place, capsys):
    doc = json.loads(json.dumps(DOC))
    doc["input"]["present_ms"] = 1e308
    (place / "long.toml").write_text(toml_text(doc))
    argv = base()
    argv[1] = "long.toml"
    code, err = run_cli(argv, capsys)
    assert_refused(code, err, "input.present_ms", "1,000,000 time steps")


@pytest.mark.parametrize("edit, named", [
    (lambda d: d.clear(), "is empty"),
    (lambda d: d.pop("stdp"), "[stdp]"),
    (lambda d: d["exc"].pop("tau_m_ms"), "exc.tau_m_ms"),
    (lambda d: d["exc"].update(n=400.0), "exc.n"),
    (lambda d: d["stdp"].update(timing=1), "stdp.timing"),
    (lambda d: d["model"].update(name=5), "model.name"),
    (lambda d: d["input"].update(min_spikes=True), "input.min_spikes"),
    (lambda d: d["inh"].update(tau_e_ms="1.0"), "inh.tau_e_ms"),
])
def test_model_file_must_set_every_key_with_its_type(place, capsys, edit, named):
    """Before, an empty file or one missing a key or section ran with the defaults."""
    doc = json.loads(json.dumps(DOC))
    edit(doc)
    (place / "m.toml").write_text(toml_text(doc))
    with pytest.raises(sn.ParameterError) as info:
        load_model(place / "m.toml")
    assert named in str(info.value)
    code, err = run_cli(["run", "m.toml", "--out", "old", "--overwrite"], capsys)
    assert_refused(code, err, named)
    assert (place / "old" / "checkpoint" / ck.CHECKPOINT_FILE).exists()


def test_shipped_model_file_round_trips_through_the_test_writer(tmp_path):
    (tmp_path / "m.toml").write_text(toml_text(DOC))
    assert load_model(tmp_path / "m.toml") == load_model(MODEL) == DiehlCookParams()


def test_an_existing_run_is_refused_without_overwrite(place, capsys):
    argv = [a for a in base() if a != "--overwrite"]
    before = fingerprint(place)
    code, err = run_cli(argv, capsys)
    assert_refused(code, err, "--overwrite", "already holds a run", "checkpoint", "summary.json")
    (place / "old" / "summary.json").unlink()    # a checkpoint alone is a run too
    code, err = run_cli(argv, capsys)
    assert_refused(code, err, "--overwrite")
    assert fingerprint(place)["old/checkpoint/checkpoint.h5"] == before["old/checkpoint/checkpoint.h5"]
    code, err = run_cli(base() + ["--resume", "old"], capsys)
    assert_refused(code, err, "--resume", "--overwrite")
    code, err = run_cli([a for a in base() if a not in ("--overwrite",)][:-2] + ["--resume", "empty"],
                        capsys)
    assert_refused(code, err, "--resume", "no checkpoint")


# -- generated bad command lines and model files --------------------------------------------------------

INT_BOUNDS = {"--n-exc": (1, MAX_N_EXC), "--epochs": (1, 100), "--n-train": (1, N_DIGITS_TRAIN),
              "--n-test": (1, N_DIGITS_TEST), "--n-label": (1, 100), "--seed": (0, MAX_SEED),
              "--jobs": (1, 256), "--checkpoint-every": (1, None)}
RUN_OPTIONS = ("--dataset", "--data", "--n-exc", "--epochs", "--n-train", "--n-test", "--n-label",
               "--engine", "--seed", "--jobs", "--rest-mode", "--original", "--out", "--overwrite",
               "--resume", "--checkpoint-every", "--quiet", "--help")
HUGE = st.sampled_from([2**63, 2**64, 10**30, 10**200])


def _out_of_range(lo, hi):
    below = st.one_of(st.integers(max_value=lo - 1), HUGE.map(lambda x: -x))
    return below if hi is None else st.one_of(below, st.integers(min_value=hi + 1), HUGE)


def _not_an_int():
    def bad(s: str) -> bool:
        try:
            int(s)
        except ValueError:
            return "\x00" not in s
        return False
    return st.one_of(st.sampled_from(["1.5", "1e3", "", "ten", "0x10", "nan", "--", "-"]),
                     st.text(max_size=8).filter(bad))


@st.composite
def bad_command_lines(draw):
    """(argv, text the error must name): one bad option in an otherwise good command."""
    kind = draw(st.sampled_from(["range", "text", "choice", "engine", "out", "data", "model",
                                 "unknown", "resume"]))
    argv = base()
    if kind == "range":
        option = draw(st.sampled_from(sorted(INT_BOUNDS)))
        return with_option(argv, option, str(draw(_out_of_range(*INT_BOUNDS[option])))), option
    if kind == "text":
        option = draw(st.sampled_from(sorted(INT_BOUNDS)))
        return with_option(argv, option, draw(_not_an_int())), option
    if kind == "choice":
        option = draw(st.sampled_from(["--dataset", "--rest-mode"]))
        good = {"--dataset": ["mnist-mini", "digits", "mnist", "fashion-mnist"],
                "--rest-mode": ["simulate", "reset"]}[option]
        return with_option(argv, option, draw(st.text(max_size=12).filter(
            lambda s: s not in good and "\x00" not in s))), option
    if kind == "engine":
        return with_option(argv, "--engine", draw(st.text(max_size=12).filter(
            lambda s: s not in ("numba", "reference", "brian2", "cuda") and "\x00" not in s))), "--engine"
    if kind == "out":
        return with_option(argv, "--out", draw(st.sampled_from(["a_file", "a_file/x/y", ""]))), "--out"
    if kind == "data":
        return with_option(argv, "--data", draw(st.sampled_from([".", "empty", "a_file"]))), "--data"
    if kind == "model":
        name = draw(st.sampled_from(["empty", "missing.toml", "a_file", "/dev/null"]))
        return [argv[0], name] + argv[2:], "model file"
    if kind == "unknown":
        flag = "--" + draw(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10))
        if any(o.startswith(flag) for o in RUN_OPTIONS):   # a prefix argparse would accept
            flag = "--no-such-option"
        return argv + [flag], flag
    # resume: with --overwrite, a folder without a checkpoint, or another --out
    choice = draw(st.sampled_from(["overwrite", "empty", "other-out"]))
    if choice == "overwrite":
        return argv + ["--resume", "old"], "--resume"
    argv = [a for a in argv if a != "--overwrite"]
    if choice == "empty":
        return argv[:-2] + ["--resume", "empty"], "--resume"
    return argv + ["--resume", "empty"], "--out"


@FAST
@given(case=bad_command_lines())
def test_generated_bad_command_lines_are_refused(place, capsys, case):
    argv, named = case
    before = fingerprint(place)
    code, err = run_cli(argv, capsys)
    assert_refused(code, err, named)
    assert fingerprint(place) == before
    assert not (place / "snnsim-run").exists()


KEYS = sorted(f"{s}.{k}" for s, k in MODEL_FILE_KEYS)
_FIELDS = {f.name: f for f in dataclasses.fields(DiehlCookParams)}
NOT_A_NUMBER = st.one_of(st.text(max_size=6), st.booleans(), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.sampled_from("ab"), st.integers(), max_size=1),
                         st.dates())


def _bad_value(key: str):
    section, name = key.split(".")
    field, _ = MODEL_FILE_KEYS[(section, name)]
    if not field or field == "timing":
        return st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                         st.text(max_size=8).filter(lambda s: s not in ("arrival", "emission")
                                                    and (field or not s.strip())))
    if field in ("n_exc", "min_spikes"):
        top = MAX_N_EXC if field == "n_exc" else 10**6
        return st.one_of(st.integers(max_value=0), st.integers(min_value=top + 1, max_value=2**62),
                         st.floats(allow_nan=True), NOT_A_NUMBER)
    check = _FIELDS[field].metadata["check"].__name__
    special = st.sampled_from([math.nan, math.inf, -math.inf])
    if check == "positive":
        return st.one_of(special, st.floats(max_value=0.0, allow_nan=False),
                         st.integers(max_value=0), NOT_A_NUMBER)
    if check == "nonnegative":
        return st.one_of(special, st.floats(max_value=-1e-300, allow_nan=False),
                         st.integers(max_value=-1), NOT_A_NUMBER)
    return st.one_of(special, NOT_A_NUMBER)


@st.composite
def bad_model_files(draw):
    """(TOML text or bytes, text the error must name)."""
    doc = json.loads(json.dumps(DOC))
    kind = draw(st.sampled_from(["value", "value", "value", "missing-key", "missing-section",
                                 "unknown-key", "unknown-section", "top-level", "syntax",
                                 "bytes", "duration"]))
    if kind == "value":
        key = draw(st.sampled_from(KEYS))
        section, name = key.split(".")
        doc[section][name] = draw(_bad_value(key))
        return toml_text(doc), key
    if kind == "missing-key":
        key = draw(st.sampled_from(KEYS))
        section, name = key.split(".")
        del doc[section][name]
        return toml_text(doc), key
    if kind == "missing-section":
        section = draw(st.sampled_from(sorted(doc)))
        del doc[section]
        return toml_text(doc), f"[{section}]"
    if kind == "unknown-key":
        section = draw(st.sampled_from(sorted(doc)))
        name = draw(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True).filter(
            lambda n: (section, n) not in MODEL_FILE_KEYS))
        doc[section][name] = 1.0
        return toml_text(doc), f"{section}.{name}"
    if kind == "unknown-section":
        name = draw(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True).filter(lambda n: n not in doc))
        doc[name] = {"x": 1}
        return toml_text(doc), f"[{name}]"
    if kind == "top-level":
        name = draw(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True).filter(lambda n: n not in doc))
        return f"{name} = {draw(st.integers())}\n" + toml_text(doc), repr(name)
    if kind == "syntax":
        junk = draw(st.sampled_from(["[exc", "n = = 3", "x = [1, 2", "= 4", "[[", "a = 'b"]))
        return toml_text(doc) + junk + "\n", "not valid TOML"
    if kind == "bytes":
        return toml_text(doc).encode() + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\x80abc"])), \
            "not UTF-8"
    # durations and repetitions far beyond what a run can do (steps beyond the bounds)
    key, value = draw(st.sampled_from([
        ("input.present_ms", 1e308), ("input.present_ms", 0.1), ("input.rest_ms", 1e12),
        ("input_to_exc.delay_max_ms", 1e9), ("input.intensity_step", 1e-12),
        ("input.rate_per_level_hz", 1e6), ("model.dt_ms", 1e-300)]))
    section, name = key.split(".")
    doc[section][name] = value
    return toml_text(doc), key


@settings(FAST, max_examples=120)
@given(case=bad_model_files())
def test_generated_bad_model_files_are_refused(place, capsys, case):
    text, named = case
    path = place / "model.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    before = fingerprint(place / "old")
    code, err = run_cli(["run", path, "--dataset", "digits", "--out", "old", "--overwrite"], capsys)
    assert_refused(code, err, named)
    assert fingerprint(place / "old") == before


@st.composite
def bad_continual_lines(draw):
    argv = ["continual", MODEL, "--dataset", "digits", "--quiet", "--out", "cl"]
    kind = draw(st.sampled_from(["range", "share", "learners", "out", "model"]))
    if kind == "range":
        option, (lo, hi) = draw(st.sampled_from(sorted({
            "--n-exc": (1, MAX_N_EXC), "--epochs": (1, 100), "--mlp-epochs": (1, 10_000),
            "--seed": (0, MAX_SEED), "--jobs": (1, 256), "--n-train": (1, N_DIGITS_TRAIN),
            "--tasks": (1, 10), "--per-class": (1, MAX_N_EXC)}.items())))
        return argv + [option, str(draw(_out_of_range(lo, hi)))], option
    if kind == "share":
        return argv + ["--min-share", draw(st.sampled_from(["nan", "-0.1", "1.5", "inf"]))], "--min-share"
    if kind == "learners":
        return argv + ["--learners", draw(st.sampled_from([",", "", "stdp,sdtp", "mlp"]))], "--learners"
    if kind == "out":
        return argv + ["--out", "a_file"], "--out"
    return [argv[0], "empty"] + argv[2:], "model file"


@settings(FAST, max_examples=30)
@given(case=bad_continual_lines())
def test_generated_bad_continual_command_lines_are_refused(place, capsys, case):
    argv, named = case
    code, err = run_cli(argv, capsys)
    assert_refused(code, err, named)
    assert not (place / "cl").exists()


def test_continual_refuses_an_earlier_experiment_without_overwrite(place, capsys):
    (place / "cl").mkdir()
    (place / "cl" / "continual.json").write_text("{}")
    code, err = run_cli(["continual", MODEL, "--dataset", "digits", "--out", "cl", "--quiet"], capsys)
    assert_refused(code, err, "--overwrite", "continual.json")
    assert (place / "cl" / "continual.json").read_text() == "{}"


# -- kill and resume ------------------------------------------------------------------------------------

TIMINGS = ("wall_seconds", "seconds_per_train_image", "seconds_per_test_image")
LEARNER_TIMINGS = ("train_seconds", "seconds_per_test_image")
WINDOW = 20          # running-accuracy window of these runs (250 in real runs)

CHILD = textwrap.dedent("""
    import os, signal, sys
    from snnsim import checkpoint as ck
    from snnsim.learning.classifier import STDPClassifier
    from snnsim.cli import main
    STDPClassifier.curve_window = int(sys.argv[1])
    save = ck.save_classifier_checkpoint
    def save_and_die(clf, n_done, final=False):
        path = save(clf, n_done, final=final)
        os.kill(os.getpid(), signal.SIGKILL)      # as the queue kills a job, right after
        return path
    ck.save_classifier_checkpoint = save_and_die
    sys.exit(main(sys.argv[2:]))
""")


def _without_timings(summary: dict) -> dict:
    s = {k: v for k, v in summary.items() if k not in TIMINGS}
    s["learners"] = [{k: v for k, v in r.items() if k not in LEARNER_TIMINGS} for r in s["learners"]]
    return s


def test_killed_and_resumed_run_writes_the_summary_of_an_uninterrupted_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(STDPClassifier, "curve_window", WINDOW)
    opts = ["--dataset", "digits", "--n-exc", "8", "--n-train", "60", "--n-test", "20",
            "--jobs", "1", "--quiet", "--checkpoint-every", "30"]
    # killed after its first checkpoint, in the middle of the second window (30 of 60)
    killed = subprocess.run([sys.executable, "-c", CHILD, str(WINDOW), "run", str(MODEL), *opts,
                             "--out", "killed"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert killed.returncode == -9, killed.stderr
    info = ck.read_checkpoint_info(tmp_path / "killed" / "checkpoint" / ck.CHECKPOINT_FILE)
    assert info["n_trained"] == 30 and not info["final"]
    assert not (tmp_path / "killed" / "summary.json").exists()
    # the uninterrupted run, into a folder that held an earlier run: --overwrite replaces it
    earlier_run(tmp_path / "straight")
    code, err = run_cli(["run", MODEL, *opts, "--out", "straight", "--overwrite"], capsys)
    assert code == 0, err
    assert (tmp_path / "straight" / "notes.txt").read_text() == "mine"   # only the run's files go
    code, err = run_cli(["run", MODEL, *opts, "--resume", "killed"], capsys)
    assert code == 0, err
    straight = json.loads((tmp_path / "straight" / "summary.json").read_text())
    resumed = json.loads((tmp_path / "killed" / "summary.json").read_text())
    # windows close at 20, 40, 60; the first has no labels to be predicted with yet
    assert [n for n, _ in straight["training_curve"]] == [40, 60]
    assert _without_timings(resumed) == _without_timings(straight)
    assert set(straight) - set(_without_timings(straight)) == set(TIMINGS)
