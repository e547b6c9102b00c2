"""Silencing pydicom while it reads or writes: its warnings and log records quote header values.

A damaged or hostile header can hold patient data in any element, and pydicom names the bad
value when it complains; `quiet` drops those messages for the duration of a read or a write.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def quiet() -> Iterator[None]:
    """Silence pydicom's warnings and log records: they quote invalid header values."""
    logger, drop = logging.getLogger("pydicom"), _Drop()
    logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.removeFilter(drop)
