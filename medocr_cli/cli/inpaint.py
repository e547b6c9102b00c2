"""`medocr inpaint INPUT (--boxes JSON | --mask PNG)`: remove given regions from one image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.choices import InpaintMethod
from medocr_cli.cli.common import err_console, global_options, handle_errors, print_json
from medocr_cli.types import OutputSyntax


@handle_errors
def inpaint(
    ctx: typer.Context,
    image: Annotated[
        Path, typer.Argument(help="The image file (PNG, DICOM, ...).", exists=True, dir_okay=False)
    ],
    boxes: Annotated[
        Path | None, typer.Option("--boxes", help="JSON from `medocr extract --json` or `merge`.")
    ] = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Mask image of the frame size; non-zero = remove.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Output file (default: NAME.inpainted.EXT beside the input)."
        ),
    ] = None,
    method: Annotated[
        InpaintMethod,
        typer.Option(
            help="learned (gated-conv inpainter), telea or ns (OpenCV), or auto: learned when "
            "inpainter.pt is in the weights folder, else telea."
        ),
    ] = InpaintMethod.AUTO,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="Weights folder holding inpainter.pt (default: MEDOCR_WEIGHTS, then the "
            "shipped weights)."
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="An inpainter checkpoint file to use instead of the folder's."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    output_syntax: Annotated[
        OutputSyntax,
        typer.Option(
            help="How a DICOM output stores its pixels, never adding loss: 'keep' (unchanged "
            "compressed frames kept as they are; else the input's transfer syntax when "
            "lossless and writable here, else the smallest lossless codec), 'explicit' "
            "(uncompressed), 'rle', 'jpeg-ls' or 'jpeg2000'.",
            case_sensitive=False,
        ),
    ] = OutputSyntax.KEEP,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Repaint the given regions of an image, in its stored values, and write its own format.

    Pixels outside the regions stay bit-identical (except for JPEG, which is lossy). DICOM
    stays in its stored dtype and bit depth, every frame that has boxes is repainted; the
    learned method fills each frame's stored values scaled by the range around the hole, then
    rounds and clips them back (palette images keep palette indices).
    """
    from medocr_cli.cli.progress_bar import Bar
    from medocr_cli.config import resolve_device
    from medocr_cli.pipeline.inpaint import InpaintConfig, resolve_method, run_inpaint

    weights = checkpoint or weights
    chosen = resolve_method(method, weights)
    device = resolve_device(global_options(ctx).device) if chosen == "learned" else "cpu"
    target = output or image.with_name(f"{image.stem}.inpainted{image.suffix}")
    config = InpaintConfig(
        image,
        target,
        boxes_json=boxes,
        mask_path=mask,
        method=chosen,
        overwrite=overwrite,
        weights=weights,
        device=device,
        output_syntax=output_syntax.value,
    )
    quiet = global_options(ctx).quiet or json_out
    with Bar("inpaint (frames)", enabled=not quiet) as bar:
        changed = run_inpaint(config, bar)
    if json_out:
        print_json(
            {
                "path": str(image),
                "output": str(target),
                "frames_changed": changed,
                "method": chosen,
            }
        )
    elif not global_options(ctx).quiet:
        err_console.print(
            f"wrote {target} ({changed} frame(s) repainted, {chosen})", highlight=False
        )
