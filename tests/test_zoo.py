"""The model zoo: one loader for every stage's weights, clear errors, one load per process."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import NotBuiltError
from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models import zoo
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.classifier.spec import classifier_spec
from medocr_cli.models.confirm.spec import confirm_spec
from medocr_cli.models.detector.predictor import Detector
from medocr_cli.models.detector.spec import detector_spec
from medocr_cli.models.inpainter.spec import inpainter_spec
from medocr_cli.models.recognizer.spec import recognizer_spec
from medocr_cli.models.registry import build, known

runner = CliRunner()

#: A tiny network of every family.
TINY = {
    "classifier": lambda: classifier_spec(size=32),
    "detector": lambda: detector_spec(widths=(4, 8, 8, 8), decoder=4),
    "recognizer": lambda: recognizer_spec(channels=(4, 4, 4, 4, 4, 4), hidden=4, layers=1),
    "inpainter": lambda: inpainter_spec((8, 8, 8), (2,)),
    "confirm": lambda: confirm_spec(widths=(4, 4, 4, 4)),
}
#: The family whose checkpoint is put in each slot by mistake (never the heavy classifier).
WRONG = {
    "classifier": "detector",
    "detector": "recognizer",
    "recognizer": "inpainter",
    "inpainter": "confirm",
    "confirm": "detector",
}
#: What each slot's command needs beside it (valid checkpoints).
NEEDS = {"detector": ["recognizer"], "recognizer": ["detector"], "confirm": ["detector"]}


def save_tiny(path, family, **change):
    spec = {**TINY[family](), **change}
    torch.manual_seed(0)
    save_checkpoint(path, pack(build(spec), spec))
    return path


def command(slot, folder, tmp_path):
    """The CLI call that loads `slot` from `folder` first."""
    image = tmp_path / "in" / "a.png"
    image.parent.mkdir(exist_ok=True)
    Image.fromarray(np.full((48, 64), 30, np.uint8)).save(image)
    w = ["--weights", str(folder)]
    if slot == "classifier":
        return ["classify", *w, str(image)]
    if slot in ("detector", "recognizer"):
        return ["extract", "--stage", "handwritten", *w, str(image)]
    if slot == "inpainter":
        mask = tmp_path / "mask.png"
        Image.fromarray(np.full((48, 64), 255, np.uint8)).save(mask)
        out = tmp_path / "out.png"
        return [
            "inpaint",
            str(image),
            "--mask",
            str(mask),
            "--method",
            "learned",
            *w,
            "-o",
            str(out),
        ]
    return [
        "scrub",
        str(image.parent),
        str(tmp_path / "out"),
        *w,
        "--method",
        "telea",
        "--no-verify",
    ]


def one_line_usage_error(result):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("slot", sorted(zoo.SLOTS))
def test_another_familys_checkpoint_in_a_slot_is_named(slot, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for other in NEEDS.get(slot, []):
        save_tiny(folder / zoo.SLOTS[other].file, other)
    wrong = WRONG[slot]
    save_tiny(folder / zoo.SLOTS[slot].file, wrong)
    line = one_line_usage_error(runner.invoke(app, command(slot, folder, tmp_path)))
    arch = zoo.SLOTS[wrong].arch
    assert f"{zoo.SLOTS[slot].file}: holds a" in line
    assert f"{wrong} checkpoint (arch '{arch}')" in line
    assert f"medocr train {slot}" in line  # the hint


@pytest.mark.parametrize("slot", sorted(zoo.SLOTS))
def test_a_corrupt_weights_file_is_a_usage_error(slot, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for other in NEEDS.get(slot, []):
        save_tiny(folder / zoo.SLOTS[other].file, other)
    (folder / zoo.SLOTS[slot].file).write_bytes(b"\x80\x02 not a checkpoint")
    line = one_line_usage_error(runner.invoke(app, command(slot, folder, tmp_path)))
    assert zoo.SLOTS[slot].file in line and "not a readable checkpoint" in line


def test_the_cache_returns_the_same_object_until_the_file_changes(tmp_path):
    path = save_tiny(tmp_path / "detector.pt", "detector")
    first = zoo.load("detector", path)
    assert zoo.load("detector", tmp_path / "." / "detector.pt") is first
    # the predictor runs a copy with its BatchNorms folded into the convolutions; the cached
    # network (what training's --init starts from) keeps them, and computes the same maps
    fused = Detector(path).model
    assert fused is not first.model
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in first.model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.rand(1, 2, 32, 48)
    with torch.inference_mode():
        assert torch.allclose(fused(x), first.model(x), atol=1e-5)
    assert first.model.training is False
    save_tiny(path, "detector", decoder=8)  # rewritten: another size and time
    again = zoo.load("detector", path)
    assert again is not first and again.spec.decoder == 8


def test_each_loader_gets_its_own_spec_dict(tmp_path):
    path = save_tiny(tmp_path / "detector.pt", "detector")
    a, b = Detector(path), Detector(path)
    a.spec["min_score"] = 0.0
    assert b.spec["min_score"] == zoo.load("detector", path).spec.min_score != 0.0


def test_a_bad_spec_value_is_quoted(tmp_path):
    path = save_tiny(tmp_path / "detector.pt", "detector", threshold="high")
    with pytest.raises(zoo.WeightsError) as err:
        zoo.load("detector", path)
    line = err.value.one_line()
    assert "detector.pt" in line and "'threshold'" in line and "'high'" in line
    assert err.value.exit_code == 2


def test_a_missing_spec_key_is_named(tmp_path):
    spec = TINY["confirm"]()
    checkpoint = pack(build(spec), spec)
    del checkpoint["spec"]["widths"]
    save_checkpoint(tmp_path / "confirm.pt", checkpoint)
    with pytest.raises(zoo.WeightsError, match="'widths' is missing"):
        zoo.read("confirm", tmp_path / "confirm.pt")


def test_missing_weights_name_the_file_and_how_to_make_it(tmp_path):
    with pytest.raises(NotBuiltError) as err:
        zoo.require("confirm", tmp_path, needed_by="the check", instead="use --no-confirm")
    line = err.value.one_line()
    assert "the check needs confirm.pt" in line and str(tmp_path) in line
    assert "medocr train confirm" in line and "--no-confirm" in line


def test_locate_takes_a_folder_or_a_file(tmp_path):
    assert zoo.locate("recognizer", tmp_path) == tmp_path / zoo.RECOGNIZER_FILE
    assert zoo.locate("inpainter", tmp_path / "mine.pt") == tmp_path / "mine.pt"


def test_every_slot_has_a_registered_architecture():
    assert {s.arch for s in zoo.SLOTS.values()} <= set(known())
    assert len({s.file for s in zoo.SLOTS.values()}) == len(zoo.SLOTS)


@pytest.mark.parametrize("slot", sorted(zoo.SLOTS))
def test_the_shipped_weights_pass_the_checks(slot):
    path = zoo.locate(slot)
    if not path.is_file():
        pytest.skip(f"{path} is not shipped here")
    assert zoo.read(slot, path)["spec"]["arch"] == zoo.SLOTS[slot].arch
