"""Nuclear medicine: no procedural drawing, but real NM crops are sometimes shown in colour.

Viewers often display scintigraphy through a hot or bone colour map; a share of the grey NM
backgrounds gets one, so the models also meet such colour images.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Probability that a real nuclear-medicine image is shown through a colour map.
NM_COLOUR_PROB = 0.3


def colour_map(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Show a nuclear-medicine image through a hot or bone colour map, as viewers often do."""
    cmap = cv2.COLORMAP_HOT if rng.random() < 0.6 else cv2.COLORMAP_BONE
    return cv2.cvtColor(cv2.applyColorMap(grey, cmap), cv2.COLOR_BGR2RGB)
