"""The console training output goes to: stderr, so stdout stays free for --json results."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)
