"""The latency table: the predictor's sum, refusals, calibration on a tiny image, the commands, and
a study that prices latency before training."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import optuna
import pytest

from helpers import run_command
from slwsr_search.benchmarks.latency import spearman, summarise, Row
from slwsr_search.deploy.calibrate import CHAIN, Part, block_part, calibrate, export_part, part_module, plan, table_for
from slwsr_search.deploy.latency import round_robin
from slwsr_search.model.latency_table import (SKELETON_SOURCES, LatencyTable, MachineIdentity, block_key, predict_latency,
                                              skeleton_key, spec_keys, table_path)
from slwsr_search.model.presets import get_preset
from slwsr_search.model.spec import SLOTS, ArchSpec, BlockSpec
from slwsr_search.search.study import StudyConfig

HERE = MachineIdentity.here("onnxruntime", 1)
LR = (180, 320)


def hand_table(entries: dict[str, float], identity: MachineIdentity = HERE, lr_size=LR) -> LatencyTable:
    return LatencyTable(identity=identity, scale=4, lr_size=lr_size, entries=entries, passes=1, repeats=1, warmup=0)


def test_prediction_is_the_hand_computed_sum():
    res, res_off, ir = BlockSpec("res"), BlockSpec("res", act=False), BlockSpec("ir", 2)
    blocks = (ir,) * 14 + (res,) * 6 + (res_off,) * 6
    spec = ArchSpec(scale=4, n_feats=8, blocks=blocks, pool=("head", "LB1.b1", "LB2.b1", "LB3.b1", "LB4.b1", "LB5.b2"))
    table = hand_table({skeleton_key(8, 1): 100.0, skeleton_key(8, 15): 128.0, block_key(ir, 8): 3.0,
                        block_key(res, 8): 5.0, block_key(res_off, 8): 4.5})
    pred = predict_latency(spec, table)
    # skeleton at 6 sources: 100 + (128 - 100) * (6 - 1) / 14 = 110; 14 x 3 + 6 x 5 + 6 x 4.5 = 99
    assert pred.ms == pytest.approx(110 + 14 * 3 + 6 * 5 + 6 * 4.5)
    assert dict(pred.parts) == pytest.approx({"skeleton": 110.0, "extractor": 42.0, "fusion": 57.0})
    assert set(spec_keys(spec)) == set(table.entries)


def test_missing_part_and_other_scale_are_refused_with_the_command_to_fix_them():
    spec = get_preset("s-lwsr16")
    table = hand_table({skeleton_key(16, 1): 1.0, skeleton_key(16, 15): 1.0})
    with pytest.raises(ValueError, match=r"no entry 'block:res:n16:act'.*calibrate .*--n-feats 16 --blocks res"):
        predict_latency(spec, table)
    with pytest.raises(ValueError, match=r"no entry 'skeleton:n8:k1'.*--n-feats 8`"):
        predict_latency(spec.replace(n_feats=8), table)
    with pytest.raises(ValueError, match="scale x2, but the latency table is for x4"):
        predict_latency(spec.replace(scale=2), table)


@pytest.mark.parametrize("field,value", [("cpu", "Another CPU"), ("cores", 64), ("runtime", "torch"),
                                         ("version", "0.1"), ("threads", 4)])
def test_a_table_of_another_identity_is_refused_naming_what_differs(tmp_path, field, value):
    other = dataclasses.replace(HERE, **{field: value})
    path = hand_table({skeleton_key(8, 1): 1.0}, identity=other).save(tmp_path / "t.json")
    table = LatencyTable.load(path)
    with pytest.raises(ValueError, match=rf"{path}.*{field} .*Calibrate one here: `python -m slwsr_search.latency "
                                         rf"calibrate --runtime onnxruntime --threads 1"):
        table.check(HERE, 4, LR)
    with pytest.raises(ValueError, match=f"{field}"):
        table_for([Part(skeleton_key(8, 1), 8, sources=1)], path=path)  # never measured into a foreign file
    hand_table({skeleton_key(8, 1): 1.0}).save(tmp_path / "here.json")
    with pytest.raises(ValueError, match=r"LR size 320x180 \(here 64x48\)"):
        LatencyTable.load(tmp_path / "here.json").check(HERE, 4, (48, 64))


def test_table_json_round_trip_and_malformed_files(tmp_path):
    table = hand_table({skeleton_key(8, 1): 12.5, block_key(BlockSpec("ir", 6), 8): 0.25})
    back = LatencyTable.load(table.save(tmp_path / "t.json"))
    assert back == table and back.source == str(tmp_path / "t.json")
    (tmp_path / "bad.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="bad.json: not a latency table"):
        LatencyTable.load(tmp_path / "bad.json")
    d = table.to_dict()
    d["entries"]["skeleton:n8:k1"] = -1
    (tmp_path / "neg.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"entries.skeleton:n8:k1: expected a time > 0 ms"):
        LatencyTable.load(tmp_path / "neg.json")
    with pytest.raises(ValueError, match="no such latency table"):
        LatencyTable.load(tmp_path / "none.json")


def test_plan_covers_every_part_a_spec_of_those_widths_and_kinds_reads():
    parts = plan([8, 12], [BlockSpec("res"), BlockSpec("ir", 2)])
    assert len(parts) == 2 * (2 + 2 * 2) and len({p.key for p in parts}) == len(parts)
    spec = ArchSpec(scale=4, n_feats=12, blocks=tuple(BlockSpec("ir", 2, i % 2 == 0) for i in range(len(SLOTS))))
    assert set(spec_keys(spec)) <= {p.key for p in parts}
    assert all(p.copies == CHAIN for p in parts if p.block is not None)


def test_round_robin_takes_turns():
    log = []

    def workload(name):
        def open_():
            log.append(f"open {name}")
            return lambda: log.append(name)
        return open_

    times = round_robin([workload("a"), workload("b")], passes=2, repeats=2, warmup=1)
    assert [len(t) for t in times] == [4, 4] and all(x >= 0 for t in times for x in t)
    assert log == ["open a", "a", "a", "a", "open b", "b", "b", "b"] * 2


def test_calibrate_on_a_tiny_image(tmp_path):
    parts = plan([4], [BlockSpec("res"), BlockSpec("ir", 2)])
    seen = []
    table = calibrate(parts, lr_size=(12, 16), passes=2, repeats=1, warmup=0, on_turn=lambda k, i: seen.append((k, i)))
    assert set(table.entries) == {p.key for p in parts} and all(v > 0 for v in table.entries.values())
    assert seen == [(k, i) for k in range(2) for i in range(len(parts))]
    assert table.identity == HERE and table.lr_size == (12, 16) and table.created
    # the prediction is the table's arithmetic (no timing compared: a busy machine reorders times)
    spec = ArchSpec(scale=4, n_feats=4, blocks=(BlockSpec("ir", 2, False),) * len(SLOTS))
    lo, hi = SKELETON_SOURCES
    a, b = table.entries[skeleton_key(4, lo)], table.entries[skeleton_key(4, hi)]
    skeleton = a + (b - a) * (len(spec.pool) - lo) / (hi - lo)
    assert predict_latency(spec, table).ms == pytest.approx(skeleton + len(SLOTS) * table.entries[block_key(spec.blocks[0], 4)])


def test_parts_export_the_operators_a_bundle_exports():
    """The calibration's quick exporter and the bundle's dynamo exporter give the same operators."""

    import onnx
    import torch

    for part in (block_part(BlockSpec("ir", 2, False), 4, copies=2), Part(skeleton_key(4, 3), 4, sources=3)):
        module, x = part_module(part, 4, (8, 8))
        quick = onnx.load_from_string(export_part(module, x))
        with torch.no_grad():
            program = torch.onnx.export(module, (x,), dynamo=True, verbose=False)
        ops = [Counter(n.op_type for n in m.graph.node if n.op_type != "Constant") for m in (quick, program.model_proto)]
        assert ops[0] == ops[1], part.key


def test_latency_command_calibrates_once_then_shows_and_predicts(capsys, tmp_path, monkeypatch):
    from slwsr_search.cli.latency import main

    monkeypatch.setenv("SLWSR_CACHE_DIR", str(tmp_path))
    tiny = ["--lr-size", "16x12"]
    code, out, err = run_command(main, capsys, "calibrate", *tiny, "--n-feats", "4", "--blocks", "res", "ir2",
                                 "--passes", "1", "--repeats", "1", prog="latency")
    assert code == 0, err
    path = table_path(HERE, 4, (12, 16))
    assert path.parent == tmp_path / "latency" and str(path) in out and "measured 6 part(s)" in out
    code, out, _ = run_command(main, capsys, "calibrate", *tiny, "--n-feats", "4", "--blocks", "res", "ir2", prog="latency")
    assert code == 0 and "already holds all 6" in out
    code, out, _ = run_command(main, capsys, "show", *tiny, prog="latency")
    assert code == 0 and "skeleton:n4:k15" in out and "block:ir2:n4:noact" in out
    arch = ArchSpec(scale=4, n_feats=4).arch
    code, out, _ = run_command(main, capsys, "predict", *tiny, "--arch", arch, "--json", prog="latency")
    assert code == 0 and json.loads(out)["latency_ms"] > 0
    code, _, err = run_command(main, capsys, "predict", *tiny, "--preset", "s-lwsr16", prog="latency")
    assert code == 2 and "no entry 'skeleton:n16:k1'" in err
    code, _, err = run_command(main, capsys, "show", "--threads", "3", *tiny, prog="latency")
    assert code == 2 and "no latency table for" in err and "calibrate" in err


def test_spearman_and_summary():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)  # ties take average ranks
    rows = [Row(f"r{i}", "a", 8, 20, 1000 + i, 10 * i, 100.0 + i, 100.0 + i * (1.2 if i % 2 else 1.0), 0, 0)
            for i in range(1, 6)]
    s = summarise(rows)["all"]
    assert s["specs"] == 5 and s["rho_predicted"] == pytest.approx(1.0)
    errors = sorted(abs(r.error) for r in rows)
    assert s["mdape"] == pytest.approx(errors[2]) and s["within_10pct"] == pytest.approx(sum(e <= 0.1 for e in errors) / 5)


# ----- a study priced by latency ----------------------------------------------------------------


def latency_study(tmp_path, max_latency_ms: float | None, table: LatencyTable, objectives='["psnr", "latency"]') -> str:
    """The smoke study with a latency objective and limit, priced from ``table`` (given by file)."""
    table.save(tmp_path / "table.json")
    toml = open(StudyConfig.load("smoke").path).read()
    toml = toml.replace('objectives = ["psnr", "params", "macs"]', f"objectives = {objectives}")
    limit = f"\nmax_latency_ms = {max_latency_ms}" if max_latency_ms is not None else ""
    toml = toml.replace("max_params = 20_000", f"max_params = 20_000{limit}")
    toml += '\n[latency]\nruntime = "onnxruntime"\nthreads = 1\ntable = "table.json"\n'
    (tmp_path / "lat.toml").write_text(toml)
    return str(tmp_path / "lat.toml")


def smoke_table(slow_n8: bool = True) -> LatencyTable:
    """Every smoke-space part: width 8 ten times slower than width 4, so a 500 ms limit keeps only width 4."""
    entries = {}
    for n, unit in ((4, 1.0), (8, 100.0 if slow_n8 else 2.0)):
        entries[skeleton_key(n, 1)] = 10 * unit
        entries[skeleton_key(n, 15)] = 11 * unit
        for b in (BlockSpec("res"), BlockSpec("ir", 2)):
            for act in (True, False):
                entries[block_key(dataclasses.replace(b, act=act), n)] = unit * (1.0 if b.type == "res" else 0.5)
    return hand_table(entries, identity=dataclasses.replace(HERE, cpu="a phone's CPU", cores=8))


def test_a_latency_limit_is_priced_first_and_never_trains_an_over_limit_spec(capsys, tmp_path, folders, monkeypatch):
    from slwsr_search.cli.run import main as run_main
    from slwsr_search.search import rungs as rungs_mod

    from slwsr_search.search import latency as study_latency

    monkeypatch.chdir(tmp_path)
    # The table is a phone's: the front must not be timed here. Should it be, a stand-in workload
    # keeps the test quick (exporting each Pareto point takes seconds) and the asserts below fail.
    monkeypatch.setattr(study_latency, "spec_workload", lambda spec, *a: lambda: (lambda: sum(range(1000))))
    trained = []
    real = rungs_mod.Training.run
    monkeypatch.setattr(rungs_mod.Training, "run", lambda self, *a, **k: trained.append(self.spec) or real(self, *a, **k))
    study = latency_study(tmp_path, 500, smoke_table())
    url = f"sqlite:///{tmp_path / 'lat.db'}"
    code, out, err = run_command(run_main, capsys, "--study", study, "--storage", url, "--quiet", "--device", "cpu",
                                 "--n-trials", "4", *folders, prog="run")
    assert code == 0, err
    assert "latency <= 500 ms" in out and "a phone's CPU" in out
    st = optuna.load_study(study_name="lat", storage=url)
    assert st.metric_names == ["PSNR (dB)", "latency (ms)"]
    over = [t for t in st.trials if t.user_attrs.get("status") == "infeasible"]
    assert over, "the draw should include width-8 specs, all over the limit"
    for t in st.trials:
        spec = ArchSpec.from_json(t.user_attrs["spec"])
        assert t.user_attrs["latency_ms"] == pytest.approx(predict_latency(spec, smoke_table()).ms, abs=1e-3)
        assert (t.user_attrs["latency_ms"] > 500) == (spec.n_feats == 8) == (t.constraints["latency"] > 0)
    assert trained and all(s.n_feats == 4 for s in trained)
    # the front is not timed: this machine's time is no check of the phone's prediction, and the run
    # says so, naming both machines; the report labels the prediction as the phone's and pairs nothing
    assert st.best_trials and "measured_latency" not in st.user_attrs
    here = study_latency.host_identity(smoke_table()).describe()
    assert (f"Pareto front not timed: its latencies are predicted for {smoke_table().identity.describe()} "
            f"(the table's machine); this machine ({here}) is another") in out
    assert "measuring the time" not in out and "meas." not in out and "latency ms" in out
    assert "predicted for a phone's CPU, 8 cores" in out
    summary = (tmp_path / "reports" / "lat" / "summary.md").read_text()
    assert "budget: params <= 20,000, latency <= 500 ms" in summary
    assert "predicted for a phone's CPU, 8 cores" in summary and "meas." not in summary
    html = (tmp_path / "reports" / "lat" / "index.html").read_text()
    assert "PSNR against latency (ms per image, predicted)" in html and "predicted for a phone&#x27;s CPU" in html
    assert "measured latency" not in html and "meas." not in html


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_measure_front_stores_medians_beside_what_the_study_holds(tmp_path):
    from slwsr_search.search.latency import measure_front, table_record
    from slwsr_search.search.record import StudyRecord

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'm.db'}", study_name="m")
    table = hand_table({}, lr_size=(12, 16))
    # trial 7 measured under this very table (the first, flat form: the study's recorded table's)
    StudyRecord(latency=table_record(table), measured_latency={"7": 12.5}).write(study)
    spec = ArchSpec(scale=4, n_feats=4, blocks=(BlockSpec("ir", 2),) * len(SLOTS), pool=("head",))
    turns = []
    known = measure_front(study, {3: spec, 7: spec}, table, passes=2, on_turn=lambda k, i: turns.append((k, i)))
    assert turns == [(0, 0), (1, 0)]  # trial 7 was measured before: only trial 3 runs
    assert known["7"] == 12.5 and known["3"] > 0
    stored = StudyRecord.of(optuna.load_study(study_name="m", storage=f"sqlite:///{tmp_path / 'm.db'}"))
    assert stored.measured_latency == {"identity": dataclasses.asdict(HERE), "times": known}
    assert stored.measured() == (HERE, known)


def _two_machines(monkeypatch, tmp_path, name):
    """A study of two trials, ``timed`` (the specs each measurement ran) and ``move(identity, ms)``:
    this process becomes a machine of that identity whose every measurement takes ``ms``; returns
    the machine's own table (made there)."""
    from slwsr_search.search import latency as study_latency

    timed, now = [], {}

    def round_robin(workloads, passes, *args):
        timed.extend(workloads)
        return [[now["ms"]] * passes for _ in workloads]

    monkeypatch.setattr(study_latency, "spec_workload", lambda spec, *a: spec)
    monkeypatch.setattr(study_latency, "round_robin", round_robin)
    monkeypatch.setattr(study_latency, "host_identity", lambda table: now["identity"])

    def move(identity: MachineIdentity, ms: float) -> LatencyTable:
        now.update(identity=identity, ms=ms)
        table = hand_table({}, identity=identity, lr_size=(12, 16))
        assert study_latency.made_here(table)
        return table

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / name}.db", study_name=name,
                                directions=["maximize", "minimize"])
    specs = {}
    for i, ms in enumerate((100.0, 300.0)):
        spec = ArchSpec(scale=4, n_feats=4, blocks=(BlockSpec("ir", 2 + i),) * len(SLOTS), pool=("head",))
        study.add_trial(optuna.trial.create_trial(values=[20.0 + i, ms], user_attrs={
            "spec": spec.to_json(compact=True), "latency_ms": ms, "status": "ok", "psnr": 20.0 + i}))
        specs[i] = spec
    return study, specs, timed, move


