"""Typer Enums for option choices, so `--help` lists them and Typer checks them."""

from __future__ import annotations

from enum import StrEnum


class FlaggedMode(StrEnum):
    """Where `scrub` puts an output whose verification still found text."""

    QUARANTINE = "quarantine"
    KEEP = "keep"
