import json

import numpy as np
import pytest
from _phi_images import tree_digest
from PIL import Image
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io import read_scan
from medocr_cli.pipeline.generate_dataset import GenerateConfig, run_generate_dataset
from medocr_cli.synth.compose import LABELS, label_of, split_of

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "d"
    summary = run_generate_dataset(GenerateConfig(out=out, count=40, seed=3, size=160, workers=2))
    records = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    return out, summary, records


def test_manifest_fields_and_files(dataset):
    out, _, records = dataset
    assert len(records) == 40
    for r in records:
        assert {"image", "clean", "mask", "label", "items", "split"} <= set(r)
        for key in ("image", "clean", "mask"):
            assert (out / r[key]).is_file()
        for item in r["items"]:
            assert len(item["box"]) == 4 and item["kind"] in ("printed", "handwritten")
            assert item["text"] and (out / item["crop"]).is_file()


def test_labels_match_items_and_are_balanced(dataset):
    _, summary, records = dataset
    for r in records:
        kinds = {i["kind"] for i in r["items"]}
        expected = ("P" if "printed" in kinds else "") + (
            "H" if "handwritten" in kinds else ""
        ) or "None"
        assert r["label"] == expected
    counts = summary["labels"]
    assert set(counts) <= set(LABELS)
    assert max(counts.values()) - min(counts.get(k, 0) for k in LABELS) <= 2


def test_mask_inside_boxes_and_clean_differs_only_in_mask(dataset):
    out, _, records = dataset
    for r in records:
        image = read_scan(out / r["image"]).frames[0]
        clean = np.asarray(Image.open(out / r["clean"]))
        mask = np.asarray(Image.open(out / r["mask"])) > 0
        inside = np.zeros(mask.shape, bool)
        for item in r["items"]:
            x0, y0, x1, y1 = item["box"]
            inside[y0:y1, x0:x1] = True
            for word in item["words"]:
                wx0, wy0, wx1, wy1 = word["box"]
                assert x0 <= wx0 and y0 <= wy0 and wx1 <= x1 and wy1 <= y1
        assert not (mask & ~inside).any()
        diff = image != clean
        diff = diff.any(axis=-1) if diff.ndim == 3 else diff
        assert not (diff & ~mask).any()
        assert (r["label"] == "None") == (not mask.any())


def test_same_seed_same_files(dataset, tmp_path):
    out, _, _ = dataset
    again = tmp_path / "again"
    run_generate_dataset(GenerateConfig(out=again, count=40, seed=3, size=160, workers=1))
    assert tree_digest(again) == tree_digest(out)


def test_other_seed_differs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_generate_dataset(GenerateConfig(out=a, count=4, seed=1, size=128, workers=1))
    run_generate_dataset(GenerateConfig(out=b, count=4, seed=2, size=128, workers=1))
    assert tree_digest(a)["images/000001.png"] != tree_digest(b)["images/000001.png"]


def test_split_and_label_assignment():
    splits = [split_of(i) for i in range(400)]
    assert splits.count("train") == 320 and splits.count("val") == 40 and splits.count("test") == 40
    for split in ("train", "val", "test"):
        labels = [label_of(i) for i in range(400) if split_of(i) == split]
        assert all(labels.count(k) == len(labels) // 4 for k in LABELS)


def test_test_split_fonts_unseen_in_train(dataset):
    _, summary, _ = dataset
    fonts = summary["fonts"]
    for kind in ("printed", "handwritten"):
        assert not set(fonts["train"][kind]) & set(fonts["test"][kind])


def test_dicom_format_and_preview(tmp_path):
    out = tmp_path / "d"
    result = runner.invoke(
        app,
        [
            "generate-dataset",
            str(out),
            "--count",
            "8",
            "--size",
            "128",
            "--format",
            "dicom",
            "--workers",
            "1",
            "--preview",
            str(tmp_path / "sheet.png"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rec = json.loads((out / "manifest.jsonl").read_text().splitlines()[1])
    assert rec["image"].endswith(".dcm")
    assert read_scan(out / rec["image"]).format == "dicom"
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.width == 6 * 256


def test_refuses_non_empty_out_and_bad_backgrounds(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(UsageError):
        run_generate_dataset(GenerateConfig(out=tmp_path / "full", count=4, size=128))
    result = runner.invoke(
        app,
        [
            "generate-dataset",
            str(tmp_path / "new"),
            "--count",
            "4",
            "--backgrounds",
            str(tmp_path / "missing"),
        ],
    )
    assert result.exit_code == 2
    assert "missing" in result.output and len(result.output.strip().splitlines()) == 1
