"""A latency kit: the calibration plan's parts as model files a phone runs with its runtime's own
benchmark tool, and the tool's outputs read back into a :class:`~..model.latency_table.LatencyTable`.

:func:`write_kit` exports every part (:func:`.calibrate.part_module`, the shapes a table is made
at) as a static-shape model file, writes ``manifest.json`` (:data:`KIT_FORMAT`: runtime, threads,
scale, LR size, each part's key, file and block copies, and the kit's id, :func:`kit_id`) and
``run_on_phone.sh``, which pushes the parts with ``adb``, runs each once with the tool and saves
its output as ``results/<part>.txt`` after a line naming the kit (:data:`ID_LINE`), and the phone's
model name and core count in ``results/device.txt``. :func:`read_kit` parses those outputs in the
tools' text formats (:data:`TOOLS`) into a table whose identity names the device, the runtime
(``onnxruntime``, ``litert`` (XNNPACK), either with ``-int8``) and the threads; a study uses it
through ``[latency] table = FILE``. An output of another kit written into the same folder (other
part files or settings; say an fp32 kit's results left when an int8 kit replaced it) is refused by
its id, so a table never mixes the two.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..config import utc_now, write_atomic
from ..model.latency_table import LatencyTable, MachineIdentity

#: The manifest's format tag.
KIT_FORMAT = "slwsr-search/latency-kit-1"
MANIFEST, SCRIPT, RESULTS, DEVICE = "manifest.json", "run_on_phone.sh", "results", "device.txt"
#: The first line the phone script writes into each part's output: the kit's id after it.
ID_LINE = "slwsr-latency-kit"


@dataclass(frozen=True)
class Tool:
    """A runtime's benchmark tool: its ``name``, the ``runtime`` it measures (the table identity's),
    the model file's ``suffix``, the shell ``command`` that runs one part (``{tool}``, ``{model}``,
    ``{threads}``, ``{runs}`` filled in) and the ``pattern`` of its output line giving a time, with
    the factor from its unit to milliseconds (``per_ms``: 1e-3 for microseconds)."""

    name: str
    runtime: str
    suffix: str
    command: str
    pattern: str
    per_ms: float


#: The kits' runtimes, keyed by their :data:`~..model.latency_table.RUNTIMES` name (``-int8`` added
#: for an int8 kit). onnxruntime_perf_test prints the mean of the timed runs as ``Average inference
#: time cost total: 7.270205 ms`` (current builds) or ``Average inference time cost: 144.871 ms``
#: (older ones, some without the space: ``cost:734.606 ms``), beside ``First inference time cost:
#: N ms`` (the warm-up run) and percentiles in seconds; LiteRT's benchmark_model (XNNPACK delegate,
#: as the host's ``litert`` runtime) ends with ``Inference timings in us: ..., Inference (avg):
#: 266473`` (C++ stream format: ``2.95034e+06`` past a second), lines an Android build prefixes
#: with ``INFO: ``. Each pattern holds to one line, so no other line's number is read.
TOOLS: dict[str, Tool] = {
    "onnxruntime": Tool("onnxruntime_perf_test", "onnxruntime", ".onnx",
                        "{tool} -m times -r {runs} -e cpu -x {threads} -I {model}",
                        r"(?m)^[ \t]*Average inference time cost(?: total)?:"
                        r"[ \t]*([0-9.]+(?:[eE][+-]?[0-9]+)?)[ \t]*ms\b", 1.0),
    "litert": Tool("benchmark_model", "litert", ".tflite",
                   "{tool} --graph={model} --num_threads={threads} --num_runs={runs} --use_xnnpack=true",
                   r"Inference timings in us:[^\n]*?Inference \(avg\):[ \t]*([0-9.]+(?:[eE][+-]?[0-9]+)?)", 1e-3),
}


def part_file(key: str, suffix: str) -> str:
    """A part's file name: its key with ``:`` as ``_`` (``block_ir6_n16_act.onnx``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key) + suffix


