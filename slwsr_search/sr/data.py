"""SR data: image folders, the DIV2K and benchmark layouts, the built-in default set, and the
training patch sampler.

Every image becomes 8-bit RGB, (H, W, 3) uint8 (grey, RGBA, palette and 16-bit inputs
included). HR images are cropped (top-left) to a multiple of the scale; missing LR images are
made with the MATLAB-compatible :func:`~slwsr_search.sr.resize.imresize`.
"""

from __future__ import annotations

import importlib.resources
import random
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .resize import imresize, to_uint8

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

#: The built-in default data: photographs shipped inside scikit-image's wheel (no download).
#: Training gets the varied natural and textured photos; validation gets three held-out photos of
#: different content (an animal's fur, a street scene with text and sky, metal coins on a flat
#: background). ``motorcycle_right`` is left out: it is the stereo twin of ``motorcycle_left``.
#: Synthetic images (page, text, logo, horse, chessboards) are not photographs and are left out.
BUILTIN_TRAIN: tuple[str, ...] = (
    "astronaut.png", "coffee.png", "motorcycle_left.png", "hubble_deep_field.jpg", "camera.png",
    "moon.png", "grass.png", "gravel.png", "brick.png", "ihc.png", "retina.jpg",
)
BUILTIN_VAL: tuple[str, ...] = ("chelsea.png", "rocket.jpg", "coins.png")
BUILTIN = {"builtin:train": BUILTIN_TRAIN, "builtin:val": BUILTIN_VAL}


