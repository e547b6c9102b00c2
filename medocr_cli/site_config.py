"""A site recipe (`--config site.toml`): a hospital's settings for `scrub` and `serve` in one file.

The recipe holds what an operator sets once per site instead of on every command line: the
weights, the header profile, the salt file, the cleaning options, where `serve` forwards
cleaned instances, and per-scanner pixel rules in the manner of CTP's DicomPixelAnonymizer
(a scanner model writes its header bar at the same place on every image, so the rectangle can
be cleared whatever the text finder says). Options given on the command line override it.

    weights = "/opt/medocr/weights"    # paths are relative to this file
    header = "basic"
    salt_file = "/etc/medocr/salt"
    method = "learned"
    output_syntax = "jpeg-ls"
    flagged = "quarantine"             # the default; "keep" leaves flagged files in the tree
    workers = 4

    [forward]                          # serve: where cleaned instances go
    host = "pacs.example.org"
    port = 104
    ae_title = "PACS"

    [[rule]]                           # tried in order; the first that matches applies
    name = "Acme Sono 5, 1080p"
    manufacturer = "acme"              # substring, any case (or manufacturer_regex)
    model_regex = "^Sono ?5"           # regular expression (or model, a substring)
    rows = 1080
    columns = 1920
    modality = "US"                    # optional
    clear = [[0, 0, 1920, 90]]         # [x, y, width, height]: always removed
    keep = [[300, 120, 1320, 900]]     # never touched: found text inside is left

The file is validated as a whole when it is read: an unknown key, a value of the wrong type or
out of range, or a rectangle outside its rule's image size is a usage error that names the
key (`rule[2].clear[1]` is the second rectangle of the second [[rule]]) with a hint, never the
value, so a mistyped secret never reaches a log. A salt itself is refused: it belongs in the
salt file. This module is a leaf (tomllib and dataclasses only), read by `cli/scrub.py` and
`cli/serve.py` alike.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medocr_cli.errors import UsageError
from medocr_cli.types import (
    FindMethod,
    FlaggedMode,
    HeaderProfile,
    InpaintMethod,
    OutputSyntax,
    TesseractMode,
)

#: The choices of the cleaning options (the pipeline's own lists; a test keeps them equal).
CHOICES: dict[str, tuple[str, ...]] = {
    key: tuple(choice.value for choice in choices)
    for key, choices in (
        ("method", InpaintMethod),
        ("header", HeaderProfile),
        ("find", FindMethod),
        ("tesseract", TesseractMode),
        ("output_syntax", OutputSyntax),
        ("flagged", FlaggedMode),
    )
}
#: Top-level keys: the command-line option each sets, and its type.
OPTION_TYPES: dict[str, type] = {
    "weights": Path,
    "header": str,
    "salt_file": Path,
    "method": str,
    "find": str,
    "tesseract": str,
    "confirm": bool,
    "verify": bool,
    "strict": bool,
    "flagged": str,
    "workers": int,
    "batch_size": int,
    "output_syntax": str,
    "cluster": str,
}
_TABLES = ("forward", "rule")
_FORWARD_KEYS = ("host", "port", "ae_title")
_RULE_KEYS = (
    "name",
    "manufacturer",
    "manufacturer_regex",
    "model",
    "model_regex",
    "modality",
    "rows",
    "columns",
    "clear",
    "keep",
)


@dataclass(frozen=True)
class Rect:
    """A rectangle of a rule, in pixels of the frame: left, top, width, height (as CTP has it)."""

    x: int
    y: int
    width: int
    height: int

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), the right and bottom edges exclusive."""
        return self.x, self.y, self.x + self.width, self.y + self.height


@dataclass(frozen=True)
class FixedRegions:
    """What the matching rule asks of one image.

    Attributes:
        rule: The rule's name (written into the report line).
        clear: Rectangles always removed, whatever the finder says.
        keep: Rectangles never touched: the finder's boxes inside them are dropped, and no
            pixel inside them is repainted.
    """

    rule: str
    clear: tuple[Rect, ...] = ()
    keep: tuple[Rect, ...] = ()

    def kept_share(self, x0: int, y0: int, x1: int, y1: int) -> float:
        """The share of the box (x0, y0, x1, y1) that lies inside never-touch rectangles."""
        inside = 0
        for k in self.keep:
            kx0, ky0, kx1, ky1 = k.bounds
            inside += max(0, min(x1, kx1) - max(x0, kx0)) * max(0, min(y1, ky1) - max(y0, ky0))
        return min(1.0, inside / max(1, (x1 - x0) * (y1 - y0)))

    def keeps(self, x0: int, y0: int, x1: int, y1: int) -> bool:
        """Whether the box (x0, y0, x1, y1) lies wholly inside a never-touch rectangle."""
        return any(
            k.x <= x0 and k.y <= y0 and x1 <= k.x + k.width and y1 <= k.y + k.height
            for k in self.keep
        )


