"""The inpainter's spec: its architecture name, widths, dilations and fill directions.

The spec dict a checkpoint stores (`inpainter_spec`) and its typed, checked form
(`InpainterSpec`, built by the zoo on load). Free of torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from medocr_cli.models.spec import Spec, SpecError, quote

#: Every side of the input is padded (reflect) to a multiple of this: three stride-2 stages.
STRIDE = 8
#: Angles of the directional fills the network chooses among (degrees); see `fills`. The
#: slopes 0, +-1/2, +-1 and infinity, which whole-pixel shears follow exactly, about every 22.5
#: degrees: on ds1 val, choosing the best of such fills or the membrane per 16 px block with
#: hindsight gave 32.7 dB inside text holes against 29.0 for the membrane; 4 angles instead of
#: 8 cost the self-checked blend 0.4 dB.
DIRECTIONS = (0.0, 26.565, 45.0, 63.435, 90.0, 116.565, 135.0, 153.435)
#: Registry name of this network; checkpoint specs and `medocr train` refer to it.
ARCH = "gated-inpainter"


def inpainter_spec(
    widths: tuple[int, int, int] = (24, 48, 64),
    dilations: tuple[int, ...] = (2, 2, 4, 4),
    directions: tuple[float, ...] = DIRECTIONS,
) -> dict:
    """Return the spec of a gated inpainter.

    Args:
        widths: Channels of the three encoder stages (1/2, 1/4, 1/8 resolution).
        dilations: Dilation of each bottleneck gated convolution, at 1/8 resolution. Kept
            small enough that the receptive field fits the training crops: a tap that only
            ever saw zero padding in training sees real pixels on a full image, and that
            shift costs more than the extra reach gains.
        directions: Angles of the directional fills given to the network, which blends them
            and the membrane per pixel; empty for the first design (membrane plus a correction).

    The membrane uses 8 relaxation steps at full resolution (`push_pull`): on ds1 val (80
    images), 4 / 8 / 16 / 32 steps gave 28.73 / 28.89 / 28.94 / 28.97 dB inside text holes for
    the membrane alone; 8 keeps the directional design within its time on 2 cores.
    """
    return {
        "arch": ARCH,
        "widths": [int(w) for w in widths],
        "dilations": [int(d) for d in dilations],
        "directions": [float(a) for a in directions],
        "fill_iterations": 8,
        "channels": 3,
        "stride": STRIDE,
        "value_scale": "[0, 1]; grey replicated to 3 channels, output channel mean",
        "input": "image * (1 - mask), mask (1 = hole), membrane, self-checked blend of the "
        "membrane and the directional fills, their self-check errors; output = softmax blend "
        "of the fills by the self-check's logits plus the network's change to them",
    }


@dataclass(frozen=True, kw_only=True)
class InpainterSpec(Spec):
    """The gated-convolution inpainter (`network.py`), as its checkpoints store it."""

    ARCHS: ClassVar[tuple[str, ...]] = (ARCH,)

    widths: tuple[int, ...] = (24, 48, 64)
    dilations: tuple[int, ...] = (2, 2, 4, 4)
    directions: tuple[float, ...] = ()
    fill_iterations: int = 4

    def check(self) -> None:
        """Three positive widths, positive dilations and relaxation steps."""
        self._length("widths", 3)
        self._positive("widths", "fill_iterations")
        if any(d <= 0 for d in self.dilations):
            raise SpecError(f"'dilations' must be above 0, not {quote(list(self.dilations))}")
