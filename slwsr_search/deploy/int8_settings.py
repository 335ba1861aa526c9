"""How an int8 graph is calibrated, as data (no torch, no onnxruntime: studies and reports read it).

The calibration itself: :mod:`.quantize`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..config import check_keys

#: Calibration methods: our name -> onnxruntime's ``CalibrationMethod`` member. min-max takes each
#: tensor's observed range; percentile clips the range at a percentile of the values (99.999 by
#: default) so a few outliers do not stretch the grid; entropy picks the range that keeps the
#: quantized histogram closest (KL divergence) to the original.
METHODS: dict[str, str] = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}
#: Where ``percentile`` clips each activation's range (onnxruntime's default, and ours for LiteRT).
PERCENTILE = 99.999
#: The default method: the least loss on s-LWSR16 and the searched designs measured (docs/deployment.md).
DEFAULT_METHOD = "percentile"
#: The precisions a bundle's ONNX graphs come in (metadata ``precision``).
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class Int8Settings:
    """How an int8 graph is calibrated: ``method`` (a key of :data:`METHODS`), ``patches`` LR
    patches of ``patch`` x ``patch`` px drawn with ``seed``."""

    method: str = DEFAULT_METHOD
    patches: int = 64
    patch: int = 48
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("patches", "patch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str) -> "Int8Settings":
        """A study's ``[int8]`` table (``method``, ``patches``, ``patch``); errors name ``where`` and the key."""
        check_keys(d, where, optional=("method", "patches", "patch"))
        try:
            return cls(**d)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
