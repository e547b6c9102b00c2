"""Hard negatives for `generate-dataset`: stroke-like structures of real scans that are not text.

A text detector shown only text on calm anatomy learns "thin, curved, high contrast" and then
takes colour and power Doppler flow, vessel trees, perfusion maps with dark curvy holes, caliper
crosses and dotted lines, depth scales, ECG traces, wires and catheters, collimator edges and
grids for handwriting. The drawers here put such structures on a clean background BEFORE any
text is composited, so they belong to the clean image (the inpainter's target too) and never to
the text mask, the line boxes or the label: every model learns them as "not text".

Each drawer is a pure function of a random generator and an image (uint8 grey (H, W) or RGB
(H, W, 3)). It never changes its input; it returns a new image (RGB when it needed colour: a grey
image is promoted, as the text compositor does for coloured text) and the kind it drew. Nothing
here draws a glyph: depth scales carry no numbers and colour bars no labels, since anything
letter-like would be unlabelled text. Sizes are tuned at 512 px and scale with the image.

Which images get negatives is decided by `has_negatives` from (seed, index, share) alone, and
they are drawn with their own generator (`negatives_rng`), apart from the sample's: with share 0
the images are identical to those made before negatives existed, and raising the share only
adds images with negatives.

The package holds one module per kind of negative: `doppler` (colour and power flow),
`anatomy` (vessel trees, perfusion maps), `measurements` (calipers, depth scales), `ecg`,
`devices` (catheters, wires, clips, electrodes, specks) and `edges` (collimator edges, grids);
`drawing` has the helpers they share and `choose` picks and draws the kinds for an image.
"""

from __future__ import annotations

from medocr_cli.synth.negatives.anatomy import draw_perfusion, draw_vessels
from medocr_cli.synth.negatives.choose import (
    DRAWERS,
    KINDS,
    NEGATIVES_SHARE,
    Drawer,
    add_negatives,
    has_negatives,
    negatives_rng,
)
from medocr_cli.synth.negatives.devices import draw_devices
from medocr_cli.synth.negatives.doppler import draw_colour_doppler, draw_power_doppler
from medocr_cli.synth.negatives.ecg import draw_ecg
from medocr_cli.synth.negatives.edges import draw_collimator, draw_grid
from medocr_cli.synth.negatives.measurements import draw_calipers, draw_depth_scale

__all__ = [
    "DRAWERS",
    "KINDS",
    "NEGATIVES_SHARE",
    "Drawer",
    "add_negatives",
    "draw_calipers",
    "draw_collimator",
    "draw_colour_doppler",
    "draw_depth_scale",
    "draw_devices",
    "draw_ecg",
    "draw_grid",
    "draw_perfusion",
    "draw_power_doppler",
    "draw_vessels",
    "has_negatives",
    "negatives_rng",
]