@dataclass(frozen=True)
class ImagePair:
    """One HR image and its LR version, uint8 RGB; ``hr`` is exactly ``scale`` x ``lr`` in size."""

    name: str
    hr: np.ndarray
    lr: np.ndarray
    lr_source: str  # "file" (read from disk) or "imresize" (made here)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; ``ValueError`` names the file if it can't.

    Grey and palette images are expanded to RGB, alpha is dropped, 16-bit images are scaled to
    8 bits (``round(v / 257)``).
    """
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
                a = np.asarray(im, dtype=np.float64)
                if im.mode.startswith("I;16") or (im.mode == "I" and a.max(initial=0) > 255):
                    a = a / 257.0  # 16-bit: 65535 -> 255
                return np.repeat(to_uint8(a)[:, :, None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ValueError(f"{p}: image not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{p}: cannot read image ({type(e).__name__}: {e})") from None


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop (top-left) so height and width are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def discover(root: str | Path, scale: int) -> tuple[str, list[tuple[str, Path, Path | None]]]:
    """Find ``(name, hr_path, lr_path or None)`` under ``root``; returns ``(layout, items)``.

    Layouts, tried in order:

    * ``benchmark``: ``root/HR/*.png`` with optional ``root/LR_bicubic/X<scale>/`` of the same names
      (the layout of Set5 / Set14 here and of many benchmark packs);
    * ``div2k``: ``root`` is (or holds one) ``DIV2K_<split>_HR/0001.png`` with optional
      ``DIV2K_<split>_LR_bicubic/X<scale>/0001x<scale>.png`` beside it;
    * ``folder``: any folder of HR images (png, jpg, bmp); LR made here.
    """
    root = Path(root)
    if not root.exists():
        raise ValueError(f"{root}: data folder not found")
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    if (root / "HR").is_dir():
        lr_dir = root / "LR_bicubic" / f"X{scale}"
        items = [(p.stem, p, lr_dir / p.name if lr_dir.is_dir() else None) for p in _images_in(root / "HR")]
        layout = "benchmark"
    else:
        hr_dirs = [root] if root.name.startswith("DIV2K_") and root.name.endswith("_HR") else sorted(root.glob("DIV2K_*_HR"))
        if hr_dirs:
            items = []
            for hr_dir in hr_dirs:
                lr_dir = hr_dir.parent / (hr_dir.name[: -len("_HR")] + "_LR_bicubic") / f"X{scale}"
                for p in _images_in(hr_dir):
                    lr = lr_dir / f"{p.stem}x{scale}{p.suffix}"
                    items.append((p.stem, p, lr if lr_dir.is_dir() else None))
            layout = "div2k"
        else:
            items = [(p.stem, p, None) for p in _images_in(root)]
            layout = "folder"
    if not items:
        raise ValueError(f"{root}: no images (png, jpg, bmp) found")
    for name, _, lr in items:
        if lr is not None and not lr.is_file():
            raise ValueError(f"{lr}: LR image missing for HR image {name!r}")
    return layout, items


def make_pair(name: str, hr: np.ndarray, scale: int, lr: np.ndarray | None = None,
              hr_path: str | Path = "", lr_path: str | Path = "") -> ImagePair:
    """Crop ``hr`` to a multiple of ``scale``; check or make the LR image."""
    hr = modcrop(hr, scale)
    h, w = hr.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"{hr_path or name}: image smaller than the scale ({scale})")
    if lr is None:
        return ImagePair(name, hr, imresize(hr, 1 / scale), "imresize")
    if lr.shape[:2] != (h // scale, w // scale):
        raise ValueError(
            f"{lr_path or name}: LR size {lr.shape[1]}x{lr.shape[0]} does not match HR {hr_path or name} "
            f"({w}x{h} after cropping to a multiple of {scale}; expected {w // scale}x{h // scale})"
        )
    return ImagePair(name, hr, lr, "file")


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="img", disable=None, file=sys.stderr, leave=False)


def load_pairs(source: str | Path, scale: int, *, min_lr_size: int = 0, use_lr_files: bool = True,
               progress: bool = True) -> list[ImagePair]:
    """Load every HR/LR pair of ``source``: a folder (any layout of :func:`discover`) or
    ``builtin:train`` / ``builtin:val``.

    Images whose LR side is below ``min_lr_size`` (say, one training patch) are skipped with a
    warning; if none is left, ``ValueError``. ``use_lr_files=False`` ignores LR files on disk and
    makes every LR with :func:`imresize`.
    """
    label = str(source)
    if label in BUILTIN:
        items = _builtin_items(label)
    else:
        _, found = discover(source, scale)
        items = [(name, hr, lr if use_lr_files else None) for name, hr, lr in found]
    pairs, skipped = [], []
    for name, hr_path, lr_path in _progress(items, len(items), f"loading {label}", progress):
        hr = load_image(hr_path)
        lr = load_image(lr_path) if lr_path is not None else None
        pair = make_pair(name, hr, scale, lr, hr_path, lr_path or "")
        if min(pair.lr.shape[:2]) < min_lr_size:
            skipped.append(f"{hr_path} (LR {pair.lr.shape[1]}x{pair.lr.shape[0]})")
            continue
        pairs.append(pair)
    if skipped:
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(f"{label}: skipped {len(skipped)} of {len(items)} image(s) smaller than one {min_lr_size}-pixel "
                      f"LR patch: " + ", ".join(skipped[:5]) + more, stacklevel=2)
    if not pairs:
        raise ValueError(f"{label}: no image is large enough (LR side >= {min_lr_size}) at x{scale}")
    return pairs


def _builtin_items(split: str) -> list[tuple[str, Path, None]]:
    try:
        folder = importlib.resources.files("skimage") / "data"
    except ModuleNotFoundError:
        raise ValueError(f"{split}: the built-in data ships with scikit-image; pip install scikit-image") from None
    items = []
    for fname in BUILTIN[split]:
        path = Path(str(folder / fname))
        if not path.is_file():
            raise ValueError(f"{path}: built-in image missing from the installed scikit-image")
        items.append((Path(fname).stem, path, None))
    return items


class PatchSampler:
    """Random aligned LR/HR training patches with flips and 90-degree rotations.

    Images are decoded once and held as uint8 tensors on ``device``; each batch is cropped,
    augmented and converted to float there (0..255, NCHW), so data costs little next to a step.
    An LR patch at (y, x) pairs with the HR patch at (scale*y, scale*x). Deterministic for a
    given ``seed``. Images smaller than one LR patch must be filtered out before
    (``load_pairs(min_lr_size=lr_patch)``).
    """

    def __init__(self, pairs: Sequence[ImagePair], scale: int, lr_patch: int = 48, batch_size: int = 16,
                 device: "str | object" = "cpu", seed: int = 0, augment: bool = True,
                 channels_last: bool = False) -> None:
        import torch

        if not pairs:
            raise ValueError("pairs: no training images")
        for p in pairs:
            if min(p.lr.shape[:2]) < lr_patch:
                raise ValueError(f"{p.name}: LR {p.lr.shape[1]}x{p.lr.shape[0]} is smaller than one patch ({lr_patch})")
        self.scale, self.lr_patch, self.batch_size, self.augment = scale, lr_patch, batch_size, augment
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.device = torch.device(device)
        # HWC uint8 -> CHW uint8 on the device, once.
        self.lr = [torch.from_numpy(np.ascontiguousarray(p.lr.transpose(2, 0, 1))).to(self.device) for p in pairs]
        self.hr = [torch.from_numpy(np.ascontiguousarray(p.hr.transpose(2, 0, 1))).to(self.device) for p in pairs]
        self.rng = random.Random(seed)

    def sample(self):
        """``(lr, hr)``: float32 (B, 3, p, p) and (B, 3, s*p, s*p) on the device, 0..255, in the
        sampler's memory format (NHWC when ``channels_last``, matching the model's output)."""
        import torch

        p, s = self.lr_patch, self.scale
        lrs, hrs = [], []
        for _ in range(self.batch_size):
            i = self.rng.randrange(len(self.lr))
            lr_img, hr_img = self.lr[i], self.hr[i]
            y = self.rng.randrange(lr_img.shape[1] - p + 1)
            x = self.rng.randrange(lr_img.shape[2] - p + 1)
            lr = lr_img[:, y:y + p, x:x + p]
            hr = hr_img[:, s * y:s * (y + p), s * x:s * (x + p)]
            if self.augment:
                if self.rng.random() < 0.5:
                    lr, hr = lr.flip(2), hr.flip(2)
                if self.rng.random() < 0.5:
                    lr, hr = lr.flip(1), hr.flip(1)
                if self.rng.random() < 0.5:
                    lr, hr = lr.transpose(1, 2), hr.transpose(1, 2)
            lrs.append(lr)
            hrs.append(hr)
        fmt = self.memory_format
        return (torch.stack(lrs).contiguous(memory_format=fmt).float(),
                torch.stack(hrs).contiguous(memory_format=fmt).float())


@dataclass(frozen=True)
class TrainData:
    """The pairs a training uses: random patches from ``train``, full-image scores on ``val``."""

    train: list[ImagePair]
    val: list[ImagePair]
    scale: int
    train_source: str
    val_source: str


#: One data source (a folder or builtin:train / builtin:val) or several.
Sources = Union[str, Path, Sequence[Union[str, Path]]]


def _as_list(sources) -> list[str | Path]:
    return [sources] if isinstance(sources, (str, Path)) else list(sources)


def load_data(train: Sources = "builtin:train", val: Sources = "builtin:val", scale: int = 4,
              lr_patch: int = 48, progress: bool = True) -> TrainData:
    """Load the training images (from one or several sources; images smaller than one LR patch
    skipped) and the validation images, once."""
    train_l, val_l = _as_list(train), _as_list(val)
    if not train_l or not val_l:
        raise ValueError("data: need at least one training and one validation source")
    return TrainData(
        train=[p for src in train_l for p in load_pairs(src, scale, min_lr_size=lr_patch, progress=progress)],
        val=[p for src in val_l for p in load_pairs(src, scale, progress=progress)],
        scale=scale, train_source=" + ".join(map(str, train_l)), val_source=" + ".join(map(str, val_l)),
    )
