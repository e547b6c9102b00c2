"""medocr: remove burned-in text from medical images and repaint what was under it."""

__version__ = "0.1.0"
