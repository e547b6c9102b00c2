"""The one place that loads any stage's weights.

Each learned stage has a slot in the weights folder: a file name (`CLASSIFIER_FILE`, ...), a
typed spec (`models/<family>/spec.py`, checked by `models.spec.parse_spec`) and the architectures
it may hold. Loading a slot

1. finds the file (`locate`: `--weights DIR`, MEDOCR_WEIGHTS, the shipped folder; a path to a
   `.pt` file is used as it is), and says which file is missing and how to make it when it is
   not there (`NotBuiltError`, exit 2);
2. reads it with `weights_only=True` and checks that it holds the slot's family (a detector
   saved as `classifier.pt` is refused by name, not with a KeyError deep in a predictor), that
   its spec is valid and that its weights fit the spec (`WeightsError`, exit 2);
3. builds the network on the device in the form the predictors run it (eval mode, channels-last
   where the family wants it), and keeps it for the rest of the process: a second load of the
   same file (same resolved path, modification time and size) on the same device returns the
   same `Loaded`. Callers must not change the model; `Loaded.raw_spec()` gives a dict of
   their own.

Only the file names and specs are read at import, so `medocr --help` stays free of torch.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from medocr_cli.config import weights_dir
from medocr_cli.errors import InputFileError, NotBuiltError, UsageError, WeightsError
from medocr_cli.models.classifier.spec import ClassifierSpec
from medocr_cli.models.confirm.spec import ConfirmSpec
from medocr_cli.models.detector.spec import DetectorSpec
from medocr_cli.models.inpainter.spec import InpainterSpec
from medocr_cli.models.recognizer.spec import RecognizerSpec
from medocr_cli.models.spec import Spec, SpecError, parse_spec, quote

if TYPE_CHECKING:
    from torch import nn

CLASSIFIER_FILE = "classifier.pt"
DETECTOR_FILE = "detector.pt"
RECOGNIZER_FILE = "recognizer.pt"
INPAINTER_FILE = "inpainter.pt"
CONFIRM_FILE = "confirm.pt"

#: Loaded models kept per process (least recently used dropped first); a scrub needs five.
CACHE_SIZE = 8


@dataclass(frozen=True)
class Slot:
    """One learned stage's place in the weights folder.

    Attributes:
        family: The stage's name, as in `medocr train FAMILY`.
        file: Its file name in a weights folder.
        spec_type: The typed spec its checkpoints must hold.
        channels_last: Whether its predictor runs the network in channels-last memory format.
    """

    family: str
    file: str
    spec_type: type[Spec]
    channels_last: bool

    @property
    def arch(self) -> str:
        """The architecture new checkpoints of the family get."""
        return self.spec_type.ARCHS[0]


SLOTS: dict[str, Slot] = {
    s.family: s
    for s in (
        Slot("classifier", CLASSIFIER_FILE, ClassifierSpec, channels_last=True),
        Slot("detector", DETECTOR_FILE, DetectorSpec, channels_last=True),
        Slot("recognizer", RECOGNIZER_FILE, RecognizerSpec, channels_last=False),
        Slot("inpainter", INPAINTER_FILE, InpainterSpec, channels_last=True),
        Slot("confirm", CONFIRM_FILE, ConfirmSpec, channels_last=False),
    )
}


@dataclass(frozen=True, eq=False)
class Loaded:
    """A checkpoint loaded for inference: its validated spec and its network on a device.

    Attributes:
        family: The slot it was loaded for.
        path: The file it came from.
        spec: The typed, validated spec.
        spec_dict: The checkpoint's spec dict, read-only (use `raw_spec` for a copy to keep).
        metrics: The metrics stored with the weights.
        trained_with: How the weights were made.
        model: The network, in eval mode on `device`; shared, so never to be changed.
        device: The torch device string it lives on.
    """

    family: str
    path: Path
    spec: Any
    spec_dict: Mapping[str, Any]
    metrics: Mapping[str, Any]
    trained_with: Mapping[str, Any]
    model: nn.Module
    device: str

    def raw_spec(self) -> dict[str, Any]:
        """A deep copy of the checkpoint's spec dict, the caller's to keep or change."""
        return copy.deepcopy(dict(self.spec_dict))


def slot_of(family: str) -> Slot:
    """Return the slot of `family`.

    Raises:
        UsageError: No learned stage has that name.
    """
    if family not in SLOTS:
        raise UsageError(f"unknown model {family!r}", hint=f"use one of {', '.join(SLOTS)}")
    return SLOTS[family]


def locate(family: str, weights: Path | None = None) -> Path:
    """Return the file `family` is loaded from.

    That is `weights` itself when it is a `.pt` file, else the slot's file name in the weights
    folder (`weights`, MEDOCR_WEIGHTS or the shipped one).
    """
    folder = weights_dir(weights)
    return folder if folder.suffix == ".pt" else folder / slot_of(family).file


def missing_weights(
    family: str, path: Path, *, needed_by: str | None = None, instead: str | None = None
) -> NotBuiltError:
    """The one error for weights that are not there (exit 2), naming the file and how to get it.

    Args:
        family: The slot whose file is missing.
        path: Where it was looked for.
        needed_by: What needs it ("--stage handwritten", "the learned finder"); default "this
            command".
        instead: A way to do without it, added to the hint ("use --find tesseract").
    """
    path = Path(path)
    hint = (
        f"train it with `medocr train {family} DATA`, or point --weights (or MEDOCR_WEIGHTS) at "
        "a folder that holds it"
    )
    if instead:
        hint += f", or {instead}"
    return NotBuiltError(
        f"{needed_by or 'this command'} needs {path.name}, which is not in {path.parent}",
        hint=hint,
    )


def require(
    family: str,
    weights: Path | None = None,
    *,
    needed_by: str | None = None,
    instead: str | None = None,
) -> Path:
    """Return `locate(family, weights)`, or raise `missing_weights` when it is not a file."""
    path = locate(family, weights)
    if not path.is_file():
        raise missing_weights(family, path, needed_by=needed_by, instead=instead)
    return path


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def check_checkpoint(family: str, checkpoint: Any, source: Path | str) -> Spec:
    """Check that a checkpoint dict holds a network of `family` and return its typed spec.

    Raises:
        WeightsError: Not a medocr checkpoint, a checkpoint of another family or of an unknown
            architecture, or a spec with a missing or bad value (quoted in the message).
    """
    slot = slot_of(family)
    if not isinstance(checkpoint, dict) or not {"spec", "state_dict"} <= set(checkpoint):
        raise WeightsError(
            "not a medocr checkpoint (no spec/state_dict)",
            hint=f"point --weights at a folder whose {slot.file} was written by `medocr train`",
            path=source,
        )
    raw = checkpoint["spec"]
    arch = raw.get("arch") if isinstance(raw, Mapping) else None
    if arch not in slot.spec_type.ARCHS:
        owner = next((s for s in SLOTS.values() if arch in s.spec_type.ARCHS), None)
        held = (
            f"{_article(owner.family)} checkpoint (arch {quote(arch)})"
            if owner is not None
            else f"a checkpoint of an unknown architecture {quote(arch)}"
        )
        raise WeightsError(
            f"holds {held}, not the {family}",
            hint=f"{slot.file} must hold weights written by `medocr train {family}`; check which "
            "file went where, or point --weights at the folder that holds the right one",
            path=source,
        )
    try:
        return parse_spec(slot.spec_type, raw)
    except SpecError as exc:
        raise WeightsError(
            f"its {family} spec is invalid: {exc}",
            hint="the file is damaged or written by another version; retrain it or use "
            "matching weights",
            path=source,
        ) from exc


def read(
    family: str, path: Path, *, needed_by: str | None = None, instead: str | None = None
) -> dict[str, Any]:
    """Read a checkpoint file of `family` and check it (`check_checkpoint`); nothing is built.

    For callers that work on the checkpoint dict itself (averaging, refitting, reading a spec).

    Raises:
        NotBuiltError: The file is missing.
        WeightsError: It is unreadable, another family's, or its spec is invalid.
    """
    from medocr_cli.io.checkpoints import load_checkpoint

    path = Path(path)
    if not path.is_file():
        raise missing_weights(family, path, needed_by=needed_by, instead=instead)
    try:
        checkpoint = load_checkpoint(path)
    except InputFileError as exc:
        raise WeightsError(
            exc.message,
            hint=f"it is damaged or not a medocr checkpoint; replace it with weights written by "
            f"`medocr train {family}`",
            path=path,
        ) from exc
    check_checkpoint(family, checkpoint, path)
    return checkpoint


def measure_best(
    family: str, path: Path, device: str, measure: Callable[[Loaded], dict[str, Any]]
) -> dict[str, Any]:
    """Measure a training run's best checkpoint and store the report in it as its "test" metrics.

    `measure` gets the checkpoint built on `device` (`from_checkpoint`, not cached) and returns
    the held-out report; the checkpoint file is written back with it, read once and written once.
    """
    from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint

    best = load_checkpoint(path)
    report = measure(from_checkpoint(family, best, device, source=path))
    best["metrics"]["test"] = report
    save_checkpoint(path, best)
    return report


def from_checkpoint(
    family: str,
    checkpoint: dict[str, Any],
    device: str = "cpu",
    *,
    source: Path | str = "checkpoint",
) -> Loaded:
    """Check and build a checkpoint dict already in memory (not cached: e.g. one just trained).

    Raises:
        WeightsError: Another family's checkpoint, an invalid spec, or weights that do not fit
            the spec.
    """
    import torch

    from medocr_cli.models.checkpoint import unpack

    slot = slot_of(family)
    spec = check_checkpoint(family, checkpoint, source)
    try:
        model = unpack(checkpoint, source=str(source))
    except InputFileError as exc:
        raise WeightsError(exc.message, hint=exc.hint, path=source) from exc
    target = torch.device(device)
    model = model.to(target)
    if slot.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Loaded(
        family=family,
        path=Path(source),
        spec=spec,
        spec_dict=MappingProxyType(copy.deepcopy(dict(checkpoint["spec"]))),
        metrics=MappingProxyType(dict(checkpoint.get("metrics", {}))),
        trained_with=MappingProxyType(dict(checkpoint.get("trained_with", {}))),
        model=model.eval(),
        device=str(target),
    )


_CACHE: OrderedDict[tuple[str, int, int, str], Loaded] = OrderedDict()
_LOCK = threading.Lock()


def load(
    family: str,
    path: Path,
    device: str = "cpu",
    *,
    needed_by: str | None = None,
    instead: str | None = None,
) -> Loaded:
    """Load the checkpoint file `path` as `family` onto `device`, once per process.

    The cache is keyed by the resolved path, its modification time and size, and the device:
    a rewritten file is loaded again.

    Raises:
        NotBuiltError: The file is missing (`missing_weights`).
        WeightsError: It is unreadable, another family's, has an invalid spec, or its weights
            do not fit the spec.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise missing_weights(family, path, needed_by=needed_by, instead=instead)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(torch.device(device)))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            if _CACHE[key].family == family:
                return _CACHE[key]
        loaded = from_checkpoint(family, read(family, path), device, source=path)
        _CACHE[key] = loaded
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
        return loaded
