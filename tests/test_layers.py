"""The package's house rules, checked on its source: layers import one way, library code never
prints, every published figure has one home, every command answers both ways it is invoked."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import slwsr_search
from slwsr_search import PRESETS
from slwsr_search.cli import COMMANDS, main as slwsr_main
from slwsr_search.model.published import TABLE_II

PACKAGE = Path(slwsr_search.__file__).parent
#: Layers, bottom first: a module may import its own layer and the ones below, never above.
#: ``config`` (plain data) and ``machine`` (the CPU's identity) are helpers every layer may use.
LAYERS = ["config", "machine", "model", "sr", "training", "deploy", "search", "audit", "reporting", "jobs", "benchmarks", "cli"]
#: The ``python -m slwsr_search.X`` entry points: two lines each that call the command layer.
ENTRY_POINTS = {f"{c}.py" for c in COMMANDS} | {"__main__.py"}
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in ("studies", "search_spaces"))


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "slwsr_search" and parts[1] in LAYERS else None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def _imports(path: Path) -> set[str]:
    """Every package module ``path`` imports, relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names}
    return {m for m in out if m.startswith("slwsr_search")}


LIBRARY = [p for p in SOURCES if p.relative_to(PACKAGE).parts[0] != "cli"
           and not (p.parent == PACKAGE and p.name in ENTRY_POINTS)]


@pytest.mark.parametrize("path", [p for p in SOURCES if _layer(_module_name(p))], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    own = LAYERS.index(_layer(_module_name(path)))
    for target in _imports(path):
        layer = _layer(target)
        assert layer is None or LAYERS.index(layer) <= own, f"{path.relative_to(PACKAGE)} imports {target} (layer {layer})"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_code_never_prints_nor_imports_the_command_layer(path):
    tree = ast.parse(path.read_text())
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
    assert not prints, f"print() at lines {prints}"
    assert not any(_layer(m) == "cli" for m in _imports(path))


#: Modules over ~350 lines, each allowed because it is one concern.
LONG_BUT_ONE_CONCERN = {"model/spec.py": "the spec: validation, JSON, arch string, hash"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_readable(path):
    n = len(path.read_text().splitlines())
    assert n <= 350 or str(path.relative_to(PACKAGE)) in LONG_BUT_ONE_CONCERN, f"{n} lines"


#: The published PSNRs of the rows this package compares with (bicubic and the paper's networks).
PUBLISHED_PSNRS = sorted({f"{psnr:.2f}" for row in TABLE_II if row.model in ("Bicubic", "s-LWSR16", "s-LWSR32", "s-LWSR64")
                          for psnr, _ in row.scores.values()})


@pytest.mark.parametrize("psnr", PUBLISHED_PSNRS)
def test_published_figures_live_in_one_module(psnr):
    holders = [str(p.relative_to(PACKAGE)) for p in SOURCES if psnr in p.read_text()]
    assert holders == ["model/published.py"], holders


def test_arch_grammar_examples_parse():
    from slwsr_search.model.spec import ArchSpec

    doc = ArchSpec.from_arch.__doc__
    examples = [w.strip("`(),.") for w in doc.split() if w.startswith("``x") and "-pool:" in w]
    assert len(examples) == 2
    for text in examples:
        assert ArchSpec.from_arch(text).arch == text


@pytest.mark.parametrize("name", COMMANDS)
def test_slwsr_subcommand_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        slwsr_main([name, "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and out.startswith(f"usage: slwsr {name}")


def test_slwsr_lists_its_commands_and_rejects_unknown_ones(capsys):
    assert slwsr_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {c} " in out for c in COMMANDS)
    assert slwsr_main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and err.count("\n") == 1
    assert slwsr_main([]) == 2


#: Runs each ``python -m slwsr_search.NAME --help`` as ``-m`` does (``runpy``, as ``__main__``) in one
#: fresh interpreter: one start-up (2-3 s on 2 cores) for every command instead of one each.
_RUN_EACH = """
import contextlib, io, json, runpy, sys
out = {}
for name in sys.argv[1:]:
    buf, code = io.StringIO(), 0
    sys.argv = [name, "--help"]
    with contextlib.redirect_stdout(buf):
        try:
            runpy.run_module(f"slwsr_search.{name}", run_name="__main__", alter_sys=True)
        except SystemExit as e:
            code = e.code
    out[name] = [code, buf.getvalue()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def entry_point_help() -> dict:
    p = subprocess.run([sys.executable, "-c", _RUN_EACH, *COMMANDS], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMANDS)
def test_python_m_entry_points(name, entry_point_help):
    code, out = entry_point_help[name]
    assert code == 0 and out.startswith(f"usage: python -m slwsr_search.{name}"), out[:200]


#: Packages a report must not load: the training stack and the deployment runtimes.
HEAVY = ("torch", "onnxruntime", "onnx", "onnxscript", "fvcore", "safetensors")

_REPORT_IN_A_FRESH_INTERPRETER = """
import json, sys
from slwsr_search.cli import main
code = main(["report", "--study", "budget150k", "--storage", sys.argv[1], "--out", sys.argv[2]])
print(json.dumps({"code": code, "loaded": [m for m in sys.argv[3:] if m in sys.modules]}))
"""


def test_slwsr_report_imports_no_torch(tmp_path):
    """``slwsr report`` reads a SQLite file and writes the report without loading the training stack."""
    import optuna

    from slwsr_search.search.record import TrialRecord
    from slwsr_search.search.storage import open_study
    from slwsr_search.search.study import StudyConfig

    cfg = StudyConfig.load("budget150k")
    url = f"sqlite:///{tmp_path / 'b.db'}"
    st = open_study(cfg, url, seed=0)
    for i, (params, loss, psnr) in enumerate([(143_731, 9.15, 29.05), (99_475, 8.86, 29.11), (129_503, 8.79, 29.11)]):
        spec = PRESETS["s-lwsr16"]
        rec = TrialRecord(arch=spec.arch, spec=spec.to_json(compact=True), hash=spec.hash, params=params, macs=10 ** 10,
                          feasible=True, status="ok", psnr=psnr, ssim=0.79, loss=loss)
        st.add_trial(optuna.trial.create_trial(values=[loss, params, 10.0], user_attrs=rec.attrs()))
    p = subprocess.run([sys.executable, "-c", _REPORT_IN_A_FRESH_INTERPRETER, url, str(tmp_path / "out"), *HEAVY],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout.splitlines()[-1])
    assert result == {"code": 0, "loaded": []}
    assert (tmp_path / "out" / "index.html").is_file()


@pytest.mark.parametrize("module", ["slwsr_search", "slwsr_search.model.latency_table", "slwsr_search.audit.store",
                                    "slwsr_search.reporting.fidelity"])
def test_readers_import_no_torch(module):
    """The package's API, and the modules that read latency tables and audits, load none of :data:`HEAVY`
    (the report's modules are checked by the test above)."""
    code = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stdout + p.stderr
