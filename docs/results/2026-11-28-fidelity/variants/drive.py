"""Device driver for issue 12's audits: the real-data reference (all designs, 2 seeds) and the
screening variants, as many `slwsr_search.fidelity --worker K --workers N` processes sharing one
GPU. Each process appends to its store as trainings finish; at the deadline every process gets
SIGINT (stops after the current training step; the cut training is not stored). Stores are copied
to OUT. Usage: python .gpu/drive.py OUT DEADLINE_S [--smoke]"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

OUT, DEADLINE = Path(sys.argv[1]), float(sys.argv[2])
SMOKE = "--smoke" in sys.argv
ROOT = Path(__file__).resolve().parents[1]
G = ROOT / ".gpu"
D = G / "data"
DESIGNS = "2" if SMOKE else "22"
DEVICE = "cpu" if SMOKE else "cuda"
K = 10 if SMOKE else 1  # smoke: steps / K

HEAD = """search_space = "slwsr"
objectives = ["psnr", "params", "macs"]
n_trials = 8
seed = 0
baselines = ["s-lwsr16", "s-lwsr16-half"]
[constraints]
max_params = 150_000
[data]
train = ["builtin:train"]
val = ["builtin:val"]
"""


def proto(table, steps, batch, patch, lr):
    return (f"[{table}]\nsteps = {max(1, steps // K)}\nbatch_size = {batch}\nlr_patch = {patch}\nlr = {lr}\n"
            f'schedule = "cosine"\n')


def study(name, steps=150, batch=8, patch=32, lr=2e-3, ref=None, rungs=True):
    text = HEAD + proto("protocol", steps, batch, patch, lr) + proto("cpu_protocol", steps, batch, patch, lr)
    if rungs:
        text += "[fidelity]\nrungs = [1, 3]\nreduction = 3\nseeds_at_top = 2\n"
    text += proto("reference_protocol", *(ref or (1, 8, 32, 2e-3)))
    p = G / "studies" / f"{name}.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


REAL_TRAIN = ["--train-dir", str(D / "train/T91"), "--train-dir", str(D / "train/BSD200")]
REAL_VAL = ["--val-dir", str(D / "Set5"), "--val-dir", str(D / "Set14")]
REF_DATA = ["--reference-train-dir", str(D / "train/T91"), "--reference-train-dir", str(D / "train/BSD200"),
            "--reference-val-dir", str(D / "Set5"), "--reference-val-dir", str(D / "Set14")]

# name -> (study file, extra options, workers); the reference run first (it gets the most workers)
# The reference run's own screening is a 1-step stand-in (the CLI plans screening jobs before
# reference jobs); the default screening is its own run.
BUILTIN = []
try:
    import importlib.util
    sk = Path(importlib.util.find_spec("skimage").origin).parent / "data"
    names = ["astronaut.png", "coffee.png", "motorcycle_left.png", "hubble_deep_field.jpg", "camera.png", "moon.png",
             "grass.png", "gravel.png", "brick.png", "ihc.png", "retina.jpg", "chelsea.png", "rocket.jpg", "coins.png"]
    missing = [n for n in names if not (sk / n).is_file()]
except Exception as e:  # no scikit-image
    missing = [repr(e)]
if missing or os.environ.get("FORCE_BUILTIN_DIRS"):  # the photos carried from this repository's machine
    print(f"built-in photos missing on this machine ({missing}): using .gpu/builtin", flush=True)
    BUILTIN = ["--train-dir", str(G / "builtin/train"), "--val-dir", str(G / "builtin/val")]
RUNS = {
    "ref": (study("v-ref", steps=1, ref=(2000, 16, 48, 1e-3), rungs=False), BUILTIN + REF_DATA + ["--reference-repeat", "99"],
            2 if SMOKE else 8, "1"),
    "default": (study("v-default"), BUILTIN, 2, "2"),
    "lr1e-3": (study("v-lr1e-3", lr=1e-3), BUILTIN, 1, "2"),
    "batch16": (study("v-batch16", steps=75, batch=16), BUILTIN, 1, "2"),
    "realval": (study("v-realval"), BUILTIN[:2] + REAL_VAL, 1, "2"),
    "realdata": (study("v-realdata"), REAL_TRAIN + REAL_VAL, 1, "2"),
    "steps2x": (study("v-steps2x", steps=300), BUILTIN, 2, "2"),
}

OUT.mkdir(parents=True, exist_ok=True)
for f in (G / "stores").glob("*.jsonl"):  # resume the stores of an earlier call
    shutil.copy(f, OUT / f.name)
env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
procs = []
t0 = time.time()
for name, (toml, extra, n, seeds) in RUNS.items():
    store = OUT / f"{name}.jsonl"
    for k in range(1, n + 1):
        cmd = [sys.executable, "-m", "slwsr_search.fidelity", "--study", str(toml), "--designs", DESIGNS,
               "--seeds", seeds, "--store", str(store), "--out", str(G / "out" / name), "--device", DEVICE,
               "--threads", "1", "--quiet", "--workers", str(n), "--worker", str(k), *extra]
        log = open(OUT / f"log-{name}-w{k}.txt", "w")
        procs.append((name, k, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))
print(f"{len(procs)} processes started", flush=True)
while time.time() - t0 < DEADLINE and any(p.poll() is None for _, _, p in procs):
    time.sleep(5)
    if int(time.time() - t0) % 60 < 5:
        lines = {n: sum(1 for _ in open(OUT / f"{n}.jsonl")) if (OUT / f"{n}.jsonl").exists() else 0 for n in RUNS}
        smi = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip() if DEVICE == "cuda" else ""
        print(f"{time.time() - t0:6.0f} s  stored {lines}  gpu {smi}", flush=True)
for _, _, p in procs:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
for name, k, p in procs:
    try:
        p.wait(timeout=40)
    except subprocess.TimeoutExpired:
        p.kill()
    print(f"{name} w{k}: exit {p.returncode}", flush=True)
# logs are many small files: fold them into one (OUT returns at most 8 files)
with open(OUT / "logs.txt", "w") as f:
    for lp in sorted(OUT.glob("log-*.txt")):
        f.write(f"==== {lp.name}\n{lp.read_text()[-3000:]}\n")
        lp.unlink()
print(f"done in {time.time() - t0:.0f} s", flush=True)
