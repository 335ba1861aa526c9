"""The block types a slot may hold, each declared once; everything else about a type derives from here.

A declaration (:class:`BlockType`, added by :func:`register`) carries the type's name (the spec
JSON's ``"type"``), its letter in the arch string (upper case: activation kept), its one integer
parameter if it has one (JSON key, validation, random draw: :class:`IntParam`), its builder (its
torch module; the builder imports torch itself, so this module, the spec and the readers load
none), its exact cost (parameters and Multi-Adds, from the spec alone) and the formats it exports
to. Derived from the declarations and written nowhere else:

* the spec: ``BLOCK_TYPES``, validation and its errors, the JSON keys, the arch string's tokens, its
  parsing and the grammar's ``BLOCK`` rule (:meth:`~.spec.ArchSpec.from_arch`), ``random_spec``;
* the network (:func:`make_block`) and its price (:func:`~.cost.block_cost`);
* the search spaces: a type's choices (:meth:`BlockType.kind`: ``res``, ``ir4``) and the ``mix``
  encoding's parameters (``<type>_count``, ``<type>:<slot>``: :mod:`~..search.space`);
* the latency table: a block's parts are ``block:<kind>:n<N>:<act|noact>``
  (:func:`~.latency_table.block_key`), measured by calibration from the builder.

``tests/test_block_types.py`` runs every registered type through all of these. Adding a type (one
declaration at the end of this module): ``docs/development.md``, "Add a block type".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..config import is_number

if TYPE_CHECKING:
    import random

    from torch import nn

    from .spec import BlockSpec

#: The formats a network is exported to: ONNX (with its int8 and fp16 graphs), Core ML, LiteRT.
EXPORTS: tuple[str, ...] = ("onnx", "coreml", "litert")
#: Names a type may not take: the search spaces' parameter names already use them (``order:<slot>``...).
RESERVED_NAMES: tuple[str, ...] = ("block", "order", "keep", "pool", "n_feats", "res_scale")


def conv_cost(c_in: int, c_out: int, k: int, pixels: int, *, bias: bool = True, groups: int = 1) -> tuple[int, int]:
    """(params, MACs) of one k x k conv applied at ``pixels`` output positions: the unit every price sums."""
    weights = c_out * (c_in // groups) * k * k
    return weights + (c_out if bias else 0), weights * pixels


def add_costs(*costs: tuple[int, int]) -> tuple[int, int]:
    """The sum of (params, MACs) pairs."""
    return sum(c[0] for c in costs), sum(c[1] for c in costs)


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


@dataclass(frozen=True)
class IntParam:
    """A block type's one integer parameter. ``BlockSpec.expand`` holds its value (the spec's one
    parameter field, named after the first type that had one); ``key`` is its JSON key, ``what``
    names it in errors (``expansion ratio``), ``short`` and ``symbol`` in the grammar and in
    search-space choices (``expansion``, ``T``); ``minimum`` is its smallest value, ``example`` the
    value an error suggests."""

    key: str
    what: str
    short: str
    symbol: str
    minimum: int = 1
    example: int = 4

    def check(self, value: Any, where: str) -> int:
        """``value`` as an int; ``ValueError`` naming ``where`` and the value when it is not one >= minimum."""
        if not is_number(value):
            raise ValueError(f"{where}: expected an integer {self.what} >= {self.minimum}, got {value!r}")
        if value < self.minimum:
            raise ValueError(f"{where}: {self.what} must be >= {self.minimum}, got {value!r}")
        if not float(value).is_integer():
            raise ValueError(f"{where}: {self.what} must be an integer, got {value!r}")
        return int(value)

    def draw(self, r: "random.Random", largest: int) -> int:
        """A random value for ``random_spec``: uniform from ``minimum`` to ``largest``."""
        return r.randint(self.minimum, largest)


@dataclass(frozen=True)
class BlockType:
    """One block type, declared once (module doc).

    ``name``: the JSON ``"type"`` (and, with the parameter, its search-space choice); ``letter``: its
    arch-string letter, upper case (lower case in a token: activation removed); ``noun``: what
    errors call it; ``build(block, n_feats, res_scale)``: its torch module, ``x + res_scale *
    branch(x)`` with every activation an identity when ``block.act`` is false (imports torch
    itself); ``cost(block, n_feats, pixels)``: its exact ``(params, MACs)`` at ``pixels`` LR
    positions, equal to the built module's (tested); ``param``: its integer parameter, if any;
    ``exports``: the formats of :data:`EXPORTS` its module converts to.
    """

    name: str
    letter: str
    noun: str
    build: Callable[["BlockSpec", int, float], "nn.Module"]
    cost: Callable[["BlockSpec", int, int], tuple[int, int]]
    param: IntParam | None = None
    exports: tuple[str, ...] = EXPORTS

    def token(self, expand: int | None, act: bool) -> str:
        """Its arch-string token: ``R``/``r`` (no parameter), ``I6``/``i6`` (parameter 6)."""
        return (self.letter if act else self.letter.lower()) + ("" if expand is None else str(expand))

    def token_fields(self, token: str, where: str) -> dict[str, Any]:
        """The block (as ``BlockSpec.from_dict`` reads it) that ``token``, one of this type's, spells;
        ``ValueError`` when the parameter is missing or one is given to a type without."""
        digits = token[1:]
        if self.param is None and digits:
            raise ValueError(f"{where}: {_a(self.noun)} takes no {params_what()}, got {token!r}")
        if self.param is not None and not digits:
            raise ValueError(f"{where}: {_a(self.noun)} needs {_a(self.param.what)}, got {token!r}")
        fields: dict[str, Any] = {"type": self.name, "act": token[0].isupper()}
        if self.param is not None:
            fields[self.param.key] = int(digits)
        return fields

    def token_forms(self) -> str:
        """Its tokens as an error lists them: ``R, r`` or ``I<t>, i<t>``."""
        tail = "" if self.param is None else f"<{self.param.symbol.lower()}>"
        return f"{self.letter}{tail}, {self.letter.lower()}{tail}"

    def grammar(self) -> tuple[str, str]:
        """Its alternatives in the arch grammar's ``BLOCK`` rule, and what they mean."""
        up, low = f'"{self.letter}"', f'"{self.letter.lower()}"'
        if self.param is None:
            return f"{up} | {low}", f"{self.noun}, activation kept / removed"
        p = self.param
        return f"{up} {p.symbol} | {low} {p.symbol}", f"{self.noun}, {p.short} {p.symbol} >= {p.minimum}, kept / removed"

    def kind(self, expand: int | None) -> str:
        """The block without its activation, as search spaces and latency tables name it: ``res``, ``ir6``."""
        return self.name + ("" if expand is None else str(expand))

    def parse_kind(self, choice: Any) -> tuple[str, int | None] | None:
        """``(name, parameter)`` when ``choice`` is one of this type's kinds (``ir4`` -> ``("ir", 4)``), else None."""
        if self.param is None:
            return (self.name, None) if choice == self.name else None
        m = re.fullmatch(re.escape(self.name) + r"(\d+)", choice) if isinstance(choice, str) else None
        return (self.name, int(m.group(1))) if m else None

    def kind_form(self) -> str:
        """Its kinds as an error names them: ``'res'`` or ``'ir<expansion>'``."""
        return repr(self.name) if self.param is None else f"'{self.name}<{self.param.short}>'"

    def check_export(self, fmt: str, where: str) -> None:
        """``ValueError`` naming ``where`` when this type does not export to ``fmt`` (one of :data:`EXPORTS`)."""
        if fmt not in self.exports:
            raise ValueError(f"{where}: {_a(self.noun)} ({self.name!r}) does not export to {fmt}; "
                             f"it exports to {', '.join(self.exports) or 'nothing'}")


