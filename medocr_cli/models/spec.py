"""Typed checkpoint specs: a frozen dataclass per model family, built from a spec dict and checked.

A checkpoint's `spec` is a plain dict (so `torch.load(..., weights_only=True)` can read it). The
zoo (`medocr_cli.models.zoo`) turns it into the family's `Spec` subclass with `parse_spec`, which
checks every field the code reads: present when required, of the right type (an int is not a bool,
a list holds numbers), in range, and an architecture of the family. Keys the dataclass does not
name (descriptions such as "input") are allowed and ignored.

Fields are declared once, as dataclass fields: no default means required; the annotation is the
type checked (`int`, `float`, `str`, `tuple[int, ...]`, `tuple[float, ...]`, `tuple[str, ...]`,
`float | None`). Extra rules go in `check`. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

S = TypeVar("S", bound="Spec")


class SpecError(ValueError):
    """A spec dict that does not describe a network of its family; the message quotes the value."""


def quote(value: Any, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters (a vocabulary can be long)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, kw_only=True)
class Spec:
    """What every family's spec has: the registered architecture name.

    Subclasses (one per family, in `models/<family>/spec.py`) set `ARCHS`: the architectures a
    checkpoint of the family may name, the first being the one new checkpoints get.
    """

    ARCHS: ClassVar[tuple[str, ...]] = ()

    arch: str

    def check(self) -> None:
        """Raise `SpecError` when a value is out of range (types are already checked)."""

    def _positive(self, *names: str) -> None:
        """Every value of the named fields (a number or a tuple of numbers) is above 0."""
        for name in names:
            value = getattr(self, name)
            items = value if isinstance(value, tuple) else (value,)
            if not items or any(v <= 0 for v in items):
                raise SpecError(f"{name!r} must be above 0, not {quote(_plain(value))}")

    def _between(self, name: str, low: float, high: float) -> None:
        value = getattr(self, name)
        if not low <= value <= high:
            raise SpecError(f"{name!r} must be in [{low:g}, {high:g}], not {quote(value)}")

    def _length(self, name: str, *allowed: int) -> None:
        value = getattr(self, name)
        if len(value) not in allowed:
            counts = " or ".join(str(n) for n in allowed)
            raise SpecError(f"{name!r} must hold {counts} values, not {quote(_plain(value))}")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _number(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind is int else isinstance(value, int | float)


def _convert(name: str, value: Any, hint: Any) -> Any:
    """Return `value` as the annotated type, or raise `SpecError` quoting it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return None if value is None else _convert(name, value, inner[0])
    if origin is tuple:
        kind = args[0]
        if not isinstance(value, list | tuple) or not all(
            _number(v, kind) if kind in (int, float) else isinstance(v, kind) for v in value
        ):
            raise SpecError(f"{name!r} must be a list of {kind.__name__}, not {quote(value)}")
        return tuple(kind(v) for v in value)
    if hint in (int, float):
        if not _number(value, hint):
            raise SpecError(
                f"{name!r} must be {'an int' if hint is int else 'a number'}, not {quote(value)}"
            )
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(f"{name!r} must be a string, not {quote(value)}")
        return value
    raise TypeError(f"unsupported spec field type {hint!r}")  # a programming error


def parse_spec(cls: type[S], raw: Any) -> S:
    """Build `cls` from a checkpoint's spec dict, checking every field.

    Raises:
        SpecError: Not a dict, a required key missing, a value of the wrong type or range, or
            an architecture that is not one of `cls.ARCHS`.
    """
    if not isinstance(raw, Mapping):
        raise SpecError(f"the spec is not a dict but {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{f.name!r} is missing")
            continue
        values[f.name] = _convert(f.name, raw[f.name], hints[f.name])
    spec = cls(**values)
    if spec.arch not in cls.ARCHS:
        raise SpecError(
            f"'arch' must be {' or '.join(repr(a) for a in cls.ARCHS)}, not {quote(spec.arch)}"
        )
    spec.check()
    return spec
