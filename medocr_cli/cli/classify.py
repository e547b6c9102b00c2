"""`medocr classify INPUT...`: None / P / H / PH for every file, with probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.common import global_options, handle_errors, out_console, print_json


@handle_errors
def classify(
    ctx: typer.Context,
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (recursed).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")] = False,
    batch_size: Annotated[int, typer.Option(help="Frames per forward pass.", min=1)] = 32,
    weights: Annotated[
        Path | None, typer.Option(help="Weights folder holding classifier.pt (default: shipped).")
    ] = None,
) -> None:
    """Say whether each image holds no text (None), printed (P), handwritten (H) or both (PH).

    Every frame of a DICOM is classified; a file's label is the union over its frames (P if any
    frame has printed text, and so on) and its probabilities are those of the frame most likely
    to hold text. JSON: an array of {path, label, probs: {None, P, H, PH}, frames: [label per
    frame]}. Exit codes: 0 all classified, 1 some inputs could not be read, 2 usage error.
    """
    from medocr_cli.cli.progress_bar import Bar
    from medocr_cli.config import resolve_device
    from medocr_cli.models import zoo
    from medocr_cli.pipeline.classify import ClassifyConfig, run_classify

    opts = global_options(ctx)
    config = ClassifyConfig(inputs, weights, resolve_device(opts.device), batch_size)
    with Bar("classify", enabled=not (opts.quiet or json_out)) as bar:
        results = run_classify(config, bar)
    if json_out:
        print_json([r.to_json() for r in results])
    else:
        from rich.table import Table

        title = f"classifier ({zoo.locate('classifier', weights)})"
        table = Table(title=title, title_justify="left")
        table.add_column("file", overflow="fold")
        for col in ("label", "None", "P", "H", "PH", "frames"):
            table.add_column(col, justify="right")
        for r in results:
            if r.error:
                table.add_row(str(r.path), "[red]error[/]", "", "", "", "", r.error)
                continue
            p = r.probs
            table.add_row(
                str(r.path),
                f"[bold]{r.label}[/]",
                *(f"{p.get(k, 0.0):.3f}" for k in ("None", "P", "H", "PH")),
                str(len(r.frames)),
            )
        out_console.print(table)
    raise typer.Exit(1 if any(r.error for r in results) else 0)
