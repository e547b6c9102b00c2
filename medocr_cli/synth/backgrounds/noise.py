"""Fixed-seed noise and speckle textures that procedural backgrounds take random windows of.

Drawing fresh noise for every sample is the slowest part of a procedural image; a few textures
drawn once per process from a fixed seed (never from the caller's rng) and read through a random
window look the same and cost almost nothing per sample.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

#: Side of the fixed-seed noise and speckle textures; larger outputs tile them.
_BANK_SIDE = 1024
_BANK_SEED = 0x6D65646F  # fixed: the textures never depend on the caller's rng


@dataclass(frozen=True)
class NoiseBanks:
    """Fixed-seed textures; each sample reads a random window instead of drawing fresh noise.

    Attributes:
        white: Standard normal noise (float32), for MR Rician noise.
        grain: Spatially correlated normal noise with unit std (float32): CT/X-ray texture.
        speckle: Laterally elongated Rayleigh speckle with mean 1 (float32): ultrasound.
        additive: White normal noise times 16 (int16), for the cheap augmentation noise.
    """

    white: np.ndarray
    grain: np.ndarray
    speckle: np.ndarray
    additive: np.ndarray

    @classmethod
    def build(cls) -> NoiseBanks:
        """Draw the textures from a fixed seed (tens of milliseconds, once per process)."""
        rng = np.random.default_rng(_BANK_SEED)
        side = _BANK_SIDE
        white = rng.standard_normal((side, side), dtype=np.float32)
        grain = cv2.GaussianBlur(white, (0, 0), 0.9)
        grain /= grain.std()
        pair = rng.standard_normal((2, side, side), dtype=np.float32)
        pair = [cv2.GaussianBlur(p, (0, 0), sigmaX=1.6, sigmaY=0.7) for p in pair]
        speckle = np.sqrt(pair[0] ** 2 + pair[1] ** 2)
        speckle /= speckle.mean()
        additive = np.clip(rng.standard_normal((side, side)) * 16, -127, 127).astype(np.int16)
        return cls(white, grain, speckle.astype(np.float32), additive)


@functools.cache
def shared_noise_banks() -> NoiseBanks:
    """The noise textures of this process, built on first use."""
    return NoiseBanks.build()


def texture_window(bank: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random `size` x `size` window of a texture (wrapping around when `size` exceeds it)."""
    side = bank.shape[0]
    if size > side:
        x, y = rng.integers(0, side, size=2)
        rows = bank.take(np.arange(y, y + size), axis=0, mode="wrap")
        return rows.take(np.arange(x, x + size), axis=1, mode="wrap")
    x, y = rng.integers(0, side - size + 1, size=2)
    return bank[y : y + size, x : x + size]
