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

More handwriting families come from npm's `@fontsource/*` packages (Google Fonts, SIL OFL),
fetched into a font cache by `make fonts` (`python -m medocr_cli.synth.fonts.fetch`): their
table, with a pinned version, a style bucket and a split per family, is in `fetched`. Only
generate-dataset and training use them (`font_pools(split, cache)`, `set_font_cache`);
without the cache the pools are the Debian and Hershey ones alone, exactly as before.

The package holds the catalogue tables and the split rule (`catalogue`), loading and
rasterising faces and Hershey fonts (`faces`), the fetched families (`fetched`) and their
fetch (`fetch`), and the per-split pools (`pools`).
"""

from __future__ import annotations

from medocr_cli.synth.fonts.catalogue import (
    FONT_DIRS,
    HERSHEY_FONTS,
    RESERVED_MARKERS,
    is_reserved,
    is_reserved_path,
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
from medocr_cli.synth.fonts.fetched import (
    FETCHED_FAMILIES,
    FetchedFamily,
    cached_family_count,
    default_cache,
)
from medocr_cli.synth.fonts.pools import (
    SPLITS,
    caps_only,
    choose_font,
    font_cache,
    font_family,
    font_pools,
    set_font_cache,
)

__all__ = [
    "FETCHED_FAMILIES",
    "FONT_DIRS",
    "HERSHEY_FONTS",
    "RESERVED_MARKERS",
    "SPLITS",
    "FetchedFamily",
    "FontSpec",
    "Glyph",
    "HersheyFont",
    "HersheyGlyph",
    "bitmap_strikes",
    "cached_family_count",
    "caps_only",
    "check_drawable",
    "choose_font",
    "default_cache",
    "drawable_chars",
    "font_cache",
    "font_family",
    "font_pools",
    "glyph",
    "hershey_name",
    "is_reserved",
    "is_reserved_path",
    "load_font",
    "load_hershey",
    "mask_to_array",
    "missing_chars",
    "set_font_cache",
]
