"""The recognizer's vocabulary: the characters synthetic text is written with, one class each.

The dataset generator (`medocr_cli.synth`) draws printed lines from `PRINTED_CHARSET` and notes
from `NOTE_CHARSET`; the recognizer has one output class per character of their union. They are
defined here, with the network that depends on them, and the generator imports them. Free of
numpy and torch (fonts are checked against these sets).
"""

from __future__ import annotations

import string

#: Every character `phi_line` and `label_line` can produce.
PRINTED_CHARSET: str = string.ascii_letters + string.digits + " .,:;/-^()#'+%*=|"
#: Every character `note_text` can produce (no ^ ( ) # + *: several handwriting fonts lack them).
NOTE_CHARSET: str = string.ascii_letters + string.digits + " .,:;/-'?!%"


def default_vocab() -> str:
    """Return every character the dataset generator writes, sorted (index i + 1 in the output).

    Built from the printed and note character sets, so each character a generated
    label can hold has a class.
    """
    return "".join(sorted(set(PRINTED_CHARSET) | set(NOTE_CHARSET)))
