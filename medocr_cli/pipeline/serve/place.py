"""Where a cleaned instance is filed: OUT/<Study UID>/<Series UID>/<SOP Instance UID>.dcm.

The UIDs are read from the *output* (after `--header basic` remapped them), so a path never
holds an original UID, and never a name or an ID. A UID that is missing or is not a well-formed
UID (digits and dots, at most 64 characters: nothing that could climb out of OUT) is replaced by
`unknown-study`, `unknown-series` or the instance's spool name.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from pathlib import Path

from medocr_cli.errors import OutputError
from medocr_cli.pipeline.scrub.journal import QUARANTINE_DIR
from medocr_cli.pipeline.serve.spool import fsync_dir

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def _uid(value: object) -> str | None:
    text = str(value).strip().rstrip("\0") if value is not None else ""
    return text if len(text) <= 64 and _UID.match(text) else None


def filed_relpath(path: Path, fallback: str) -> Path:
    """`<study>/<series>/<instance>.dcm` of the DICOM file at `path` (its own UIDs)."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(_KEYWORDS))
        values = [ds.get(k) for k in _KEYWORDS]
    except Exception:  # an unreadable header files under the fallbacks; the content was verified
        values = [None, None, None]
    study, series, sop = (_uid(v) for v in values)
    return Path(study or "unknown-study") / (series or "unknown-series") / f"{sop or fallback}.dcm"


def move_into(source: Path, target: Path) -> None:
    """Move `source` onto `target` atomically (an earlier copy of the instance is replaced).

    Raises:
        OutputError: The folder cannot be made or the rename fails (disk full, permissions).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        fsync_dir(target.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot move the output into place: {exc.strerror}",
            hint="free some disk space" if exc.errno == errno.ENOSPC else "check the output folder",
            path=target,
        ) from exc


def file_instance(work: Path, output: Path, fallback: str, *, quarantine: bool) -> Path:
    """Move a cleaned (or, with `quarantine`, flagged) output into OUT; return its new path."""
    root = output / QUARANTINE_DIR if quarantine else output
    target = root / filed_relpath(work, fallback)
    move_into(work, target)
    return target
