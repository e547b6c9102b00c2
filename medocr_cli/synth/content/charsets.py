"""The character sets of the synthetic text: what printed lines and handwritten notes may use.

They are the recognizer's vocabulary, so they are defined with it
(`medocr_cli.models.recognizer.vocab`, free of numpy and torch) and read from there; fonts are
checked against them.
"""

from __future__ import annotations

from medocr_cli.models.recognizer.vocab import NOTE_CHARSET, PRINTED_CHARSET

__all__ = ["NOTE_CHARSET", "PRINTED_CHARSET"]
