"""What every subcommand shares: global options, error reporting, consoles, JSON output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from medocr_cli.errors import MedocrError, printable

F = TypeVar("F", bound=Callable[..., Any])

#: Human-facing messages, tables and progress go to stderr; stdout carries results (--json).
err_console = Console(stderr=True)
out_console = Console()


@dataclass
class GlobalOptions:
    """Options given before the subcommand (`medocr --device cpu scrub ...`)."""

    device: str = "auto"
    quiet: bool = False
    verbose: bool = False
    #: Loaded models for `scrub` (a `pipeline.scrub.RunModels`) instead of the weights folder's:
    #: the seam through which tests and programs embedding the CLI pass models in
    #: (`CliRunner().invoke(app, args, obj=GlobalOptions(models=...))`).
    models: Any = None


def global_options(ctx: typer.Context) -> GlobalOptions:
    """Return the global options stored by the app callback (defaults when run alone)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def print_error(message: str) -> None:
    """Print one error line (`medocr: error: ...`) on stderr.

    Control characters in `message` (a file name can hold a newline or a terminal escape
    sequence) are shown escaped, and brackets in it are not read as Rich markup.
    """
    err_console.print(
        f"[bold red]medocr: error:[/] {escape(printable(message))}",
        highlight=False,
        soft_wrap=True,
    )


def fail(message: str, code: int = 2) -> None:
    """Print one error line and exit with `code`."""
    print_error(message)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn `MedocrError` into one clear line on stderr and the error's exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MedocrError as exc:
            fail(exc.one_line(), exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("medocr: interrupted; finished outputs are kept, none is partial")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Write `data` as indented JSON to stdout."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def resolve_salt(
    ctx: typer.Context, salt: str | None, salt_file: Path | None, header: str
) -> str | None:
    """The run's salt from --salt, MEDOCR_SALT or --salt-file; never echoes the secret.

    Shared by `scrub` and `serve`, which take the same three salt options.

    MEDOCR_SALT is ambient configuration, so it is ignored unless the header mode is "basic"
    (outside "basic" the pipeline refuses an explicit --salt or --salt-file). Two sources at
    once are refused rather than ranked, so a run never keys its UIDs with a salt the user did
    not mean.

    Raises:
        UsageError: A salt given twice, or a salt file that is unreadable or empty.
    """
    from medocr_cli.errors import UsageError

    source = ctx.get_parameter_source("salt")
    from_env = source is not None and source.name == "ENVIRONMENT"
    if from_env and header != "basic":
        salt = None
    if header == "basic" and salt is None and os.environ.get("MEDOCR_SALT") == "":
        raise UsageError(  # click reads an empty variable as unset: say so, as --salt "" is
            "MEDOCR_SALT is set but empty", hint="unset it for a random salt, or give a salt"
        )
    if salt_file is None:
        return salt
    if salt is not None:
        given = "MEDOCR_SALT" if from_env else "--salt"
        raise UsageError(
            f"{given} and --salt-file both give a salt", hint="give the salt one way only"
        )
    try:  # at most 4 KiB: a device such as /dev/zero never ends
        with open(salt_file, "rb") as fh:
            lines = fh.read(4096).decode("utf-8").splitlines()
    except (OSError, UnicodeError):
        raise UsageError(
            "cannot read the salt file", hint="give a readable UTF-8 text file", path=salt_file
        ) from None
    value = lines[0].strip() if lines else ""
    if not value:
        raise UsageError(
            "the salt file's first line is empty",
            hint="write the salt on the first line",
            path=salt_file,
        )
    return value