MACHINE_A = dataclasses.replace(HERE, cpu="machine A's CPU", cores=4)
MACHINE_B = dataclasses.replace(HERE, cpu="machine B's CPU", cores=32)


def test_a_front_measured_under_another_machines_table_is_measured_again_under_this_ones(tmp_path, monkeypatch):
    """Issue 33: a study measured on machine A and resumed on machine B (B's own table, made there)
    keeps none of A's times as B's: every point is measured afresh, and the study's times are B's."""
    from slwsr_search.search.latency import measure_front
    from slwsr_search.search.record import StudyRecord

    study, specs, timed, move = _two_machines(monkeypatch, tmp_path, "ab")
    assert measure_front(study, specs, move(MACHINE_A, 50.0), passes=1) == {"0": 50.0, "1": 50.0}
    assert len(timed) == 2
    timed.clear()
    table_b = move(MACHINE_B, 20.0)
    assert measure_front(study, specs, table_b, passes=1) == {"0": 20.0, "1": 20.0}
    assert timed == list(specs.values())  # every point, not only those A left unmeasured
    rec = StudyRecord.of(study)
    assert rec.measured() == (MACHINE_B, {"0": 20.0, "1": 20.0}) and rec.measured_under(MACHINE_A) == {}
    timed.clear()
    assert measure_front(study, specs, table_b, passes=1) == {"0": 20.0, "1": 20.0} and timed == []