def _matches(text: str, substring: str | None, pattern: re.Pattern[str] | None) -> bool:
    if substring is not None and substring.casefold() not in text.casefold():
        return False
    return pattern is None or pattern.search(text) is not None


@dataclass(frozen=True)
class PixelRule:
    """One scanner's rule: what it matches and which rectangles it clears or keeps.

    A rule matches an image whose Manufacturer and ManufacturerModelName hold the given
    substrings (any case) or match the given regular expressions (`re.search`, as written),
    whose frames are exactly `rows` x `columns`, and, when `modality` is set, whose Modality
    is that (any case). Only DICOM images have these attributes, so rules never match PNGs.
    """

    name: str
    rows: int
    columns: int
    manufacturer: str | None = None
    manufacturer_regex: re.Pattern[str] | None = None
    model: str | None = None
    model_regex: re.Pattern[str] | None = None
    modality: str | None = None
    clear: tuple[Rect, ...] = ()
    keep: tuple[Rect, ...] = ()

    def matches(
        self, manufacturer: str, model: str, modality: str, rows: int, columns: int
    ) -> bool:
        """Whether this rule applies to an image with these header values and size."""
        return (
            (rows, columns) == (self.rows, self.columns)
            and (self.modality is None or self.modality.casefold() == modality.casefold())
            and _matches(manufacturer, self.manufacturer, self.manufacturer_regex)
            and _matches(model, self.model, self.model_regex)
        )


def _header_text(dataset: Any, keyword: str) -> str:
    value = getattr(dataset, keyword, None) if dataset is not None else None
    return "" if value is None else str(value)


@dataclass(frozen=True)
class PixelRules:
    """The recipe's rules, tried in order (the first that matches applies, as in CTP)."""

    rules: tuple[PixelRule, ...]

    def for_image(self, dataset: Any, rows: int, columns: int) -> FixedRegions | None:
        """The regions of the first rule matching a DICOM dataset and frame size, or None.

        `dataset` is a pydicom dataset (its Manufacturer, ManufacturerModelName and Modality
        are read) or None for images without a header, which no rule matches.
        """
        if dataset is None:
            return None
        manufacturer = _header_text(dataset, "Manufacturer")
        model = _header_text(dataset, "ManufacturerModelName")
        modality = _header_text(dataset, "Modality")
        for rule in self.rules:
            if rule.matches(manufacturer, model, modality, rows, columns):
                return FixedRegions(rule.name, rule.clear, rule.keep)
        return None


@dataclass(frozen=True)
class Forward:
    """Where `serve` sends cleaned instances (C-STORE): host, port, called AE title."""

    host: str
    port: int
    ae_title: str


@dataclass(frozen=True)
class SiteConfig:
    """A loaded, validated recipe.

    Attributes:
        path: The file it was read from.
        options: Command-line option name (underscores) -> value, for the keys the file sets;
            paths already made absolute relative to the file's folder.
        forward: The `[forward]` table, if any.
        rules: The `[[rule]]` tables, if any.
    """

    path: Path
    options: dict[str, Any] = field(default_factory=dict)
    forward: Forward | None = None
    rules: PixelRules | None = None


