"""A scrub run's settings: `ScrubConfig`, the checks of its options, and its header step.

`check_options` refuses option combinations that cannot work or would be unsafe before anything
is written; `header_step` builds the run's DICOM header de-identification (one per run, so UIDs
map consistently); `quarantine_path` says where a flagged output goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from medocr_cli.errors import UsageError
from medocr_cli.io.walk import real_path
from medocr_cli.pipeline.find_text import FINDERS, TESSERACT_MODES
from medocr_cli.pipeline.inpaint import AUTO
from medocr_cli.pipeline.scrub.journal import QUARANTINE_DIR
from medocr_cli.stages.inpaint import ALL_METHODS
from medocr_cli.stages.printed import PrintedConfig
from medocr_cli.types import FlaggedMode, HeaderProfile

if TYPE_CHECKING:
    from medocr_cli.io.deid_header import HeaderDeidentifier
    from medocr_cli.io.file_list import FileList
    from medocr_cli.site_config import PixelRules

HEADER_MODES = tuple(h.value for h in HeaderProfile)

#: What happens to a flagged output: moved to `OUT/_quarantine` (default) or kept in the tree.
FLAGGED_MODES = tuple(f.value for f in FlaggedMode)


@dataclass
class ScrubConfig:
    """Everything `run_scrub` needs.

    Attributes:
        inputs: Files or folders to clean (folders are walked recursively).
        output: Output folder; the input tree is mirrored below it.
        overwrite: Replace outputs that already exist.
        stop_on_error: Stop at the first failed file instead of going on.
        method: Inpainting method: "auto" (learned when `inpainter.pt` is in the weights
            folder, else Telea), "learned", "telea" or "ns".
        printed: Settings of the whole-frame Tesseract pass.
        header: DICOM header handling: "keep" (only the pixel-cleaning marks are written) or
            "basic" (PS3.15 Annex E Basic Profile, see `io.deid_header`).
        salt: Keys the UID remapping of "basic"; None draws a random salt per run, so UIDs then
            differ between runs. Never written anywhere.
        resume: Skip inputs whose output exists and whose line in the previous report (also
            the `.partial` report an interrupted run left) says ok for the same path, size and
            modification time; everything else is processed again.
        verify: Read each output back and search every frame again in full
            (`scrub/verify.py`); text found is removed once more (the safety net) and
            text a second search still finds flags the file. Without it, DICOM outputs are
            not marked BurnedInAnnotation NO.
        flagged: "quarantine" (default) moves flagged outputs to `OUT/_quarantine/<relative
            path>`, out of the output tree; "keep" leaves them in the tree, still reported
            flagged.
        find: "learned" (detector + classifier + Tesseract around lines, see
            `pipeline/find_text.py`) or "tesseract" (whole-frame Tesseract, the classical path).
        tesseract: The learned finder's use of Tesseract: "regions", "full" or "off".
        confirm: The learned finder confirms each detected region before it is removed
            (`LearnedFinder.confirm_boxes`); False removes every detected region.
        weights: Weights folder (None: MEDOCR_WEIGHTS or the shipped one).
        device: Torch device of the models.
        batch_size: Frames per model pass.
        report_text: Write the text read in each file into its report line (sensitive: off
            by default; only what Tesseract read is there, the detector does not read).
        html: Write `OUT/medocr-report.html` for review after the run. Its "before"
            thumbnails (under `OUT/_report/`) show the original text, so it is off by default
            and that folder must be deleted before the output is shared.
        workers: Processes cleaning files side by side (each with its share of the cores);
            1 cleans them in this process.
        follow_links: Follow symbolic links that lead outside their input folder (by
            default such links are reported skipped).
        output_syntax: How DICOM outputs store their pixels, always losslessly (an
            `OutputSyntax` value, see `io/dicom_encode.py`): "keep" (the input's syntax when
            lossless and writable, else the smallest lossless codec), "explicit"
            (uncompressed), "rle", "jpeg-ls" or "jpeg2000".
        cluster: Clean files on a Dask cluster (`scrub/cluster.py`): "local:N" or
            "tcp://HOST:PORT"; None cleans them here (or in `workers` processes).
        files: Read the input files from this list (`io/file_list.py`) instead of walking
            `inputs`, which are then the folders the list's files lie in (set by `run_scrub`).
        regions: A site recipe's per-scanner rules (`site_config.PixelRules`): rectangles
            always cleared or never touched on the DICOM images a rule matches.
    """

    inputs: list[Path]
    output: Path
    overwrite: bool = False
    stop_on_error: bool = False
    method: str = AUTO
    printed: PrintedConfig = field(default_factory=PrintedConfig)
    header: str = "keep"
    salt: str | None = None
    resume: bool = False
    verify: bool = True
    flagged: str = "quarantine"
    find: str = "learned"
    tesseract: str = "off"
    confirm: bool = True
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 8
    report_text: bool = False
    html: bool = False
    workers: int = 1
    follow_links: bool = False
    output_syntax: str = "keep"
    cluster: str | None = None
    files: FileList | None = None
    regions: PixelRules | None = None


def header_step(config: ScrubConfig) -> HeaderDeidentifier | None:
    """The header de-identification step of a run (one per run, so UIDs map consistently).

    Raises:
        UsageError: An unknown header mode, an empty salt, or a salt without `basic`.
    """
    if config.header not in HEADER_MODES:
        raise UsageError(f"unknown header mode {config.header!r}", hint="use keep or basic")
    if config.header == "keep":
        if config.salt is not None:
            raise UsageError("a salt only applies with --header basic")
        return None
    if config.salt is not None and not config.salt:
        raise UsageError("the salt must not be empty", hint="omit --salt for a random one")
    from medocr_cli.io.deid_header import HeaderDeidentifier, new_salt

    return HeaderDeidentifier(config.salt if config.salt is not None else new_salt())


def quarantine_path(output: Path, rel: Path) -> Path:
    """Where a flagged output of the input at `rel` is quarantined."""
    return output / QUARANTINE_DIR / rel


def check_options(config: ScrubConfig) -> None:
    """Refuse option combinations that cannot work or would be unsafe."""
    if config.method not in (AUTO, *ALL_METHODS):
        raise UsageError(
            f"unknown inpainting method {config.method!r}", hint="use auto, learned, telea or ns"
        )
    if config.find not in FINDERS:
        raise UsageError(f"unknown finder {config.find!r}", hint=f"use {' or '.join(FINDERS)}")
    if config.tesseract not in TESSERACT_MODES:
        raise UsageError(
            f"unknown Tesseract mode {config.tesseract!r}",
            hint=f"use {', '.join(TESSERACT_MODES)}",
        )
    if config.batch_size < 1:
        raise UsageError("the batch size must be at least 1")
    if config.workers < 1:
        raise UsageError("--workers must be at least 1")
    if config.cluster is not None:
        if config.workers > 1:
            raise UsageError(
                "--cluster and --workers both spread the files", hint="give only one of them"
            )
        from medocr_cli.pipeline.scrub.cluster_address import check_cluster

        check_cluster(config.cluster)
    if config.flagged not in FLAGGED_MODES:
        raise UsageError(
            f"unknown --flagged mode {config.flagged!r}", hint="use quarantine or keep"
        )
    if config.resume and config.header == "basic" and config.salt is None:
        raise UsageError(
            "--resume with --header basic needs the run's --salt",
            hint="pass the same --salt as the first run so UIDs stay consistent",
        )
    quarantine = real_path(config.output / QUARANTINE_DIR)  # Path.resolve raises on a loop
    for root in config.inputs:
        r = real_path(root)
        if r == quarantine or quarantine in r.parents:
            raise UsageError(
                f"input {root} lies in the quarantine folder of {config.output}",
                hint="copy quarantined files elsewhere before scrubbing them again",
            )
