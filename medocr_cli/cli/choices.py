"""Typer Enums for option choices, so `--help` lists them and Typer checks them."""

from __future__ import annotations

from enum import StrEnum


class FlaggedMode(StrEnum):
    """Where `scrub` puts an output whose verification still found text."""

    QUARANTINE = "quarantine"
    KEEP = "keep"


class OnError(StrEnum):
    """What `scrub` does after a file fails."""

    CONTINUE = "continue"
    STOP = "stop"


class FindMethod(StrEnum):
    """How `scrub` finds text: the learned detector, or whole-frame Tesseract (classical)."""

    LEARNED = "learned"
    TESSERACT = "tesseract"


class TesseractMode(StrEnum):
    """Tesseract's part in `--find learned`."""

    REGIONS = "regions"
    FULL = "full"
    OFF = "off"


class InpaintMethod(StrEnum):
    """How removed text is filled: the learned inpainter, OpenCV's Telea or Navier-Stokes."""

    AUTO = "auto"
    LEARNED = "learned"
    TELEA = "telea"
    NS = "ns"


class HeaderProfile(StrEnum):
    """What happens to a DICOM header: only the pixel-cleaning marks, or Annex E Basic."""

    KEEP = "keep"
    BASIC = "basic"


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


class Device(StrEnum):
    """Where models run: a GPU when there is one (auto), the CPU, or CUDA (an error without)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class Split(StrEnum):
    """A split of a generated dataset."""

    TRAIN = "train"
    VAL = "val"
    TEST = "test"
