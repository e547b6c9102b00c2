"""`medocr extract INPUT...`: text and boxes per image, from the printed-text extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.common import fail, handle_errors, out_console, print_json


@handle_errors
def extract(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (recursed).")],
    stage: Annotated[
        str, typer.Option(help="printed (Tesseract), handwritten (detector + CRNN) or auto.")
    ] = "printed",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")] = False,
    show_text: Annotated[
        bool, typer.Option("--show-text", help="Show the recognised text in the table (PHI!).")
    ] = False,
) -> None:
    """Find text in every frame of every input and print where it is and what it says.

    JSON: an array of {path, label, boxes: [{frame, box: [x0,y0,x1,y1], text, kind, score,
    source}]} (text is included in JSON, which is meant for machines; the table hides it unless
    --show-text). Exit codes: 0 all read, 1 some inputs failed, 2 usage error.
    """
    if stage != "printed":
        fail(
            f"--stage {stage} is not built yet (the handwriting detector and recognizer have no "
            "weights); use --stage printed",
            code=2,
        )
    from rich.table import Table

    from medocr_cli.pipeline.extract import run_extract

    results = run_extract(inputs)
    if json_out:
        print_json([r.to_json() for r in results])
    else:
        for r in results:
            table = Table(title=str(r.path), title_justify="left")
            for col in ("frame", "box", "score", "text" if show_text else "chars"):
                table.add_column(col)
            for b in r.boxes:
                shown = b.text if show_text else str(len(b.text))
                table.add_row(str(b.frame), f"{b.x0},{b.y0},{b.x1},{b.y1}", f"{b.score:.2f}", shown)
            if r.error:
                table.caption = f"[red]{r.error}[/]"
            out_console.print(table)
    raise typer.Exit(1 if any(r.error for r in results) else 0)
