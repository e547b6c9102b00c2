"""`medocr release OUT PATH...`: move reviewed files out of quarantine into the output tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.common import err_console, handle_errors, out_console


@handle_errors
def release(
    output: Annotated[Path, typer.Argument(help="The OUT folder of a `medocr scrub` run.")],
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Quarantined files to release: paths into OUT/_quarantine, or relative to it.",
            metavar="PATH...",
        ),
    ],
    note: Annotated[
        str | None,
        typer.Option(help="A note for the report (who reviewed it and why it is safe)."),
    ] = None,
) -> None:
    """Release flagged files a person has reviewed: move them from OUT/_quarantine into OUT.

    A flagged output is one where verification still found text after cleaning; `scrub`
    moves it to OUT/_quarantine. Look at it first (`scrub --html` shows every flagged frame at
    full size with the text found outlined). Releasing moves it to its place in the output tree
    and records, in OUT/medocr-report.jsonl, status ok with `released` (user, time, --note).
    The file is not changed: a DICOM stays BurnedInAnnotation YES.
    Exit codes: 0 all released, 1 some could not be, 2 usage error.
    """
    from medocr_cli.errors import printable
    from medocr_cli.pipeline.release import ReleaseConfig, run_release

    results = run_release(ReleaseConfig(output, paths, note))
    for r in results:
        if r.error:
            err_console.print(
                f"medocr: not released: {printable(r.error)}", highlight=False, markup=False
            )
        else:
            out_console.print(f"released {printable(r.target)}", highlight=False, markup=False)
    raise typer.Exit(1 if any(r.error for r in results) else 0)
