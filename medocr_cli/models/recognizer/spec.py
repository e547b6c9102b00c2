"""The recognizer's spec: architecture name, line geometry, vocabulary and network sizes.

The spec dict a checkpoint stores (`recognizer_spec`) and its typed, checked form
(`RecognizerSpec`, built by the zoo on load). Free of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from medocr_cli.models.recognizer.vocab import default_vocab
from medocr_cli.models.spec import Spec, SpecError

HEIGHT = 32
#: The CNN halves the width twice: one feature column per 4 input columns.
WIDTH_STEP = 4
#: CTC frames the head emits per feature column. 2 would give narrow glyphs and repeated
#: characters ("11", which CTC must separate by a blank) more frames at no CNN cost, but in
#: short CPU budgets it trained slower than 1 (val CER 0.34 against 0.26 after 1,500 steps).
FRAMES_PER_COLUMN = 1
#: Horizontal scale of a line after its resize to height 32. One CTC column per 4 px of the
#: natural width was too coarse for narrow glyphs ("1", "i", ".", a space; they were mostly
#: dropped): widening by 1.3 gives one column per ~3 px. Chosen on val lines of train-family
#: fonts: the same weights, read at 1.0 / 1.2 / 1.3 / 1.4, gave handwritten CER 7.7 / 6.3 / 6.0 /
#: 6.3% on ds10 val and 6.9 / 5.8 / 5.3 / 5.8% on ds9 val.
WIDTH_SCALE = 1.3
#: Narrowest line fed to the network (a single character still gets 4 columns).
MIN_WIDTH = 16
#: Widest line at inference; longer crops are squeezed to this (training caps lower).
MAX_WIDTH = 1024
BLANK = 0
#: Output channels of the CNN's convolutions (see `CRNN`).
DEFAULT_CHANNELS = (32, 48, 64, 64, 96, 96)
#: Registry name of this network; checkpoint specs and `medocr train` refer to it.
ARCH = "crnn-ctc"


def recognizer_spec(
    vocab: str | None = None,
    channels: Sequence[int] = DEFAULT_CHANNELS,
    hidden: int = 128,
    layers: int = 2,
    dropout: float = 0.1,
    width_scale: float = WIDTH_SCALE,
) -> dict[str, Any]:
    """Return the spec of a CRNN recognizer (everything needed to rebuild and feed it)."""
    return {
        "arch": ARCH,
        "height": HEIGHT,
        "width_step": WIDTH_STEP,
        "width_scale": float(width_scale),
        "frames_per_column": FRAMES_PER_COLUMN,
        "min_width": MIN_WIDTH,
        "max_width": MAX_WIDTH,
        "vocab": vocab if vocab is not None else default_vocab(),
        "blank": BLANK,
        "channels": [int(c) for c in channels],
        "hidden": int(hidden),
        "layers": int(layers),
        "dropout": float(dropout),
        "grey": "luma (BT.601) for colour crops",
        "normalise": "per crop: (x - median of border ring) / max(std, 12), middle rows positive",
    }


def spec_width_scale(spec: dict[str, Any]) -> float:
    """Return the horizontal scale a checkpoint was trained with (1.0 if its spec predates it)."""
    return float(spec.get("width_scale", 1.0))


@dataclass(frozen=True, kw_only=True)
class RecognizerSpec(Spec):
    """The CRNN line recognizer (`network.py`), as its checkpoints store it."""

    ARCHS: ClassVar[tuple[str, ...]] = (ARCH,)

    vocab: str
    height: int = HEIGHT
    width_scale: float = 1.0
    frames_per_column: int = 1
    max_width: int = MAX_WIDTH
    blank: int = BLANK
    channels: tuple[int, ...] = DEFAULT_CHANNELS
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.1

    def check(self) -> None:
        """A vocabulary, six positive channel counts, positive sizes."""
        if not self.vocab:
            raise SpecError("'vocab' must not be empty")
        self._length("channels", 6)
        self._positive("channels", "height", "width_scale", "frames_per_column")
        self._positive("max_width", "hidden", "layers")
        self._between("dropout", 0.0, 1.0)
