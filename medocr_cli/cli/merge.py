"""`medocr merge BOXES.json...`: one de-duplicated set of boxes per image, from all extractors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.common import err_console, global_options, handle_errors, print_json


@handle_errors
def merge(
    ctx: typer.Context,
    boxes: Annotated[
        list[Path],
        typer.Argument(help="JSON files written by `medocr extract --json` (one per extractor)."),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the merged boxes here (same JSON shape)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the merged JSON.")] = False,
    no_classifier: Annotated[
        bool,
        typer.Option(
            "--no-classifier",
            help="Decide conflicting readings by score only, without running the classifier.",
        ),
    ] = False,
    weights: Annotated[
        Path | None, typer.Option(help="Weights folder holding classifier.pt (default: shipped).")
    ] = None,
) -> None:
    """Merge boxes from several extractors into one de-duplicated set per image.

    Entries are grouped by image path across all files. In each frame, boxes covering the same
    text (IoU above 0.5, or one 80% inside another) become one region, and regions side by side
    on one line become one line box, texts joined left to right. A merged box is the union of
    what it merged: no region is ever dropped. When two extractors read different text for one
    region, the classifier is run on that region's crop (if the image file and classifier.pt
    exist): H keeps the handwritten reading, P the printed one; otherwise the reading with the
    higher score stands.

    Output: the `extract --json` shape, an array of {path, label, boxes: [{frame, box: [x0, y0,
    x1, y1], text, kind, score, source}]}; kind and source of merged boxes join their parts with
    "+" (e.g. "detector+tesseract"). Exit codes: 0 merged, 1 an input file is not valid JSON of
    that shape or an entry records a failed extraction, 2 usage error.
    """
    from medocr_cli.pipeline.merge import MergeConfig, run_merge

    opts = global_options(ctx)
    config = MergeConfig(boxes, not no_classifier, weights, opts.device)
    outcome = run_merge(config)
    results, stats = outcome.results, outcome.stats
    if output is not None:
        from medocr_cli.io.atomic import write_text_atomic

        write_text_atomic(output, json.dumps(results, indent=2) + "\n")
    if json_out:
        print_json(results)
    if not opts.quiet and not json_out:
        where = f" -> {output}" if output is not None else ""
        decided = f", {stats.by_classifier} by the classifier" if stats.conflicts else ""
        err_console.print(
            f"merged {len(boxes)} file(s), {len(results)} image(s): "
            f"[bold]{stats.boxes_in}[/] boxes in -> [bold]{stats.boxes_out}[/] out; "
            f"{stats.conflicts} conflicting reading(s){decided}{where}",
            highlight=False,
            soft_wrap=True,
        )
        if output is None:
            err_console.print("(use -o FILE or --json to get the merged boxes)", style="dim")
    raise typer.Exit(1 if any("error" in r for r in results) else 0)
