"""A release's model files beyond the ONNX graphs: the LiteRT files and the Core ML package, made
where their extras are installed (:func:`litert_files`, :func:`coreml_files`); the parity gate
over every file (:func:`gate`: :mod:`.parity`, failing files moved out of the bundle); the card's
picture of crops (:func:`crops_picture`). ``say`` hears one line per step (progress)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..model.network import SLWSR
from .bundle import COREML, LITERT, LITERT_INT8
from .variants import Variant, litert_variants

#: A progress callback: one line of text.
Say = Callable[[str], None]


def litert_files(bundle: Path, model: SLWSR, calib: tuple, lr_size: tuple[int, int], say: Say) -> list[Variant]:
    """Write the LiteRT files (fp32 and int8, fixed input ``lr_size``), where the ``[litert]`` extra is
    installed (else ``say`` says why not); their variants (scored and timed with the ONNX graphs)."""
    from .litert import litert_or_error

    try:
        litert_or_error()
    except ValueError as e:
        say(f"no {LITERT}: {e}")
        return []
    say(f"LiteRT: {LITERT} and {LITERT_INT8} for {lr_size[1]}x{lr_size[0]} LR inputs")
    try:
        return litert_variants(model, bundle, lr_size, calib[1], calib[0])
    except Exception as e:  # the converter raises many kinds; a failed file must not cost the bundle
        say(f"no {LITERT}: litert-torch could not convert the network ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
        return []


def coreml_files(bundle: Path, model: SLWSR, say: Say) -> list[Variant]:
    """Write the Core ML package, where coremltools is installed (the ``[coreml]`` extra), as a variant."""
    from .coreml import coremltools_or_error, export_coreml

    try:
        coremltools_or_error()
    except ValueError as e:
        say(f"no {COREML}: {e}")
        return []
    say(f"Core ML: {COREML} (fp16 ML program, iOS 16+)")
    try:
        export_coreml(model, bundle / COREML)
    except Exception as e:  # coremltools raises many kinds; a failed package must not cost the bundle
        say(f"no {COREML}: coremltools could not convert the network ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
        return []
    return [Variant("coreml", "fp16", bundle / COREML)]


def crops_picture(bench, model: SLWSR, int8_path: Path, device: str = "cpu") -> tuple[np.ndarray, str]:
    """Crops of the bench's first picture, HR / bicubic / fp32 / int8, each captioned with its PSNR."""
    from .runners import onnx_runner, runner_upscaler
    from ..sr.crops import crops_strip, detail_box
    from ..sr.evaluate import bicubic_upscaler, model_upscaler
    from ..sr.metrics import psnr, quantize

    pair, scale = bench.pairs[0], model.spec.scale
    ups = [("bicubic", bicubic_upscaler(scale)), ("fp32", model_upscaler(model, device)),
           ("int8", runner_upscaler(onnx_runner(int8_path, 1)))]
    panels = [("HR", pair.hr)]
    for label, up in ups:
        sr = quantize(up(pair.lr))
        panels.append((f"{label} {psnr(sr, pair.hr, crop=scale):.2f} dB", sr))
    size = min(96, *pair.hr.shape[:2])
    strip = crops_strip(panels, detail_box(pair.hr, size), size)
    return strip, (f"{bench.name} {pair.name}: HR, bicubic, fp32 and int8, a {size} px crop shown x2; "
                   "PSNR of the whole picture (Y, as in the tables).")


def gate(bundle: Path, network: SLWSR, variants: list[Variant], picture: tuple[np.ndarray, str],
         say: Say) -> tuple[list[Variant], dict[str, str]]:
    """The parity gate (:mod:`.parity`): each file in ``variants`` against the bundle's own
    ``network`` on ``picture`` (LR image, its name); files that fail move out of the bundle
    (:func:`.parity.rejected_folder`). The variants that passed, and each file's card cell by label."""
    from .parity import check_files, parity_cell, parity_lines, reject_failures

    results = check_files([(v.path, v.precision) for v in variants], network, picture[0])
    for line in parity_lines(results, picture[1]):
        say(line)
    for path in reject_failures(results, bundle):
        say(f"REJECTED    {path.name}: not the network (moved to {path})")
    ok = {r.name for r in results if r.ok}
    return [v for v in variants if v.path.name in ok], {v.label: parity_cell(r) for v, r in zip(variants, results)}
