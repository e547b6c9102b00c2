"""What every subcommand shares: global options, error reporting, consoles, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
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


def global_options(ctx: typer.Context) -> GlobalOptions:
    """Return the global options stored by the app callback (defaults when run alone)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def fail(message: str, code: int = 2) -> None:
    """Print one error line and exit with `code`.

    Control characters in `message` (a file name can hold a newline or a terminal escape
    sequence) are shown escaped, and brackets in it are not read as Rich markup.
    """
    err_console.print(
        f"[bold red]medocr: error:[/] {escape(printable(message))}",
        highlight=False,
        soft_wrap=True,
    )
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
