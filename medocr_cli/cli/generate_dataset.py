"""`medocr generate-dataset OUT`: the synthetic dataset every learned stage trains on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from medocr_cli.cli.choices import ImageFormat
from medocr_cli.cli.common import (
    err_console,
    global_options,
    handle_errors,
    out_console,
    print_json,
)


@handle_errors
def generate_dataset(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset into (new or empty).")],
    count: Annotated[int, typer.Option(help="Number of images.")] = 4500,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives identical files.")
    ] = 0,
    size: Annotated[int, typer.Option(help="Side of the square images, in pixels.")] = 512,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 = one per CPU core.")] = 0,
    image_format: Annotated[
        ImageFormat, typer.Option("--format", help="Format of the images with text: png or dicom.")
    ] = ImageFormat.PNG,
    backgrounds: Annotated[
        Path | None,
        typer.Option(help="Folder of clean PNG/DICOM scans to use as backgrounds as well."),
    ] = None,
    preview: Annotated[
        Path | None,
        typer.Option(
            help="Also write a contact sheet PNG of the first 24 images with their boxes."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Allow writing into a non-empty folder.")] = False,
    negatives: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            help="Share of images (0-1) whose background gets hard negatives: Doppler flow, "
            "vessels, perfusion maps, calipers, depth scales, ECG traces, devices, collimator "
            "edges, grids. They are not text and are never labelled as text.",
        ),
    ] = 0.35,
    hard_text: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            help="Share of text layers (0-1) drawn in a style detectors tend to miss: rotated "
            "90/180/270, tilted 3-20 degrees, vertical along the left or right edge, "
            "low-contrast (10-30 grey levels off the background), blurred. 0 draws all text "
            "plainly.",
        ),
    ] = 0.25,
    stickers: Annotated[
        float,
        typer.Option(
            metavar="SHARE",
            help="Share of images (0-1) with a label sticker or torn paper scrap stuck on the "
            "scan, written on by hand (or a printed patient label) as the class asks; blank on "
            "None images. The paper is background, only its ink is text. 0 turns them off.",
        ),
    ] = 0.1,
    font_cache: Annotated[
        Path | None,
        typer.Option(
            envvar="MEDOCR_FONT_CACHE",
            show_default="~/.cache/medocr/fonts",
            help="Font cache holding the fetched handwriting families (`make fonts`: npm "
            "@fontsource packages). Handwriting is drawn with them too, a sixth of them held "
            "out for the test split. Missing or empty: one line says so and the Debian "
            "handwriting fonts are used alone.",
        ),
    ] = None,
    fetched_fonts: Annotated[
        bool,
        typer.Option(
            "--fetched-fonts/--no-fetched-fonts",
            help="Use the fetched handwriting families of the font cache; --no-fetched-fonts "
            "draws with the Debian and Hershey fonts only (the font pools of the datasets "
            "made before them).",
        ),
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Generate synthetic medical images with burned-in printed and handwritten text.

    Backgrounds are procedural CT, MR, X-ray and ultrasound images, real anatomy crops from
    pydicom's test data, and any folder given with --backgrounds. Printed text is fake PHI and
    technical labels in scanner-overlay layouts; handwriting uses handwriting fonts and Hershey
    strokes with jitter, slant and elastic distortion. Classes None / P / H / PH are balanced.
    A share of the images (--negatives) also shows structure that looks like strokes but is
    not text, drawn before the text so it stays out of the masks and labels: the models learn
    to leave Doppler flow, vessels and measurement graphics alone. Another share of the text
    (--hard-text) is rotated, tilted, written along an edge, faint or blurred, so the detector
    learns to find it too. Another share of the images (--stickers) has a label or paper scrap
    stuck on, with handwriting or a printed patient label on it: the paper is background (in
    clean/), only its ink is text.

    OUT gets images/, clean/ (the same images without text), masks/ (text pixels), crops/ (one
    per text line), manifest.jsonl (one object per image: image, clean, mask, label, its lines
    as items (box, text, kind, words, style, angle, on a sticker or not), split, negatives and
    the sticker) and dataset.json. Splits are 80/10/10 train/val/test; the test split uses
    printed and handwriting fonts that train never uses. Handwriting also draws on the families
    `make fonts` fetched into the font cache (--font-cache), when it holds them.
    """
    from medocr_cli.cli.progress_bar import Bar
    from medocr_cli.pipeline.generate_dataset import (
        GenerateConfig,
        default_font_cache,
        fetched_fonts_note,
        run_generate_dataset,
    )

    opts = global_options(ctx)
    config = GenerateConfig(
        out=out,
        count=count,
        seed=seed,
        size=size,
        workers=workers,
        image_format=image_format,
        backgrounds=backgrounds,
        overwrite=overwrite,
        negatives=negatives,
        hard_text=hard_text,
        stickers=stickers,
        font_cache=(font_cache or default_font_cache()) if fetched_fonts else None,
    )
    note = None if opts.quiet else fetched_fonts_note(config.font_cache)
    t0 = time.perf_counter()
    with Bar("generate", enabled=not opts.quiet) as bar:
        summary = run_generate_dataset(config, _NoteOnStart(bar, note) if note else bar)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    if preview is not None:
        from medocr_cli.pipeline.preview import contact_sheet

        contact_sheet(out, preview)
    if json_out:
        print_json(summary)
    elif not opts.quiet:
        out_console.print(
            f"wrote {count} images to {out} in {summary['seconds']}s; classes {summary['labels']}"
            + (f"; contact sheet {preview}" if preview else ""),
            highlight=False,
        )


class _NoteOnStart:
    """A progress that prints one line on stderr when the run starts, then is `bar`.

    The line (no fetched fonts in the cache) waits for the start so that a usage error found
    by the run's checks is still the only line printed.
    """

    def __init__(self, bar: Any, note: str) -> None:
        self._bar, self._note = bar, note

    def start(self, total: int) -> None:
        """Print the note, then start the bar."""
        err_console.print(f"medocr: note: {self._note}", highlight=False, markup=False)
        self._bar.start(total)

    def advance(self, result: Any) -> None:
        """Advance the bar."""
        self._bar.advance(result)
