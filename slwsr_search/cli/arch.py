"""``slwsr arch`` / ``python -m slwsr_search.arch``: a spec's arch string and exact cost; optionally verified."""

from __future__ import annotations

import json
import sys
import time
from typing import Sequence

from ..model.cost import DEFAULT_HR_SIZE, count_cost, measure_cost
from ..model.presets import PRESETS, PUBLISHED
from .common import Parser, add_spec_args, fmt_size, parse_size, spec_from_args

SUMMARY = "a spec's arch string, hash, parameters and Multi-Adds (exact, from the spec alone)"

DESCRIPTION = """\
Print an s-LWSR variant's arch string, hash, parameters and Multi-Adds.

Cost convention: parameters are trainable weights and biases (the fixed mean shift is not
counted). Multi-Adds are the multiply-accumulates of every convolution for ONE image whose
super-resolved output is --hr-size (default 1280x720), each conv at the resolution it runs at:
everything before the upsampler at LR (320x180 for x4), the x4 upsampler's second stage at 2x
LR, the last conv at the output size. Biases, additions, ReLUs and pixel shuffles are free.
This is CARN's convention and fvcore's count (one conv MAC = one fvcore flop).

For presets the paper's published figures are printed beside ours, labelled as published. The
paper counts every conv at LR resolution, so its Multi-Adds are about 18% low for x4.
"""

EPILOG = """\
examples:
  slwsr arch --preset s-lwsr16
  slwsr arch --preset s-lwsr16-half --verify
  slwsr arch --spec reports/budget150k/pareto/003.json --json
  slwsr arch --list

exit codes: 0 ok; 1 --verify found a mismatch; 2 bad input (one-line error naming the field).
"""


def build_parser(prog: str) -> Parser:
    p = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG)
    add_spec_args(p, required=False)
    p.add_argument("--list", action="store_true", help="list the presets with their costs and exit")
    p.add_argument("--hr-size", type=parse_size, default=DEFAULT_HR_SIZE, metavar="WxH",
                   help="SR output size that Multi-Adds are counted for (default 1280x720)")
    p.add_argument("--json", action="store_true", help="print one JSON object: params, macs, arch, hash, spec, ...")
    p.add_argument("--verify", action="store_true",
                   help="build the model and cross-check params against numel and Multi-Adds against fvcore "
                        "(takes seconds: fvcore runs the network)")
    return p


def _list_presets(hr_size: tuple[int, int]) -> None:
    print(f"{'preset':<15} {'params':>10} {'Multi-Adds':>11}  {'published':>17}  arch")
    for name, spec in PRESETS.items():
        c = count_cost(spec, hr_size)
        pub = PUBLISHED[name]
        print(f"{name:<15} {c.params:>10,} {c.gmacs:>9.2f} G  {pub.params_k:>5}K {pub.gmacs:>6.1f} G    {spec.arch}")
    print(f"\nMulti-Adds at {fmt_size(hr_size)} output. 'published': the paper's Table II, as printed "
          "(its Multi-Adds count every conv at LR resolution).")


def _verify(spec, hr_size, cost) -> dict:
    t0 = time.perf_counter()
    numel, fv_macs = measure_cost(spec, hr_size)
    return {
        "numel": numel, "fvcore_macs": fv_macs, "seconds": round(time.perf_counter() - t0, 3),
        "ok": numel == cost.params and fv_macs == cost.macs,
    }


def _print_json(spec, cost, published, verify) -> None:
    out = {
        "params": cost.params, "macs": cost.macs, "arch": spec.arch, "hash": spec.hash,
        "hr_size": list(cost.hr_size), "lr_size": list(cost.lr_size),
        "parts": {name: {"params": p, "macs": m} for name, p, m in cost.parts},
        "spec": spec.to_dict(),
    }
    if published:
        out["published"] = {"source": f"paper Table II, {published.model} (as printed)",
                            "params_k": published.params_k, "gmacs": published.gmacs}
    if verify:
        out["verify"] = verify
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _print_text(label, spec, cost, published, verify) -> None:
    kinds = f"{spec.n_res} res, {spec.n_ir} ir"
    print(f"{'spec':<12}{label}")
    print(f"{'arch':<12}{spec.arch}")
    print(f"{'hash':<12}{spec.hash}")
    print(f"{'blocks':<12}{kinds}; activations kept {spec.n_active}/26; pool {len(spec.pool)} sources; "
          f"scale x{spec.scale}; n_feats {spec.n_feats}; res_scale {spec.res_scale:g}")
    print(f"{'parameters':<12}{cost.params:,}")
    print(f"{'Multi-Adds':<12}{cost.gmacs:.2f} G ({cost.macs:,}) at {fmt_size(cost.hr_size)} output, "
          f"LR input {fmt_size(cost.lr_size)}")
    if published:
        print(f"{'published':<12}{published.params_k}K parameters, {published.gmacs} G Multi-Adds "
              f"(paper Table II, {published.model}, as printed; its Multi-Adds count every conv at LR resolution)")
    print(f"\n{'part':<12}{'params':>10} {'Multi-Adds':>14}")
    for name, p, m in cost.parts:
        print(f"{name:<12}{p:>10,} {m / 1e9:>12.3f} G")
    if verify:
        _print_verify(cost, verify)


def _print_verify(cost, verify) -> None:
    ok = lambda a, b: "ok" if a == b else "MISMATCH"  # noqa: E731
    print(f"\nverify      numel  {verify['numel']:,} vs analytic {cost.params:,}: {ok(verify['numel'], cost.params)}")
    print(f"            fvcore {verify['fvcore_macs']:,} vs analytic {cost.macs:,}: "
          f"{ok(verify['fvcore_macs'], cost.macs)} ({verify['seconds']:.1f} s)")


def main(argv: Sequence[str] | None = None, prog: str = "slwsr arch") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.list:
        _list_presets(args.hr_size)
        return 0
    if args.preset is None and args.spec is None and args.arch is None:
        parser.error("one of --preset, --spec, --arch or --list is required")
    label, spec = spec_from_args(args)
    cost = count_cost(spec, args.hr_size)
    published = PUBLISHED.get(args.preset) if args.preset else None
    verify = _verify(spec, args.hr_size, cost) if args.verify else None
    if args.json:
        _print_json(spec, cost, published, verify)
    else:
        _print_text(label, spec, cost, published, verify)
    return 0 if verify is None or verify["ok"] else 1
