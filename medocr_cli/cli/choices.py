"""Typer Enums for option choices, so `--help` lists them and Typer checks them.

The choices that the pipeline and a site recipe check too (device, find, tesseract, method,
header, flagged, output syntax) live in `medocr_cli.types`, beside `OutputSyntax`; the ones
only the command line knows are here.
"""

from __future__ import annotations

from enum import StrEnum

from medocr_cli.types import (
    Device,
    FindMethod,
    FlaggedMode,
    HeaderProfile,
    InpaintMethod,
    OutputSyntax,
    TesseractMode,
)

__all__ = [
    "Device",
    "ExtractStage",
    "FindMethod",
    "FlaggedMode",
    "HeaderProfile",
    "ImageFormat",
    "InpaintMethod",
    "OnError",
    "Optimizer",
    "OutputSyntax",
    "Split",
    "TesseractMode",
    "TrainStage",
]


class OnError(StrEnum):
    """What `scrub` does after a file fails."""

    CONTINUE = "continue"
    STOP = "stop"


class ExtractStage(StrEnum):
    """Which reader `extract` runs."""

    PRINTED = "printed"
    HANDWRITTEN = "handwritten"
    AUTO = "auto"


class ImageFormat(StrEnum):
    """File format of generated images with text."""

    PNG = "png"
    DICOM = "dicom"


class TrainStage(StrEnum):
    """The model `train` fits."""

    CLASSIFIER = "classifier"
    DETECTOR = "detector"
    RECOGNIZER = "recognizer"
    INPAINTER = "inpainter"
    CONFIRM = "confirm"


class Optimizer(StrEnum):
    """Optimiser of a training run."""

    SGD = "sgd"
    ADAMW = "adamw"


class Split(StrEnum):
    """A split of a generated dataset."""

    TRAIN = "train"
    VAL = "val"
    TEST = "test"