def test_the_report_shows_no_time_measured_under_another_table_than_the_studys(tmp_path, monkeypatch):
    """The report pairs a measured time with the predictions of the table it was measured under only:
    resumed on B (the run records B's table), A's times are no longer shown; once B measured, B's are."""
    from slwsr_search.reporting.compute import trials_frame
    from slwsr_search.search.latency import measure_front, table_record
    from slwsr_search.search.record import StudyRecord

    study, specs, timed, move = _two_machines(monkeypatch, tmp_path, "rep")
    table_a = move(MACHINE_A, 50.0)
    StudyRecord(latency=table_record(table_a)).write(study)
    measure_front(study, specs, table_a, passes=1)
    assert trials_frame(study)["measured_latency_ms"].tolist() == [50.0, 50.0]
    table_b = move(MACHINE_B, 20.0)
    StudyRecord(latency=table_record(table_b)).write(study)  # what `slwsr run` records on B
    assert trials_frame(study)["measured_latency_ms"].isna().all()
    measure_front(study, specs, table_b, passes=1)
    assert trials_frame(study)["measured_latency_ms"].tolist() == [20.0, 20.0]


def test_a_flat_measured_record_reads_as_its_studys_table_and_no_other(tmp_path, monkeypatch):
    """The first form of ``measured_latency`` (trial number -> ms, no identity) still reads, as
    measured under the table the study recorded; with none recorded its machine is unknown (shown
    nowhere, measured afresh); a run that records another table (resumed on B) does not adopt it."""
    from slwsr_search.reporting.compute import trials_frame
    from slwsr_search.search.latency import measure_front, table_record
    from slwsr_search.search.record import StudyRecord

    study, specs, timed, move = _two_machines(monkeypatch, tmp_path, "flat")
    study.set_user_attr("measured_latency", {"0": 50.0})  # as a study written before issue 33 holds it
    assert trials_frame(study)["measured_latency_ms"].isna().all()  # measured on an unknown machine
    table_a = move(MACHINE_A, 45.0)
    study.set_user_attr("latency", table_record(table_a))
    assert trials_frame(study)["measured_latency_ms"].tolist()[0] == 50.0
    assert measure_front(study, {0: specs[0]}, table_a, passes=1) == {"0": 50.0} and timed == []
    table_b = move(MACHINE_B, 20.0)
    StudyRecord(latency=table_record(table_b)).write(study)  # what `slwsr run` records on B
    assert StudyRecord.of(study).measured() == (MACHINE_A, {"0": 50.0})  # still A's, pinned
    assert trials_frame(study)["measured_latency_ms"].isna().all()
    assert measure_front(study, {0: specs[0]}, table_b, passes=1) == {"0": 20.0} and timed == [specs[0]]


