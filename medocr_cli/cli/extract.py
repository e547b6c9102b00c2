"""`medocr extract INPUT...`: text and boxes per image, printed, handwritten or both (auto)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.choices import ExtractStage
from medocr_cli.cli.common import global_options, handle_errors, out_console, print_json


@handle_errors
def extract(
    ctx: typer.Context,
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (recursed).")],
    stage: Annotated[
        ExtractStage,
        typer.Option(
            help="printed (Tesseract), handwritten (text detector + CRNN recognizer) or auto "
            "(detector on every frame, classifier routing when classifier.pt is there)."
        ),
    ] = ExtractStage.PRINTED,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")] = False,
    show_text: Annotated[
        bool, typer.Option("--show-text", help="Show the recognised text in the table (PHI!).")
    ] = False,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="Weights folder holding detector.pt, recognizer.pt (and classifier.pt for "
            "auto routing); default: MEDOCR_WEIGHTS or the shipped weights."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Frames per detector pass.", min=1)] = 8,
    beam_width: Annotated[
        int | None,
        typer.Option(
            help="Prefixes the recognizer's CTC beam search keeps per line (default 8); 1 reads "
            "the greedy best path, a little faster and a little less accurate.",
            min=1,
        ),
    ] = None,
) -> None:
    """Find text in every frame of every input and print where it is and what it says.

    `--stage handwritten` boxes text lines with the detector and reads each with the CRNN; an
    input that is itself one cropped line is read whole. `--stage auto` runs the detector on
    every frame and Tesseract where the classifier sees printed text (or everywhere without
    classifier.pt); a frame the classifier calls None is still read when the detector finds
    text on it. JSON: an array of {path, label, boxes: [{frame, box: [x0,y0,x1,y1], text, kind,
    score, source}]} (text is included in JSON, which is meant for machines; the table hides it
    unless --show-text). Exit codes: 0 all read, 1 some inputs failed, 2 usage error (including
    missing weights).
    """
    from rich.table import Table

    from medocr_cli.cli.progress_bar import Bar
    from medocr_cli.config import resolve_device
    from medocr_cli.pipeline.extract import ExtractConfig, run_extract
    from medocr_cli.stages.printed import PrintedConfig

    opts = global_options(ctx)
    device = resolve_device(opts.device) if stage != "printed" else "cpu"
    config = ExtractConfig(
        stage=stage,
        weights=weights,
        device=device,
        batch_size=batch_size,
        printed=PrintedConfig(),
        beam_width=beam_width,
        inputs=inputs,
    )
    with Bar(f"extract ({stage})", enabled=not (opts.quiet or json_out)) as bar:
        results = run_extract(config, bar)
    if json_out:
        print_json([r.to_json() for r in results])
    else:
        for r in results:
            table = Table(title=f"{r.path} ({r.label})", title_justify="left")
            columns = ("frame", "box", "kind", "source", "score", "text" if show_text else "chars")
            for col in columns:
                table.add_column(col)
            for b in r.boxes:
                shown = b.text if show_text else str(len(b.text))
                table.add_row(
                    str(b.frame),
                    f"{b.x0},{b.y0},{b.x1},{b.y1}",
                    b.kind,
                    b.source,
                    f"{b.score:.2f}",
                    shown,
                )
            if r.error:
                table.caption = f"[red]{r.error}[/]"
            out_console.print(table)
    raise typer.Exit(1 if any(r.error for r in results) else 0)
