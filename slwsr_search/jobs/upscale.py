"""One picture upscaled from file to file in tiles, :func:`upscale_file`: read (grey, alpha and
16-bit kept), run through a runner (:func:`~..deploy.backends.bundle_runner`) tile by tile with a
margin of real context, written; what ``slwsr upscale`` does for each of its pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..sr.pictures import output_array, quantizer, read_picture, write_picture
from ..sr.tiles import plan_boxes, upscale_into


def upscale_file(src: str | Path, dst: str | Path, run, scale: int, tile: int, margin: int,
                 window: tuple[int, int] | None = None,
                 on_tiles: Callable[[int], Callable[[int, int], None] | None] | None = None) -> tuple[int, int]:
    """Upscale the picture ``src`` into ``dst`` (its folder created) with ``run`` in tiles of
    ``tile`` LR pixels and ``margin`` pixels of context (windows of ``window``'s size for a runner
    of one fixed size). ``on_tiles(n)`` hears how many tiles there are and returns what hears each
    one done (``(done, total)``), or None. The picture's size, ``(height, width)``; ``ValueError``
    naming ``dst`` when it cannot be written."""
    pic = read_picture(src)
    h, w = pic.size
    on_tile = None if on_tiles is None else on_tiles(len(plan_boxes(h, w, tile, margin, window)))
    out = output_array(pic, scale)
    upscale_into(run, pic.rgb, scale, tile, margin, out, quantizer(out), on_tile=on_tile, window=window)
    dst = Path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        write_picture(dst, pic, out, scale)
    except OSError as e:
        raise ValueError(f"{dst}: cannot write ({e.strerror or e})") from None
    return h, w