_REGISTRY: dict[str, BlockType] = {}


def register(decl: BlockType) -> BlockType:
    """Add ``decl`` to the registry (its order is ``BLOCK_TYPES``'s) and return it; ``ValueError`` when its
    name or letter is malformed or taken, or it names an export format that does not exist."""
    if not re.fullmatch(r"[a-z]+", decl.name) or decl.name in RESERVED_NAMES:
        raise ValueError(f"block type name: expected lower-case letters, not one of {', '.join(RESERVED_NAMES)}; "
                         f"got {decl.name!r}")
    if decl.name in _REGISTRY:
        raise ValueError(f"block type {decl.name!r}: already registered")
    if not re.fullmatch(r"[A-Z]", decl.letter):
        raise ValueError(f"block type {decl.name!r}: letter: expected one upper-case letter, got {decl.letter!r}")
    taken = [t.name for t in _REGISTRY.values() if t.letter == decl.letter]
    if taken:
        raise ValueError(f"block type {decl.name!r}: letter {decl.letter!r} is taken by {taken[0]!r}")
    unknown = [f for f in decl.exports if f not in EXPORTS]
    if unknown:
        raise ValueError(f"block type {decl.name!r}: exports: unknown format {unknown[0]!r}; expected {', '.join(EXPORTS)}")
    _REGISTRY[decl.name] = decl
    return decl