def write_kit(folder: str | Path, parts: Sequence, runtime: str, int8: bool, threads: int, scale: int,
              lr_size: tuple[int, int], runs: int = 50, on_part: Callable[[int, object], None] | None = None,
              convert: Callable[[object], bytes] | None = None) -> Path:
    """Write the kit for ``parts`` (:func:`.calibrate.plan`) into ``folder``: one model file per
    part (``int8``: its int8 model; onnxruntime: a static-shape ONNX graph, litert: a ``.tflite``,
    NHWC as a whole network's file), the manifest and the phone script. ``convert(part)`` gives a
    part's file (default :func:`.calibrate.converter`'s; ``ValueError`` before any part when the
    runtime's converter, e.g. the ``[litert]`` extra, is missing). Returns ``folder``."""
    tool = _tool(runtime)
    label = tool.runtime + ("-int8" if int8 else "")
    if convert is None:
        from .calibrate import converter

        convert = converter(label, scale, lr_size)
    out = Path(folder)
    (out / "parts").mkdir(parents=True, exist_ok=True)
    entries = []
    for i, part in enumerate(parts):
        if on_part is not None:
            on_part(i, part)
        data = convert(part)
        name = part_file(part.key, tool.suffix)
        write_atomic(out / "parts" / name, lambda tmp, d=data: Path(tmp).write_bytes(d))
        entries.append({"key": part.key, "file": name, "copies": part.copies,
                        "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"format": KIT_FORMAT, "runtime": label, "tool": tool.name,
                "kit_runtime": runtime, "int8": int8, "threads": threads, "scale": scale, "lr_size": list(lr_size),
                "runs": runs, "created": utc_now(), "parts": entries}
    manifest["kit_id"] = kit_id(manifest)
    write_atomic(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    write_atomic(out / SCRIPT, lambda tmp: Path(tmp).write_text(phone_script(tool, entries, threads, runs,
                                                                              manifest["kit_id"])))
    (out / SCRIPT).chmod(0o755)
    return out


def kit_id(manifest: dict) -> str:
    """A kit's id: 12 hex digits of SHA-256 over what its outputs depend on (runtime, tool,
    threads, runs, scale, LR size, each part's key, copies and file digest), not when it was
    written: a kit written again alike keeps its id, and its outputs stay valid."""
    keys = ("runtime", "tool", "kit_runtime", "int8", "threads", "scale", "lr_size", "runs")
    what = {**{k: manifest[k] for k in keys},
            "parts": [{k: e.get(k) for k in ("key", "file", "copies", "sha256")} for e in manifest["parts"]]}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def phone_script(tool: Tool, entries: Sequence[dict], threads: int, runs: int, kit: str = "") -> str:
    """The shell script that runs every part on the attached phone and saves each output, after a
    line naming the kit ``kit`` (:data:`ID_LINE`; none when empty)."""
    run_one = tool.command.format(tool="$TOOL", model="$DIR/parts/$f", threads=threads, runs=runs)
    files = " ".join(e["file"] for e in entries)
    stamp = f'echo "{ID_LINE} {kit}"; ' if kit else ""
    return f"""#!/bin/sh
# Run every part of this latency kit on the phone adb sees, with {tool.name}; one output per part in
# results/. Build or download {tool.name} for the phone (its runtime's docs), push it to the phone and
# say where: TOOL=/data/local/tmp/{tool.name} ./{SCRIPT}. Then: slwsr latency import THIS_FOLDER.
set -eu
cd "$(dirname "$0")"
TOOL=${{TOOL:-/data/local/tmp/{tool.name}}}
DIR=${{KIT_DIR:-/data/local/tmp/slwsr-kit}}
mkdir -p {RESULTS}
adb shell mkdir -p "$DIR/parts"
adb push parts/. "$DIR/parts/"
{{ adb shell getprop ro.product.model; adb shell nproc; }} > {RESULTS}/{DEVICE}
for f in {files}; do
  echo "$f"
  {{ {stamp}adb shell "{run_one}"; }} > "{RESULTS}/${{f%.*}}.txt"
done
echo "done: slwsr latency import $(pwd)"
"""


def read_kit(folder: str | Path, device: str | None = None) -> LatencyTable:
    """The table a kit's results give: per part the tool's time (ms) divided by its block copies;
    the identity names ``device`` (default: ``results/device.txt``'s model name), the runtime and
    threads. ``ValueError`` naming the file for a missing manifest, part output, an output of
    another kit (its id line, :data:`ID_LINE`; a kit written before ids were kept checks none), in
    another tool's format or with no time."""
    root = Path(folder)
    manifest = _manifest(root)
    tool = _tool(manifest["kit_runtime"])
    entries = {}
    for part in manifest["parts"]:
        path = root / RESULTS / (Path(part["file"]).stem + ".txt")
        entries[part["key"]] = parse_output(path, tool, manifest.get("kit_id")) / part["copies"]
    name, cores = _device(root, device)
    identity = MachineIdentity(name, cores, manifest["runtime"], tool.name, int(manifest["threads"]))
    return LatencyTable(identity=identity, scale=int(manifest["scale"]), lr_size=tuple(manifest["lr_size"]),
                        entries=entries, passes=1, repeats=int(manifest["runs"]), warmup=0, created=utc_now(),
                        source=str(root))


def parse_output(path: Path, tool: Tool, kit: str | None = None) -> float:
    """The time (ms) in one output of ``tool`` (its one line matching ``tool.pattern``); ``ValueError``
    naming ``path`` when it is missing, is not the output of kit ``kit`` (its first line, when
    ``kit`` is given), holds the other tool's output, no time or more than one."""
    if not path.is_file():
        raise ValueError(f"{path}: missing (a part the kit's {SCRIPT} did not run, or did not finish)")
    text = path.read_text(errors="replace")
    if kit:
        first = text.split("\n", 1)[0].split()
        if first[:1] == [ID_LINE] and len(first) == 2 and first[1] != kit:
            raise ValueError(f"{path}: an output of kit {first[1]}, not of this one ({kit}, {MANIFEST}): left from "
                             f"another kit written into this folder; run this kit's {SCRIPT} again")
        if first != [ID_LINE, kit]:
            raise ValueError(f"{path}: its first line is not '{ID_LINE} {kit}' (this kit, {MANIFEST}): not written by "
                             f"this kit's {SCRIPT} (an older kit's output?); run the script again")
    times = re.findall(tool.pattern, text)
    if len(times) > 1:  # two runs' outputs in one file: which one the part took is unknown
        raise ValueError(f"{path}: {len(times)} times in it ({', '.join(times)}); expected one run of {tool.name}")
    if times:
        return float(times[0]) * tool.per_ms
    for other in TOOLS.values():
        if other is not tool and re.search(other.pattern, text):
            raise ValueError(f"{path}: holds {other.name} output, but this kit measures {tool.runtime} with {tool.name}")
    raise ValueError(f"{path}: no time in it (expected a line matching {tool.pattern!r} from {tool.name})")


def _tool(runtime: str) -> Tool:
    if runtime not in TOOLS:
        raise ValueError(f"runtime: expected one of {', '.join(TOOLS)}, got {runtime!r}")
    return TOOLS[runtime]


def _manifest(root: Path) -> dict:
    path = root / MANIFEST
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: missing: not a latency kit folder (slwsr latency kit writes one)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON ({e})") from None
    if not isinstance(m, dict) or m.get("format") != KIT_FORMAT:
        raise ValueError(f"{path}: not a latency kit manifest (format {m.get('format') if isinstance(m, dict) else m!r})")
    return m


def _device(root: Path, device: str | None) -> tuple[str, int]:
    """(name, cores) of the phone: ``device`` or results/device.txt's first line; its second, the cores."""
    path = root / RESULTS / DEVICE
    if not path.is_file():
        if device is None:
            raise ValueError(f"{path}: missing; name the device with --device")
        return device, 0
    lines = path.read_text().split("\n")
    name = device or lines[0].strip()
    if not name:
        raise ValueError(f"{path}: line 1: expected the device's model name (adb shell getprop ro.product.model); "
                         "or name it with --device")
    if len(lines) < 2 or not lines[1].strip().isdigit():
        raise ValueError(f"{path}: line 2: expected the core count (adb shell nproc), got "
                         f"{lines[1].strip() if len(lines) > 1 else 'nothing'!r}")
    return name, int(lines[1])
