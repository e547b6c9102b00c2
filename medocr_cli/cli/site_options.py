"""Merging a site recipe (`--config site.toml`) with the options given on the command line.

The recipe gives a site's settings; an option given on the command line (or, for the salt,
in the environment) overrides it. Options that are alternatives go together: a command line
that picks `--workers` or `--cluster` ignores both in the recipe, and one that gives a salt
any way ignores the recipe's salt file (which also applies only with `--header basic`).
Shared by `scrub` and `serve`.
"""

from __future__ import annotations

from typing import Any

import typer

from medocr_cli.site_config import SiteConfig

#: Options that are alternatives: one given on the command line drops all from the recipe.
_GROUPS = (("workers", "cluster"), ("salt", "salt_file"))


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was set on the command line or in the environment."""
    source = ctx.get_parameter_source(name)  # typer's own click: compare by name
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def with_recipe(
    ctx: typer.Context, site: SiteConfig | None, values: dict[str, Any]
) -> dict[str, Any]:
    """`values` (option name -> value as parsed) with the recipe's settings filled in.

    Only options named in `values` are taken from the recipe, and only where the command
    line left them at their defaults.
    """
    if site is None:
        return values
    out = dict(values)
    skip = {n for group in _GROUPS if any(_given(ctx, g) for g in group) for n in group}
    for name, value in site.options.items():
        if name in out and name not in skip and not _given(ctx, name):
            out[name] = value
    if out.get("header") != "basic" and not _given(ctx, "salt_file"):
        out["salt_file"] = values.get("salt_file")  # a recipe's salt file needs basic
    return out