def registered() -> tuple[BlockType, ...]:
    """Every declaration, in registration order (the first, ``res``, is the default block)."""
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    """Every type's name, in registration order."""
    return tuple(_REGISTRY)


def find(name: Any) -> BlockType | None:
    """The declaration named ``name``, or None (also for a name that is no string)."""
    return _REGISTRY.get(name) if isinstance(name, str) else None


def make_block(block: "BlockSpec", n_feats: int, res_scale: float) -> "nn.Module":
    """The module for one slot of a spec: its block type's builder (imports torch)."""
    return block_type(block.type).build(block, n_feats, res_scale)


def block_type(name: Any, where: str = "block.type") -> BlockType:
    """The declaration named ``name``; ``ValueError`` naming ``where`` and the registered types otherwise."""
    decl = find(name)
    if decl is None:
        raise ValueError(f"{where}: unknown block type {name!r}; expected one of {', '.join(_REGISTRY)}")
    return decl


def by_letter(letter: str) -> BlockType:
    """The declaration whose arch-string letter is ``letter`` (either case); ``KeyError`` for none."""
    return {t.letter: t for t in _REGISTRY.values()}[letter.upper()]


def letters() -> str:
    """Every letter an arch-string token may start with: ``RrIi``."""
    return "".join(t.letter + t.letter.lower() for t in _REGISTRY.values())


def param_keys() -> dict[str, tuple[str, ...]]:
    """Each parameter's JSON key -> the types that have it (``{"expand": ("ir",)}``)."""
    keys: dict[str, tuple[str, ...]] = {}
    for t in _REGISTRY.values():
        if t.param is not None:
            keys[t.param.key] = keys.get(t.param.key, ()) + (t.name,)
    return keys


def params_what() -> str:
    """What the types' parameters are called, for errors: ``expansion ratio``."""
    return " or ".join(dict.fromkeys(t.param.what for t in _REGISTRY.values() if t.param is not None))


def param_owners() -> str:
    """Which types have a parameter, for errors: ``'ir' blocks have an expansion ratio``."""
    return " or ".join(f"{t.name!r} blocks have {_a(t.param.what)}" for t in _REGISTRY.values() if t.param is not None)



# ----- the declarations ----------------------------------------------------------------------------


def _residual_build(block: "BlockSpec", n_feats: int, res_scale: float) -> "nn.Module":
    from .blocks import ResBlock  # torch: loaded when a network is built, never by a reader

    return ResBlock(n_feats, block.act, res_scale)


def _residual_cost(block: "BlockSpec", n_feats: int, pixels: int) -> tuple[int, int]:
    n = n_feats
    return add_costs(conv_cost(n, n, 3, pixels), conv_cost(n, n, 3, pixels))


#: The paper's residual block (Eq. 1, EDSR style, no batch norm): conv3x3 -> act -> conv3x3, + identity.
RESIDUAL = register(BlockType("res", "R", "residual block", _residual_build, _residual_cost))


def _inverted_residual_build(block: "BlockSpec", n_feats: int, res_scale: float) -> "nn.Module":
    from .blocks import InvertedResidual  # torch: loaded when a network is built, never by a reader

    return InvertedResidual(n_feats, block.expand, block.act, res_scale)


def _inverted_residual_cost(block: "BlockSpec", n_feats: int, pixels: int) -> tuple[int, int]:
    n, h = n_feats, n_feats * block.expand
    return add_costs(conv_cost(n, h, 1, pixels), conv_cost(h, h, 3, pixels, groups=h), conv_cost(h, n, 1, pixels))


#: MobileNetV2's inverted residual without batch norm: 1x1 expand -> act -> depthwise 3x3 -> act -> 1x1
#: linear projection, + identity; hidden width ``expand * n_feats``; a removed activation removes both.
INVERTED_RESIDUAL = register(BlockType("ir", "I", "inverted residual", _inverted_residual_build, _inverted_residual_cost,
                                       param=IntParam("expand", "expansion ratio", "expansion", "T")))