def test_a_front_is_timed_only_under_this_machines_own_table(tmp_path, monkeypatch):
    """A phone's table (or this CPU's under another runtime version) predicts another machine's time:
    measure_front refuses to store this machine's time under it, and measures under its own."""
    from slwsr_search.search import latency as study_latency
    from slwsr_search.search.record import StudyRecord

    opened = []
    monkeypatch.setattr(study_latency, "spec_workload", lambda spec, *a: lambda: opened.append(spec) or (lambda: None))
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'f.db'}", study_name="f")
    spec = ArchSpec(scale=4, n_feats=4, blocks=(BlockSpec("ir", 2),) * len(SLOTS), pool=("head",))
    phone = hand_table({}, identity=dataclasses.replace(HERE, cpu="a phone's CPU", cores=8), lr_size=(12, 16))
    with pytest.raises(ValueError, match=r"made on a phone's CPU, 8 cores, .*not on this machine: a time measured "
                                         r"here cannot check its predictions"):
        study_latency.measure_front(study, {3: spec}, phone)
    assert not opened and StudyRecord.of(study).measured_latency is None
    other_version = hand_table({}, identity=dataclasses.replace(HERE, version="0.1"), lr_size=(12, 16))
    assert not study_latency.made_here(phone) and not study_latency.made_here(other_version)
    assert study_latency.host_identity(phone) == HERE
    own = hand_table({}, lr_size=(12, 16))
    assert study_latency.made_here(own)
    assert set(study_latency.measure_front(study, {3: spec}, own, passes=1)) == {"3"} and opened == [spec]