class _Checker:
    """Builds one-line errors that name the recipe and the key, never the value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str, hint: str) -> UsageError:
        return UsageError(f"key {key!r} {problem}", hint=hint, path=self.path)

    def known(self, table: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{key}", "is not known", f"known keys here: {', '.join(allowed)}"
                )

    def string(self, value: Any, key: str, *, choices: tuple[str, ...] = ()) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string", "write it in double quotes")
        if choices and value not in choices:
            raise self.fail(key, "has a value that is not allowed", f"use {', '.join(choices)}")
        return value

    def integer(self, value: Any, key: str, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be a whole number", "write it without quotes")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise self.fail(key, "is out of range", f"use a number {bound}")
        return value

    def regex(self, value: Any, key: str) -> re.Pattern[str]:
        text = self.string(value, key)
        try:
            return re.compile(text)
        except re.error:
            raise self.fail(
                key,
                "is not a valid regular expression",
                "use Python `re` syntax; in TOML, write it in single quotes to keep backslashes",
            ) from None

    def rects(self, value: Any, key: str, rows: int, columns: int) -> tuple[Rect, ...]:
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of rectangles", "e.g. [[0, 0, 640, 40]]")
        out = []
        for i, item in enumerate(value, start=1):
            where = f"{key}[{i}]"
            if not isinstance(item, list) or len(item) != 4:
                raise self.fail(
                    where, "must be [x, y, width, height]", "four whole numbers, in pixels"
                )
            x, y = (self.integer(v, where, 0) for v in item[:2])
            w, h = (self.integer(v, where, 1) for v in item[2:])
            if x + w > columns or y + h > rows:
                raise self.fail(
                    where,
                    "reaches outside the rule's image size",
                    "x + width must be at most columns, y + height at most rows",
                )
            out.append(Rect(x, y, w, h))
        return tuple(out)


def _options(check: _Checker, data: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, kind in OPTION_TYPES.items():
        if key not in data:
            continue
        value = data[key]
        if kind is bool:
            if not isinstance(value, bool):
                raise check.fail(key, "must be true or false", "write true or false, no quotes")
            options[key] = value
        elif kind is int:
            options[key] = check.integer(value, key, 1)
        elif kind is Path:
            text = check.string(value, key)
            options[key] = (check.path.parent / Path(text).expanduser()).absolute()
        else:
            options[key] = check.string(value, key, choices=CHOICES.get(key, ()))
    salt_file = options.get("salt_file")
    if salt_file is not None and not salt_file.is_file():
        raise check.fail(
            "salt_file", "does not name a readable file", "paths are relative to the recipe"
        )
    return options


def _forward(check: _Checker, data: Any) -> Forward:
    if not isinstance(data, dict):
        raise check.fail("forward", "must be a table", "write it as [forward]")
    check.known(data, _FORWARD_KEYS, "forward.")
    for key in _FORWARD_KEYS:
        if key not in data:
            raise check.fail(f"forward.{key}", "is missing", "[forward] needs host, port, ae_title")
    ae = check.string(data["ae_title"], "forward.ae_title")
    if len(ae) > 16 or not ae.isascii() or "\\" in ae:
        raise check.fail(
            "forward.ae_title", "is not a valid AE title", "up to 16 ASCII characters, no '\\'"
        )
    return Forward(
        host=check.string(data["host"], "forward.host"),
        port=check.integer(data["port"], "forward.port", 1, 65535),
        ae_title=ae,
    )


def _rule(check: _Checker, data: Any, number: int) -> PixelRule:
    prefix = f"rule[{number}]"
    if not isinstance(data, dict):
        raise check.fail(prefix, "must be a table", "write each rule as [[rule]]")
    check.known(data, _RULE_KEYS, f"{prefix}.")
    for key in ("rows", "columns"):
        if key not in data:
            raise check.fail(
                f"{prefix}.{key}", "is missing", "a rule matches one image size: rows and columns"
            )
    rows = check.integer(data["rows"], f"{prefix}.rows", 1)
    columns = check.integer(data["columns"], f"{prefix}.columns", 1)
    for key in ("manufacturer", "model"):
        if key in data and f"{key}_regex" in data:
            raise check.fail(
                f"{prefix}.{key}_regex",
                f"is given with {key}",
                "use a substring or a regular expression, not both",
            )
    if not any(k in data for k in ("manufacturer", "manufacturer_regex", "model", "model_regex")):
        raise check.fail(
            f"{prefix}.manufacturer",
            "is missing",
            "a rule names its scanner: manufacturer, model or their _regex forms",
        )
    if "clear" not in data and "keep" not in data:
        raise check.fail(
            f"{prefix}.clear", "is missing", "a rule lists rectangles to clear or keep"
        )

    def text(key: str) -> str | None:
        return check.string(data[key], f"{prefix}.{key}") if key in data else None

    def pattern(key: str) -> re.Pattern[str] | None:
        return check.regex(data[key], f"{prefix}.{key}") if key in data else None

    return PixelRule(
        name=text("name") or f"rule {number}",
        rows=rows,
        columns=columns,
        manufacturer=text("manufacturer"),
        manufacturer_regex=pattern("manufacturer_regex"),
        model=text("model"),
        model_regex=pattern("model_regex"),
        modality=text("modality"),
        clear=check.rects(data.get("clear", []), f"{prefix}.clear", rows, columns),
        keep=check.rects(data.get("keep", []), f"{prefix}.keep", rows, columns),
    )


def load_site_config(path: Path) -> SiteConfig:
    """Read and validate a site recipe.

    Raises:
        UsageError: The file cannot be read or is not TOML, or a key is unknown, of the
            wrong type or out of range (the message names the key, never its value).
    """
    check = _Checker(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise UsageError(
            f"cannot read the site recipe: {exc.strerror}",
            hint="give a readable TOML file",
            path=path,
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"the site recipe is not valid TOML: {exc}",
            hint="see the example in the README",
            path=path,
        ) from None
    if "salt" in data:
        raise check.fail(
            "salt",
            "is not allowed in a recipe",
            "keep the salt in a file only medocr's user can read and name it with salt_file",
        )
    check.known(data, (*OPTION_TYPES, *_TABLES), "")
    forward = _forward(check, data["forward"]) if "forward" in data else None
    rules = None
    if "rule" in data:
        if not isinstance(data["rule"], list):
            raise check.fail("rule", "must be a list of tables", "write each rule as [[rule]]")
        rules = PixelRules(tuple(_rule(check, r, i) for i, r in enumerate(data["rule"], 1)))
    return SiteConfig(path, _options(check, data), forward, rules)
