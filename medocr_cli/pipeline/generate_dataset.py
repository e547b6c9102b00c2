"""`run_generate_dataset`: write N synthetic images with every stage's labels, in parallel.

Layout of OUT:
    images/NNNNNN.png|.dcm   the image with text
    clean/NNNNNN.png         the same image without text
    masks/NNNNNN.png         255 where text pixels are
    crops/NNNNNN_K.png       one crop per text line (the recognizer's input)
    manifest.jsonl           one JSON object per image (paths relative to OUT), with the kinds of
                             hard negatives (non-text structure) drawn on its background, the
                             label sticker or paper scrap stuck on it (kind, box, corners,
                             angle; null for most) and, per text line, its style ("plain" or a
                             hard one) and angle, and "sticker": true if it is written on one
    dataset.json             the parameters, the font split (and the font cache the fetched
                             handwriting families came from), the class, negative-kind,
                             sticker-kind and text-style counts
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medocr_cli import __version__
from medocr_cli.errors import OutputError, UsageError
from medocr_cli.io.atomic import atomic_path, write_text_atomic
from medocr_cli.synth.backgrounds import BackgroundSource
from medocr_cli.synth.compose import Sample, make_sample, split_of
from medocr_cli.synth.fonts import (
    cached_family_count,
    default_cache,
    font_cache,
    font_pools,
    set_font_cache,
)
from medocr_cli.synth.hard_text import HARD_TEXT_SHARE
from medocr_cli.synth.negatives import NEGATIVES_SHARE
from medocr_cli.synth.stickers import STICKERS_SHARE
from medocr_cli.types import Progress, notify_advance, notify_start

FORMATS = ("png", "dicom")
CROP_MARGIN = 4


@dataclass
class GenerateConfig:
    """Parameters of one dataset.

    Attributes:
        out: Output folder (created; must be empty or absent unless overwrite).
        count: Number of images.
        seed: Random seed; the same seed and parameters give identical files.
        size: Side of the square images in pixels.
        workers: Worker processes (0 = one per CPU core).
        image_format: "png" or "dicom" for the images with text.
        backgrounds: Optional folder of clean scans to draw backgrounds from.
        overwrite: Allow writing into a non-empty folder.
        negatives: Share (0-1) of images whose background gets hard negatives: structures
            that look like strokes but are not text (Doppler flow, vessels, calipers, scales,
            ECG traces, devices, collimator edges, grids), never labelled as text.
        hard_text: Share (0-1) of text layers drawn in a hard style the detector tends to
            miss: rotated 90/180/270, tilted, vertical along an edge, low-contrast, blurred.
        stickers: Share (0-1) of images with a label sticker or paper scrap stuck on the
            scan, written on for the image's class (handwriting, a printed patient label, or
            nothing); the paper is background (in the clean image), only its ink is text.
        font_cache: Font cache whose fetched handwriting families (`make fonts`) the
            handwriting is drawn with too, split like the Debian ones; None, or a cache that
            holds none of them, draws with the Debian and Hershey fonts alone (the font pools
            of the datasets made before the fetched families; the handwriting effects added
            with them still change the pixels, so older datasets are not remade byte for
            byte).
    """

    out: Path
    count: int = 4500
    seed: int = 0
    size: int = 512
    workers: int = 0
    image_format: str = "png"
    backgrounds: Path | None = None
    overwrite: bool = False
    negatives: float = NEGATIVES_SHARE
    hard_text: float = HARD_TEXT_SHARE
    stickers: float = STICKERS_SHARE
    font_cache: Path | None = None


_SOURCE: BackgroundSource | None = None
_CONFIG: GenerateConfig | None = None


def _init_worker(source: BackgroundSource, config: GenerateConfig) -> None:
    global _SOURCE, _CONFIG
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _SOURCE, _CONFIG = source, config
    set_font_cache(config.font_cache)  # the image generator's pools draw on it


def default_font_cache() -> Path:
    """The font cache generate-dataset reads: `$MEDOCR_FONT_CACHE`, else ~/.cache/medocr/fonts."""
    return default_cache()


def fetched_fonts_note(cache: Path | None) -> str | None:
    """The one line to show when a font cache holds no fetched handwriting family, else None.

    Generation then goes on with the Debian handwriting fonts alone (so a machine without the
    network still generates, and tests pass); the line says so and how to fetch them.
    """
    if cache is None or cached_family_count(cache):
        return None
    return (
        f"no fetched handwriting fonts in {cache}: generating with the Debian handwriting "
        "fonts only (run `make fonts` to fetch them; --no-fetched-fonts silences this)"
    )


def _save_png(array: np.ndarray, target: Path) -> None:
    """Write a PNG via temp file + rename (no fsync: a dataset is cheap to regenerate)."""
    with atomic_path(target, durable=False) as tmp:
        Image.fromarray(array).save(tmp, format="PNG", compress_level=1)


def _save_dicom(array: np.ndarray, target: Path, seed: int, index: int) -> None:
    """Write the image as a Secondary Capture DICOM with a deterministic UID."""
    from pydicom import Dataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["medocr-synth", str(seed), str(index)])
    ds.Modality = "OT"
    ds.PatientName = "SYNTHETIC^IMAGE"
    ds.BurnedInAnnotation = "YES"
    photometric = "RGB" if array.ndim == 3 else "MONOCHROME2"
    ds.set_pixel_data(array, photometric, 8, generate_instance_uid=False)
    with atomic_path(target, durable=False) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def _crop(image: np.ndarray, box: list[int]) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    return image[
        max(0, y0 - CROP_MARGIN) : min(h, y1 + CROP_MARGIN),
        max(0, x0 - CROP_MARGIN) : min(w, x1 + CROP_MARGIN),
    ]


def _write_sample(index: int) -> dict[str, Any]:
    assert _SOURCE is not None and _CONFIG is not None
    cfg = _CONFIG
    sample: Sample = make_sample(
        index, cfg.seed, cfg.size, _SOURCE, cfg.negatives, cfg.hard_text, cfg.stickers
    )
    stem = f"{index:06d}"
    ext = "dcm" if cfg.image_format == "dicom" else "png"
    image_rel, clean_rel, mask_rel = (
        f"images/{stem}.{ext}",
        f"clean/{stem}.png",
        f"masks/{stem}.png",
    )
    if ext == "dcm":
        _save_dicom(sample.image, cfg.out / image_rel, cfg.seed, index)
    else:
        _save_png(sample.image, cfg.out / image_rel)
    _save_png(sample.clean, cfg.out / clean_rel)
    _save_png(sample.mask, cfg.out / mask_rel)
    for k, item in enumerate(sample.items):
        crop_rel = f"crops/{stem}_{k}.png"
        _save_png(_crop(sample.image, item["box"]), cfg.out / crop_rel)
        item["crop"] = crop_rel
    return {
        "id": stem,
        "image": image_rel,
        "clean": clean_rel,
        "mask": mask_rel,
        "label": sample.label,
        "split": split_of(index),
        "items": sample.items,
        "modality": sample.modality,
        "background": sample.source,
        "negatives": sample.negatives,
        "sticker": sample.sticker,
        "size": cfg.size,
    }


def _check(config: GenerateConfig) -> None:
    if config.count < 1:
        raise UsageError("--count must be at least 1")
    if not 64 <= config.size <= 4096:
        raise UsageError("--size must be between 64 and 4096 pixels")
    if not 0.0 <= config.negatives <= 1.0:  # NaN fails this too
        raise UsageError(
            f"--negatives {config.negatives} is not a share between 0 and 1",
            hint="give a share from 0 to 1, e.g. 0.35; 0 turns hard negatives off",
        )
    if not 0.0 <= config.hard_text <= 1.0:  # NaN fails this too
        raise UsageError(
            f"--hard-text {config.hard_text} is not a share between 0 and 1",
            hint="give a share from 0 to 1, e.g. 0.25; 0 draws all text plainly",
        )
    if not 0.0 <= config.stickers <= 1.0:  # NaN fails this too
        raise UsageError(
            f"--stickers {config.stickers} is not a share between 0 and 1",
            hint="give a share from 0 to 1, e.g. 0.1; 0 turns stickers off",
        )
    if config.image_format not in FORMATS:
        raise UsageError(f"--format {config.image_format!r} is not one of png, dicom")
    cache = config.font_cache
    if cache is not None and cache.exists() and not cache.is_dir():
        raise UsageError(
            f"--font-cache {cache} is not a folder",
            hint="give the folder `make fonts` fills (default ~/.cache/medocr/fonts)",
        )
    if config.out.exists() and not config.out.is_dir():
        raise UsageError(f"{config.out} exists and is not a folder")
    if config.out.is_dir() and any(config.out.iterdir()) and not config.overwrite:
        raise UsageError(
            f"{config.out} is not empty", hint="choose a new folder or pass --overwrite"
        )


def run_generate_dataset(
    config: GenerateConfig, progress: Progress[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Generate the dataset described by `config`; return the summary written to dataset.json.

    Raises:
        UsageError: Bad parameters, a non-empty OUT without overwrite, a bad backgrounds folder.
        OutputError: OUT cannot be written.
    """
    _check(config)
    source = BackgroundSource(config.backgrounds)
    source.validate()
    try:
        for sub in ("images", "clean", "masks", "crops"):
            (config.out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create dataset folders: {exc.strerror}", path=config.out
        ) from exc
    workers = config.workers or os.cpu_count() or 1
    previous_cache = font_cache()
    try:
        set_font_cache(config.font_cache)  # forked workers inherit it; spawned ones set it
        records = _generate(config, source, workers, progress)
        pools = {split: font_pools(split) for split in ("train", "test")}  # what was drawn on
    finally:
        set_font_cache(previous_cache)
    manifest = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    write_text_atomic(config.out / "manifest.jsonl", manifest)
    summary = {
        "medocr_version": __version__,
        "count": config.count,
        "seed": config.seed,
        "size": config.size,
        "format": config.image_format,
        "backgrounds": str(config.backgrounds) if config.backgrounds else None,
        "negatives": config.negatives,
        "labels": dict(Counter(r["label"] for r in records)),
        "negative_kinds": dict(Counter(k for r in records for k in r["negatives"])),
        "images_with_negatives": sum(bool(r["negatives"]) for r in records),
        "hard_text": config.hard_text,
        "text_styles": dict(
            Counter(it.get("style", "plain") for r in records for it in r["items"])
        ),
        "stickers": config.stickers,
        "sticker_kinds": dict(Counter(r["sticker"]["kind"] for r in records if r["sticker"])),
        "images_with_stickers": sum(r["sticker"] is not None for r in records),
        "splits": {
            split: dict(Counter(r["label"] for r in records if r["split"] == split))
            for split in ("train", "val", "test")
        },
        "fonts": {
            split: {
                kind: [f.name for f in pool]
                for kind, pool in zip(("printed", "handwritten"), pools[split], strict=True)
            }
            for split in ("train", "test")
        },
        "font_cache": str(config.font_cache) if config.font_cache else None,
        "fetched_families": cached_family_count(config.font_cache) if config.font_cache else 0,
    }
    write_text_atomic(config.out / "dataset.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _generate(
    config: GenerateConfig,
    source: BackgroundSource,
    workers: int,
    progress: Progress[dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    """Make every image, in worker processes when there are several; results in index order.

    `progress` is started with the image count and advanced with each image's manifest record.
    """
    indices = range(config.count)
    results: list[dict[str, Any]] = []
    notify_start(progress, config.count)

    def consume(it: Iterator[dict[str, Any]]) -> None:
        for record in it:
            results.append(record)
            notify_advance(progress, record)

    if workers <= 1 or config.count < 8:
        _init_worker(source, config)
        consume(map(_write_sample, indices))
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(source, config)) as pool:
            consume(pool.imap(_write_sample, indices, chunksize=8))
    return results