def test_a_study_table_must_match_the_study_and_hold_its_parts(tmp_path):
    table = smoke_table()
    cfg = StudyConfig.load(latency_study(tmp_path, None, dataclasses.replace(table, identity=dataclasses.replace(
        table.identity, threads=2))))
    from slwsr_search.search.latency import study_table

    with pytest.raises(ValueError, match=r"threads 2 \(here 1\)"):
        study_table(cfg)
    partial = dataclasses.replace(table, entries={k: v for k, v in table.entries.items() if "ir2:n8" not in k})
    cfg = StudyConfig.load(latency_study(tmp_path, None, partial))
    with pytest.raises(ValueError, match="no entry 'block:ir2:n8:act'"):
        study_table(cfg)
    with pytest.raises(ValueError, match="nothing in search space 'smoke' fits the budget: the quickest spec takes"):
        StudyConfig.load(latency_study(tmp_path, 5, table)).check_space_fits(table)
    with pytest.raises(ValueError, match="pricing a latency needs"):
        cfg.price(get_preset("s-lwsr16"))


@pytest.mark.parametrize("text,match", [("max_latency_ms = 0", "max_latency_ms: expected milliseconds > 0"),
                                        ("max_latency_ms = \"fast\"", "max_latency_ms: expected milliseconds > 0")])
