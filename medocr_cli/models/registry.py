"""A small registry of model architectures: a checkpoint's spec names its architecture here.

Each family package's `network.py` registers its builder under the family's `ARCH`.

Builders take the spec dict stored in the checkpoint and return an untrained `nn.Module`, so a
checkpoint can be rebuilt without knowing in advance which class it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from medocr_cli.errors import UsageError

Builder = Callable[[dict[str, Any]], nn.Module]
_BUILDERS: dict[str, Builder] = {}


def register(arch: str) -> Callable[[Builder], Builder]:
    """Register `builder` under `arch` (used as a decorator by each model module)."""

    def deco(builder: Builder) -> Builder:
        _BUILDERS[arch] = builder
        return builder

    return deco


def build(spec: dict[str, Any]) -> nn.Module:
    """Build the untrained model that `spec` describes.

    Raises:
        UsageError: The spec names no known architecture.
    """
    _load_all()
    arch = spec.get("arch")
    if arch not in _BUILDERS:
        raise UsageError(
            f"unknown model architecture {arch!r}",
            hint=f"known: {', '.join(sorted(_BUILDERS))}",
        )
    return _BUILDERS[arch](spec)


def known() -> list[str]:
    """Return the registered architecture names."""
    _load_all()
    return sorted(_BUILDERS)


def _load_all() -> None:
    """Import every family's network module (`models/<family>/network.py`), which registers it."""
    import importlib
    import pkgutil

    import medocr_cli.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.ispkg:
            importlib.import_module(f"medocr_cli.models.{info.name}.network")
