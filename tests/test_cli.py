import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _phi_images import write_ct, write_png
from typer.testing import CliRunner

from medocr_cli import __version__
from medocr_cli.cli.app import app
from medocr_cli.io import read_scan

runner = CliRunner()
COMMANDS = [
    "generate-dataset",
    "train",
    "classify",
    "extract",
    "merge",
    "inpaint",
    "scrub",
    "serve",
    "release",
]
BIN = Path(sys.executable).parent / "medocr"


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in result.output


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help(cmd):
    result = runner.invoke(app, [cmd, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output and len(result.output) > 200


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["train", "classifier", "no-such-dataset"],
        ["train", "nonsense", "x"],
        ["classify", "no-such-file.png"],
        ["merge", "no-such-file.json"],
        ["extract", "--stage", "handwritten", "no-such-file.png"],
    ],
)
def test_usage_errors_exit_2_with_one_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_bad_global_device():
    result = runner.invoke(app, ["--device", "tpu", "scrub", "a", "b"])
    assert result.exit_code == 2


def test_cli_start_imports_no_torch_or_cv2():
    code = (
        "import sys, medocr_cli.cli.app; "
        "print(*(m in sys.modules for m in ('torch', 'cv2', 'numpy')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False", "False"]


def test_scrub_json_and_exit_codes(tmp_path):
    lines = write_png(tmp_path / "in" / "a.png")
    result = runner.invoke(app, ["scrub", str(tmp_path / "in"), str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["status"] == "ok" and rows[0]["boxes"] >= 1
    for x0, y0, x1, y1 in lines:  # every PHI line lies inside the removed regions
        assert any(
            r[1] <= x0 + 1 and r[2] <= y0 + 1 and r[3] >= x1 - 1 and r[4] >= y1 - 1
            for r in rows[0]["regions"]
        ), (x0, y0, x1, y1, rows[0]["regions"])
    again = runner.invoke(app, ["--quiet", "scrub", str(tmp_path / "in"), str(tmp_path / "out")])
    assert again.exit_code == 2  # a clash: outputs exist, neither --resume nor --overwrite given
    missing = runner.invoke(app, ["scrub", str(tmp_path / "nope"), str(tmp_path / "out2")])
    assert missing.exit_code == 2 and "nope" in missing.output


def test_extract_json_shape(tmp_path):
    write_png(tmp_path / "a.png")
    result = runner.invoke(app, ["extract", str(tmp_path / "a.png"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data[0]["path"].endswith("a.png") and data[0]["label"] == "P"
    box = data[0]["boxes"][0]
    assert set(box) == {"frame", "box", "text", "kind", "score", "source"} and len(box["box"]) == 4


def test_extract_table_hides_text(tmp_path):
    write_png(tmp_path / "a.png")
    result = runner.invoke(app, ["extract", str(tmp_path / "a.png")])
    assert result.exit_code == 0
    assert "4821937" not in result.output


def test_inpaint_boxes_keeps_ct_dtype_and_outside_pixels(tmp_path):
    boxes = write_ct(tmp_path / "ct.dcm")
    x0, y0, x1, y1 = boxes[1]
    spec = [{"path": "ct.dcm", "boxes": [{"frame": 0, "box": [x0, y0, x1, y1]}]}]
    (tmp_path / "b.json").write_text(json.dumps(spec))
    out = tmp_path / "clean.dcm"
    result = runner.invoke(
        app,
        ["inpaint", str(tmp_path / "ct.dcm"), "--boxes", str(tmp_path / "b.json"), "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    a, b = read_scan(tmp_path / "ct.dcm").frames[0], read_scan(out).frames[0]
    assert b.dtype == np.int16
    changed = np.argwhere(a != b)
    assert len(changed)
    assert changed[:, 0].min() >= y0 - 10 and changed[:, 0].max() < y1 + 10


def test_inpaint_mask(tmp_path):
    write_png(tmp_path / "a.png")
    mask = np.zeros((256, 256), np.uint8)
    mask[0:40, 0:120] = 255
    from PIL import Image

    Image.fromarray(mask).save(tmp_path / "m.png")
    result = runner.invoke(
        app, ["inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png")]
    )
    assert result.exit_code == 0, result.output
    a = read_scan(tmp_path / "a.png").frames[0]
    b = read_scan(tmp_path / "a.inpainted.png").frames[0]
    assert np.array_equal(a[mask == 0], b[mask == 0]) and not np.array_equal(a, b)


def test_real_subprocess_scrub(tmp_path):
    write_png(tmp_path / "in" / "x.png")
    (tmp_path / "in" / "empty.dcm").write_bytes(b"")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    proc = subprocess.run(
        [str(BIN), "scrub", str(tmp_path / "in"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1
    assert "empty.dcm" in proc.stderr and "empty" in proc.stderr
    assert (tmp_path / "out" / "x.png").exists()
    assert not (tmp_path / "out" / "empty.dcm").exists()
