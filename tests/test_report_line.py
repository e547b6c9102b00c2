"""The scrub report line (`FileResult.to_json`): keys, their order and when each is left out."""

import json

from conftest import gradient, make_png

from medocr_cli.io.walk import InputFile
from medocr_cli.pipeline.scrub.run import resumed_result
from medocr_cli.types import ABSENT, FileResult, Status

#: Every key a report line can hold, in the order lines have always written them.
ALL_KEYS = [
    "path",
    "status",
    "output",
    "frames",
    "boxes",
    "seconds",
    "error",
    "input_size",
    "input_mtime_ns",
    "site_rule",
    "frames_reused",
    "kept_non_text",
    "label",
    "fallback_frames",
    "regions",
    "texts",
    "stage_seconds",
    "verified",
    "repaired",
    "residual",
    "residual_regions",
    "quarantined",
    "kept",
    "forward",
    "forward_to",
    "resumed",
]


def _full() -> FileResult:
    return FileResult(
        path="in/a.dcm",
        status=Status.FLAGGED,
        output=None,
        frames=3,
        boxes=4,
        seconds=1.23456,
        error="1 text region(s) still found after cleaning",
        input_size=1234,
        input_mtime_ns=1_700_000_000_123_456_789,
        site_rule="Acme Sono 5",
        frames_reused=1,
        kept_non_text=2,
        label="PH",
        fallback_frames=0,
        regions=[[0, 1, 2, 3, 4], [2, 5, 6, 7, 8]],
        texts=[{"frame": 0, "box": [1, 2, 3, 4], "text": "DOE^JANE"}],
        stage_seconds={"read": 0.1, "find": 0.5, "mask": 0.01, "write": 0.2, "verify": 0.3},
        verified=True,
        repaired=1,
        residual=1,
        residual_regions=[[2, 5, 6, 7, 8]],
        quarantined="out/_quarantine/a.dcm",
        kept="spool/failed/a.dcm",
        forward="queued",
        forward_to="PACS@host:104",
        resumed=True,
    )


def test_a_full_line_holds_every_key_in_order():
    line = _full().to_json()
    assert list(line) == ALL_KEYS
    assert line == {
        "path": "in/a.dcm",
        "status": "flagged",
        "output": None,
        "frames": 3,
        "boxes": 4,
        "seconds": 1.235,
        "error": "1 text region(s) still found after cleaning",
        "input_size": 1234,
        "input_mtime_ns": 1_700_000_000_123_456_789,
        "site_rule": "Acme Sono 5",
        "frames_reused": 1,
        "kept_non_text": 2,
        "label": "PH",
        "fallback_frames": 0,
        "regions": [[0, 1, 2, 3, 4], [2, 5, 6, 7, 8]],
        "texts": [{"frame": 0, "box": [1, 2, 3, 4], "text": "DOE^JANE"}],
        "stage_seconds": {"read": 0.1, "find": 0.5, "mask": 0.01, "write": 0.2, "verify": 0.3},
        "verified": True,
        "repaired": 1,
        "residual": 1,
        "residual_regions": [[2, 5, 6, 7, 8]],
        "quarantined": "out/_quarantine/a.dcm",
        "kept": "spool/failed/a.dcm",
        "forward": "queued",
        "forward_to": "PACS@host:104",
        "resumed": True,
    }
    # the stage seconds keep the order they were recorded in
    assert list(line["stage_seconds"]) == ["read", "find", "mask", "write", "verify"]


def test_a_minimal_line_holds_the_seven_fixed_keys_nulls_included():
    line = FileResult(path="notes.txt", status=Status.SKIPPED, error="not an image").to_json()
    assert list(line) == ALL_KEYS[:7]
    assert line == {
        "path": "notes.txt",
        "status": "skipped",
        "output": None,
        "frames": 0,
        "boxes": 0,
        "seconds": 0.0,
        "error": "not an image",
    }


def test_zeros_false_and_nulls_that_were_recorded_stay_in_the_line():
    r = FileResult(
        path="a.png",
        status=Status.OK,
        output="out/a.png",
        frames=1,
        seconds=0.0004,
        input_size=10,
        input_mtime_ns=20,
        site_rule=None,  # a site config was in use, no rule matched
        frames_reused=0,
        kept_non_text=0,
        label=None,  # no classifier ran
        fallback_frames=0,
        regions=[],
        stage_seconds={},
        verified=False,
    )
    line = r.to_json()
    assert list(line) == [
        *ALL_KEYS[:12],
        "label",
        "fallback_frames",
        "regions",
        "stage_seconds",
        "verified",
    ]
    assert line["seconds"] == 0.0 and line["site_rule"] is None and line["label"] is None
    assert line["frames_reused"] == 0 and line["regions"] == [] and line["verified"] is False
    # left out while not recorded: texts (no report_text), verify's findings, resumed
    unset = FileResult(path="a.png", status=Status.OK)
    assert unset.label is ABSENT and unset.site_rule is ABSENT and unset.resumed is False
    assert "label" not in unset.to_json() and "site_rule" not in unset.to_json()


def test_the_line_is_a_copy():
    r = _full()
    line = r.to_json()
    line["regions"].append([9, 9, 9, 9, 9])
    line["stage_seconds"]["x"] = 1.0
    assert len(r.regions) == 2 and "x" not in r.stage_seconds


def test_resume_reads_a_line_written_before_the_typed_fields(tmp_path):
    """A journal line of the `extra`-dict days (keys in its order) maps back into the fields."""
    src = make_png(tmp_path / "in" / "a.png", gradient(16, 16))
    target = make_png(tmp_path / "out" / "a.png", gradient(16, 16))
    st = src.stat()
    previous = json.loads(
        json.dumps(
            {
                "path": str(src),
                "status": "ok",
                "output": str(target),
                "frames": 2,
                "boxes": 3,
                "seconds": 0.5,
                "error": None,
                "input_size": st.st_size,
                "input_mtime_ns": st.st_mtime_ns,
                "frames_reused": 1,
                "kept_non_text": 0,
                "label": "P",
                "fallback_frames": 0,
                "regions": [[0, 1, 1, 5, 5]],
                "stage_seconds": {"read": 0.1},
                "verified": True,
                "resolved": str(src),
                "placed": [str(target)],
            }
        )
    )
    item = InputFile(path=src, rel=src.relative_to(tmp_path / "in"), candidate=True)
    result = resumed_result(item, target, previous)
    assert result is not None and result.resumed
    assert result.to_json() == {
        "path": str(src),
        "status": "ok",
        "output": str(target),
        "frames": 2,
        "boxes": 3,
        "seconds": 0.0,
        "error": None,
        "input_size": st.st_size,
        "input_mtime_ns": st.st_mtime_ns,
        "frames_reused": 1,
        "verified": True,
        "resumed": True,
    }
    assert list(result.to_json()) == [*ALL_KEYS[:9], "frames_reused", "verified", "resumed"]
    # another size or mtime: cleaned again
    assert resumed_result(item, target, {**previous, "input_size": st.st_size + 1}) is None
    # a line without frames_reused / verified: those stay out of the new line too
    bare = {k: v for k, v in previous.items() if k not in ("frames_reused", "verified")}
    again = resumed_result(item, target, bare)
    assert again is not None and list(again.to_json()) == [*ALL_KEYS[:9], "resumed"]
