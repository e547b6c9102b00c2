"""Font pools for the synthetic text: Debian printed and handwriting fonts plus Hershey strokes.

The generator draws printed overlays with the Debian font packages the Makefile installs and
handwriting with the Debian handwriting fonts plus the Hershey stroke fonts of the `hershey-fonts`
package. Fonts are grouped into families (a design with its weights, slants and widths, and
metric clones of one another such as Arimo and Liberation Sans), and the test split draws only on
families that the train split never sees, so every held-out metric measures generalisation to
unseen lettering, as DESIGN.md asks.

The catalogue (`catalogue`) is the source of truth, not the folder listing: the train/test split
is computed from it alone, so a machine with extra fonts installed gets exactly the same split,
and a font the catalogue does not name is never used. Each face is checked once per process for
the characters the content generators use (a face that draws a ".notdef" box or nothing for one
of them is dropped), and the fonts reserved for independent evaluation (`fonts-sjfonts`,
`fonts-kristi`, `fonts-rufscript`, `fonts-ecolier-court`) are refused by path and by name even
though the catalogue never names them.

The package holds the catalogue tables and the split rule (`catalogue`), loading and
rasterising faces and Hershey fonts (`faces`), and the per-split pools (`pools`).
"""

from __future__ import annotations

from medocr_cli.synth.fonts.catalogue import (
    FONT_DIRS,
    HERSHEY_FONTS,
    RESERVED_MARKERS,
    is_reserved,
)
from medocr_cli.synth.fonts.faces import (
    FontSpec,
    Glyph,
    HersheyFont,
    HersheyGlyph,
    bitmap_strikes,
    check_drawable,
    drawable_chars,
    glyph,
    hershey_name,
    load_font,
    load_hershey,
    mask_to_array,
    missing_chars,
)
from medocr_cli.synth.fonts.pools import SPLITS, caps_only, choose_font, font_family, font_pools

__all__ = [
    "FONT_DIRS",
    "HERSHEY_FONTS",
    "RESERVED_MARKERS",
    "SPLITS",
    "FontSpec",
    "Glyph",
    "HersheyFont",
    "HersheyGlyph",
    "bitmap_strikes",
    "caps_only",
    "check_drawable",
    "choose_font",
    "drawable_chars",
    "font_family",
    "font_pools",
    "glyph",
    "hershey_name",
    "is_reserved",
    "load_font",
    "load_hershey",
    "mask_to_array",
    "missing_chars",
]
