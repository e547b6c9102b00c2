"""The `medocr` command: global options and the eight subcommands.

Only Typer and rich are imported here; each subcommand imports its pipeline (and with it numpy,
OpenCV, torch) when it runs, so `medocr --help` stays instant.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from medocr_cli import __version__
from medocr_cli.cli.choices import Device
from medocr_cli.cli.classify import classify
from medocr_cli.cli.common import GlobalOptions, fail, print_error
from medocr_cli.cli.extract import extract
from medocr_cli.cli.generate_dataset import generate_dataset
from medocr_cli.cli.inpaint import inpaint
from medocr_cli.cli.merge import merge
from medocr_cli.cli.release import release
from medocr_cli.cli.scrub import scrub
from medocr_cli.cli.serve import serve
from medocr_cli.cli.train import train


class OneLineErrors(TyperGroup):
    """The command group, with every usage error as one line on stderr and exit code 2.

    Typer draws a parse error (an unknown choice, a missing argument) as a boxed panel of six
    lines; scripts and DICOM routers log stderr line by line, so medocr says it in one line,
    as it does for its own usage errors, and points at `--help`.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102 (click's entry point)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except typer.Abort:
            print_error("aborted")
            sys.exit(130)
        except typer.TyperException as exc:  # Typer's (click's) usage and parse errors
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "medocr"
            message = " ".join(exc.format_message().split())
            message = message.replace("Value error, ", "")  # pydantic's words on a bad choice
            print_error(f"{message} (see {where} --help)")
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="medocr",
    cls=OneLineErrors,
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
        Device, typer.Option(help="Where models run: auto (GPU when present), cpu or cuda.")
    ] = Device.AUTO,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print a line per file.")
    ] = False,
) -> None:
    """Global options, given before the subcommand."""
    if quiet and verbose:
        fail("--quiet and --verbose exclude each other")
    preset = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
    ctx.obj = GlobalOptions(device=device, quiet=quiet, verbose=verbose, models=preset.models)


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
