"""The `medocr` command: global options and the eight subcommands.

Only Typer and rich are imported here; each subcommand imports its pipeline (and with it numpy,
OpenCV, torch) when it runs, so `medocr --help` stays instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

from medocr_cli import __version__
from medocr_cli.cli.classify import classify
from medocr_cli.cli.common import GlobalOptions, fail
from medocr_cli.cli.extract import extract
from medocr_cli.cli.generate_dataset import generate_dataset
from medocr_cli.cli.inpaint import inpaint
from medocr_cli.cli.merge import merge
from medocr_cli.cli.release import release
from medocr_cli.cli.scrub import scrub
from medocr_cli.cli.serve import serve
from medocr_cli.cli.train import train

app = typer.Typer(
    name="medocr",
    help=(
        "Remove burned-in text (names, IDs, dates, notes) from medical images, PNG or DICOM, "
        "and repaint the pixels so the image still looks like the original. "
        "Run `medocr scrub IN OUT` to clean a folder tree, `medocr serve OUT` to clean what a "
        "DICOM node receives; the other commands run one stage each."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"medocr {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="Where models run: auto (GPU when present), cpu or cuda.")
    ] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print a line per file.")
    ] = False,
) -> None:
    """Global options, given before the subcommand."""
    if device not in ("auto", "cpu", "cuda"):
        fail(f"--device {device!r} is not one of auto, cpu, cuda")
    if quiet and verbose:
        fail("--quiet and --verbose exclude each other")
    ctx.obj = GlobalOptions(device=device, quiet=quiet, verbose=verbose)


app.command("generate-dataset")(generate_dataset)
app.command("train")(train)
app.command("classify")(classify)
app.command("extract")(extract)
app.command("merge")(merge)
app.command("inpaint")(inpaint)
app.command("scrub")(scrub)
app.command("serve")(serve)
app.command("release")(release)


def main() -> None:
    """Console-script entry point."""
    app()
