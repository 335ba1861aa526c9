"""The arch and bench commands: output, JSON, verification, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import run_command
from slwsr_search import PRESETS, ArchSpec
from slwsr_search.cli.arch import main as arch_main
from slwsr_search.cli.bench import main as bench_main
from slwsr_search.cli.common import portable_argv


def arch(capsys, *argv):
    return run_command(arch_main, capsys, *argv, prog="arch")


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_text(capsys, name):
    code, out, err = arch(capsys, "--preset", name)
    assert code == 0 and not err
    assert PRESETS[name].arch in out
    assert "published" in out and "paper Table II" in out
    assert "at 1280x720 output" in out


def test_s_lwsr16_figures(capsys):
    _, out, _ = arch(capsys, "--preset", "s-lwsr16")
    assert "143,731" in out and "10.18 G" in out and "144K parameters, 8.3 G" in out


def test_json_output(capsys, tmp_path):
    code, out, _ = arch(capsys, "--preset", "s-lwsr32-half", "--json")
    d = json.loads(out)
    assert code == 0 and d["params"] == 571_107 and d["macs"] == 39_892_377_600
    assert d["arch"] == PRESETS["s-lwsr32-half"].arch
    assert ArchSpec.from_dict(d["spec"]) == PRESETS["s-lwsr32-half"]
    # the spec from --json is a valid --spec file
    (tmp_path / "s.json").write_text(json.dumps(d["spec"]))
    code, out2, _ = arch(capsys, "--spec", str(tmp_path / "s.json"), "--json")
    assert code == 0 and json.loads(out2)["hash"] == d["hash"] and "published" not in json.loads(out2)


def test_arch_string_input(capsys):
    code, out, _ = arch(capsys, "--arch", PRESETS["s-lwsr16-half"].arch, "--json")
    assert code == 0 and json.loads(out)["params"] == 143_731


def test_verify(capsys):
    code, out, _ = arch(capsys, "--preset", "s-lwsr16-half", "--verify", "--hr-size", "64x48")
    assert code == 0 and out.count(": ok") == 2
    code, out, _ = arch(capsys, "--preset", "s-lwsr16", "--verify", "--hr-size", "64x48", "--json")
    v = json.loads(out)["verify"]
    assert v["ok"] and v["numel"] == 143_731


def test_list(capsys):
    code, out, _ = arch(capsys, "--list")
    assert code == 0 and all(name in out for name in PRESETS) and "2,276,803" in out


def _spec_file(tmp_path, mutate):
    d = PRESETS["s-lwsr16"].to_dict()
    mutate(d)
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(d))
    return str(p)


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _block(bunch, i, block):
    return lambda d: d["blocks"][bunch].__setitem__(i, block)


@pytest.mark.parametrize("mutate,msg", [
    (_block("LB2", 0, {"type": "conv", "act": True}), "blocks[LB2.b1].type: unknown block type 'conv'"),
    (_set("n_feats", 0), "n_feats: expected a positive integer, got 0"),
    (_set("n_feats", -16), "n_feats: expected a positive integer, got -16"),
    (_block("F3", 2, {"type": "ir", "expand": 0, "act": False}), "blocks[F3.b3].expand: expansion ratio must be >= 1, got 0"),
    (_set("pool", []), "pool: the information pool needs at least one source"),
    (_set("scale", 8), "scale: unsupported value 8; supported: 2, 3, 4"),
    (lambda d: d.pop("res_scale"), "spec: missing key 'res_scale'"),
])
def test_bad_spec_file_is_one_line_exit_2(capsys, tmp_path, mutate, msg):
    path = _spec_file(tmp_path, mutate)
    code, out, err = arch(capsys, "--spec", path)
    assert code == 2 and not out
    assert err.count("\n") == 1 and msg in err and path in err


def test_malformed_and_missing_files(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"scale": 4,\n  "n_feats": }')
    code, _, err = arch(capsys, "--spec", str(bad))
    assert code == 2 and "invalid JSON at line 2" in err and str(bad) in err and err.count("\n") == 1
    code, _, err = arch(capsys, "--spec", str(tmp_path / "nope.json"))
    assert code == 2 and "spec file not found" in err


@pytest.mark.parametrize("argv,msg", [
    (["--preset", "s-lwsr128"], "unknown preset 's-lwsr128'; known: s-lwsr16"),
    ([], "one of --preset, --spec, --arch or --list is required"),
    (["--preset", "s-lwsr16", "--arch", "x"], "not allowed with argument"),
    (["--preset", "s-lwsr16", "--hr-size", "720"], "expected WIDTHxHEIGHT"),
    (["--arch", "x4-n16-RRR"], "arch: cannot parse"),
])
def test_bad_arguments(capsys, argv, msg):
    code, out, err = arch(capsys, *argv)
    assert code == 2 and not out
    assert msg in err and err.count("\n") == 1


@pytest.mark.slow
def test_real_entry_point_no_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "slwsr_search.arch", "--spec", str(tmp_path / "x.json")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.count("\n") == 1
    h = subprocess.run([sys.executable, "-m", "slwsr_search.arch", "--help"], capture_output=True, text=True)
    assert h.returncode == 0 and "Multi-Adds" in h.stdout and "18%" in h.stdout


def test_bench_cost_runs(capsys):
    code = bench_main(["cost", "--preset", "s-lwsr16", "--random", "1", "--repeat", "3", "--hr-size", "64x48"])
    out = capsys.readouterr().out
    assert code == 0 and "s-lwsr16" in out and "yes" in out and "NO" not in out


def test_closed_pipe_is_quiet():
    # `python -m slwsr_search.arch --list | head -1`: no error message when the reader goes away
    p = subprocess.run(f"{sys.executable} -m slwsr_search.arch --list | head -1", shell=True, capture_output=True, text=True)
    assert p.stdout.startswith("preset") and "Broken pipe" not in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("argv,expect", [
    (["--out", "/work/runs/h2h/s-lwsr16"], ["--out", "../runs/h2h/s-lwsr16"]),
    (["--storage", "sqlite:////work/runs/h2h/real.db"], ["--storage", "sqlite:///../runs/h2h/real.db"]),
    (["--train-dir=/work/main/data/T91"], ["--train-dir=data/T91"]),
    (["--train-dir", "../shared/data/train/T91", "--steps", "5000"], ["--train-dir", "../shared/data/train/T91", "--steps", "5000"]),
    (["--storage", "sqlite:///studies/x.db", "--preset", "s-lwsr16"], ["--storage", "sqlite:///studies/x.db", "--preset", "s-lwsr16"]),
])
def test_portable_argv_writes_paths_relative_to_where_the_command_ran(argv, expect):
    assert portable_argv(argv, cwd="/work/main") == expect


def test_bench_settings_prints_and_writes_each_setting(capsys, tmp_path, monkeypatch):
    """Every setting of this CPU, for every design and shape, as a ratio to the first (the timing
    replaced: what is checked is the table, not a speed)."""
    import slwsr_search.benchmarks.settings as settings

    monkeypatch.setattr(settings, "time_setting", lambda arch, b, p, steps, st: [1.0 + st.bf16] * st.processes)
    code = bench_main(["settings", "--preset", "s-lwsr16", "--shape", "2x16", "--steps", "1", "--rounds", "2",
                       "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0 and "1 x 2 thread(s), fp32" in out and "load average" in out and "CPU " in out
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    first = rows[0]
    assert first["ratio"] == 1.0 and all(r["rounds"] and r["steps_per_s"] == r["ratio"] * first["steps_per_s"] for r in rows)
    assert (tmp_path / "s.csv").is_file()
    assert any(r["compile"] for r in rows)
    bench_main(["settings", "--shape", "2x16", "--steps", "1", "--rounds", "1", "--no-compile", "--out", str(tmp_path / "n")])
    rows = json.loads((tmp_path / "n.json").read_text())["rows"]
    assert rows and not any(r["compile"] for r in rows)


def test_a_timing_process_really_trains():
    from slwsr_search.benchmarks.settings import Setting, default_settings, time_setting

    assert [s.label for s in default_settings(2, False)] == ["1 x 2 thread(s), fp32", "2 x 1 thread(s), fp32",
                                                             "1 x 2 thread(s), fp32, compiled"]
    assert len(default_settings(2, True)) == 5 and len(default_settings(1, True)) == 3
    assert len(default_settings(2, True, compile=False)) == 4 and not any(s.compile for s in default_settings(2, True, False))
    (v,) = time_setting("x4-n4-RRR.RRR.RRR.RRR.RR-RRR.RRR.RRR.RRR-pool:h", 2, 16, 2, Setting(1, 1))
    assert v > 0


def test_bench_mix_counts_the_residual_blocks_each_encoding_draws(capsys):
    code = bench_main(["mix", "--draws", "60", "--study", "budget150k"])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert rows["slwsr"][1] == "per-slot" and rows["slwsr-mix"][1] == "mix"
    assert float(rows["slwsr"][2]) < 8 < float(rows["slwsr-mix"][2])  # mean residual blocks per design