def test_bad_latency_settings_name_the_key(tmp_path, text, match):
    toml = open(StudyConfig.load("smoke").path).read().replace("max_params = 20_000", f"max_params = 20_000\n{text}")
    (tmp_path / "s.toml").write_text(toml)
    with pytest.raises(ValueError, match=match):
        StudyConfig.load(tmp_path / "s.toml")
    (tmp_path / "r.toml").write_text(open(StudyConfig.load("smoke").path).read() + '\n[latency]\nruntime = "tflite"\n')
    with pytest.raises(ValueError, match=r"\[latency\]: runtime: expected one of onnxruntime, onnxruntime-int8, torch, "
                                         r"litert, litert-int8, got 'tflite'"):
        StudyConfig.load(tmp_path / "r.toml")


@pytest.mark.slow  # over 4 s on 2 cores (docs/results/2026-12-07-ci-xeon.log): CI's second pass
def test_bench_latency_validate_on_a_tiny_image(capsys, tmp_path, monkeypatch):
    from slwsr_search.cli.bench import main

    monkeypatch.setenv("SLWSR_CACHE_DIR", str(tmp_path))
    code, out, err = run_command(main, capsys, "latency", "--validate", "2", "--space", "smoke", "--lr-size", "16x12",
                                 "--passes", "1", "--repeats", "1", "--out", str(tmp_path / "v"), prog="bench")
    assert code == 0, err
    assert "2 specs (0 presets + 2 drawn from 'smoke', seed 0)" in out and "rho pred" in out
    summary = json.loads((tmp_path / "v.json").read_text())["summary"]["all"]
    assert summary["specs"] == 2 and -1 <= summary["rho_predicted"] <= 1 and summary["mdape"] >= 0
    rows = (tmp_path / "v.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("label,arch,n_feats,n_ir,params,macs,predicted_ms,measured_ms")
    assert "predicted = measured" in (tmp_path / "v.html").read_text()
    code, _, err = run_command(main, capsys, "latency", prog="bench")
    assert code == 2 and "give a network (--preset, --spec or --arch), or --validate N" in err
