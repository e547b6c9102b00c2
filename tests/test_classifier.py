"""The classifier: model spec, preprocessing, checkpoints, training loop, evaluation, classify."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pydicom
import pytest
import torch
from _phi_images import write_ct, write_png
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import InputFileError, NotBuiltError
from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint
from medocr_cli.models.checkpoint import pack, unpack
from medocr_cli.models.classifier.data import augment, load_split
from medocr_cli.models.classifier.network import normalise, to_input
from medocr_cli.models.classifier.predictor import Verdict, union_label
from medocr_cli.models.classifier.spec import LABELS, classifier_spec
from medocr_cli.models.recognizer.spec import recognizer_spec
from medocr_cli.models.registry import build, known
from medocr_cli.pipeline.generate_dataset import GenerateConfig, run_generate_dataset
from medocr_cli.training.loop import lr_at
from medocr_cli.training.metrics import classification_report, confusion_matrix

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("cls") / "ds"
    run_generate_dataset(GenerateConfig(out=out, count=40, seed=11, size=128, workers=1))
    return out


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """An untrained classifier at 32 px in a weights folder: fast, and shaped like the real one."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    spec = classifier_spec(size=32)
    save_checkpoint(folder / "classifier.pt", pack(build(spec), spec))
    return folder


def test_registry_builds_resnet18_with_dropout_head():
    assert "resnet18-classifier" in known()
    model = build(classifier_spec())
    assert isinstance(model.fc[0], torch.nn.Dropout)
    assert model.fc[1].out_features == 4
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(11.18e6, rel=0.01)


@pytest.mark.parametrize(
    "shape",
    [(512, 512), (300, 700), (16, 20), (480, 640, 3), (128, 128, 4), (64, 64, 1)],
)
def test_to_input_is_uint8_three_channels(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    x = to_input(image, 64)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
    if len(shape) == 2:
        assert (x[0] == x[1]).all() and (x[1] == x[2]).all()


def test_to_input_keeps_small_text_visible():
    image = np.zeros((512, 512), np.uint8)
    image[100:108, 50:150] = 255  # an 8 px line of "text"
    x = to_input(image, 224)
    assert x[0, 40:50, 20:70].max() > 100


def test_normalise_uses_spec():
    spec = classifier_spec(size=8)
    batch = torch.full((2, 3, 8, 8), 51, dtype=torch.uint8)
    out = normalise(batch, spec)
    assert torch.allclose(out, torch.zeros_like(out), atol=1e-6)  # 51/255 = mean 0.2


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    spec = classifier_spec(size=32)
    model = build(spec).eval()
    save_checkpoint(tmp_path / "c.pt", pack(model, spec, half=False))
    again = unpack(load_checkpoint(tmp_path / "c.pt"))
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(x), again(x))


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(NotBuiltError, match=r"missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match=r"junk\.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    spec = classifier_spec(size=32)
    packed = pack(build(spec), spec)
    packed["state_dict"].pop("fc.1.weight")
    with pytest.raises(InputFileError, match="do not match"):
        unpack(packed, source="x.pt")


def test_report_counts_text_called_none():
    truth = [0, 0, 1, 1, 2, 2, 3, 3]
    pred = [0, 1, 1, 0, 2, 2, 3, 2]
    report = classification_report(confusion_matrix(truth, pred, 4), LABELS)
    assert report["accuracy"] == pytest.approx(5 / 8)
    assert report["text_as_none"] == 1
    assert report["text_as_none_rate"] == pytest.approx(1 / 6)
    assert report["per_class"]["P"]["precision"] == pytest.approx(1 / 2)
    assert report["per_class"]["H"]["recall"] == pytest.approx(1.0)


def test_union_label_over_frames():
    v = {k: Verdict(k, {}) for k in LABELS}
    assert union_label([v["None"], v["None"]]) == "None"
    assert union_label([v["None"], v["P"]]) == "P"
    assert union_label([v["P"], v["H"]]) == "PH"
    assert union_label([v["H"], v["None"]]) == "H"


def test_lr_schedule_warms_up_then_decays():
    lrs = [lr_at(s, 100, 1.0) for s in range(100)]
    assert lrs[0] < lrs[2] <= 1.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[3:]))
    assert lrs[-1] < 0.05


def test_augment_is_seeded_and_in_range():
    batch = torch.rand(4, 3, 16, 16)
    a = augment(batch, torch.Generator().manual_seed(3))
    b = augment(batch, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and a.shape == batch.shape


def test_load_split_caches(dataset):
    first = load_split(dataset, "train", 32)
    assert first.images.shape[1:] == (3, 32, 32) and len(first.ids) == len(first.labels)
    assert list((dataset / ".medocr-cache").glob("classifier-train-32-*.npz"))
    again = load_split(dataset, "train", 32)
    assert torch.equal(first.images, again.images)


def test_train_resume_and_evaluate(dataset, tmp_path):
    out = tmp_path / "run"
    args = ["--quiet", "train", "classifier", str(dataset), "--size", "32", "--batch-size", "8"]
    result = runner.invoke(app, [*args, "--epochs", "1", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["best_epoch"] == 1 and set(report["test"]) >= {"accuracy", "text_as_none_rate"}
    for name in ("classifier.pt", "classifier.last.pt", "classifier.curves.png"):
        assert (out / name).is_file()
    assert (out / "classifier.confusion.png").is_file()
    checkpoint = load_checkpoint(out / "classifier.pt")
    assert checkpoint["spec"]["input_size"] == 32
    assert checkpoint["trained_with"]["data_seed"] == 11
    assert "test" in checkpoint["metrics"]
    assert checkpoint["state_dict"]["fc.1.weight"].dtype == torch.float16

    resumed = runner.invoke(app, [*args, "--epochs", "2", "--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    history = json.loads((out / "classifier.history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]

    weights = out / "classifier.pt"
    ev = runner.invoke(
        app,
        [
            "train",
            "classifier",
            str(dataset),
            "--evaluate-only",
            "--weights",
            str(weights),
            "--split",
            "val",
            "--json",
        ],
    )
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.stdout)["n"] == 4


def test_train_init_fine_tunes_at_another_size(dataset, tmp_path):
    """--init starts from a checkpoint's weights, here at 40 px from a 32 px one."""
    torch.manual_seed(123)  # not the training seed, so a random init would differ
    spec = classifier_spec(size=32)
    init = tmp_path / "start.pt"
    save_checkpoint(init, pack(build(spec), spec))
    out = tmp_path / "ft"
    args = ["--quiet", "train", "classifier", str(dataset), "--size", "40", "--batch-size", "8"]
    tiny_lr = [*args, "--epochs", "1", "--lr", "1e-12", "--out", str(out), "--init", str(init)]
    result = runner.invoke(app, tiny_lr)
    assert result.exit_code == 0, result.output
    start, tuned = load_checkpoint(init), load_checkpoint(out / "classifier.pt")
    assert tuned["spec"]["input_size"] == 40
    assert tuned["trained_with"]["init"] == str(init)
    for key in ("conv1.weight", "fc.1.weight"):
        assert torch.allclose(tuned["state_dict"][key].float(), start["state_dict"][key].float())

    scratch = [*args, "--epochs", "1", "--lr", "1e-12", "--out", str(tmp_path / "scratch")]
    fresh = runner.invoke(app, scratch)
    assert fresh.exit_code == 0, fresh.output
    scratch_state = load_checkpoint(tmp_path / "scratch" / "classifier.pt")["state_dict"]
    scratch_fc = scratch_state["fc.1.weight"]
    assert not torch.allclose(scratch_fc.float(), start["state_dict"]["fc.1.weight"].float())


def test_train_init_rejects_another_stage(dataset, tmp_path):
    spec = recognizer_spec()
    wrong = pack(build(spec), spec)
    save_checkpoint(tmp_path / "wrong.pt", wrong)
    args = ["--quiet", "train", "classifier", str(dataset), "--size", "32", "--epochs", "1"]
    result = runner.invoke(
        app, [*args, "--out", str(tmp_path / "run"), "--init", str(tmp_path / "wrong.pt")]
    )
    assert result.exit_code == 2
    assert "wrong.pt" in result.output and "--init weights do not fit" in result.output


def test_classify_json_files_and_frames(tiny_weights, tmp_path):
    write_png(tmp_path / "in" / "a.png")
    write_ct(tmp_path / "in" / "cine.dcm", frames=3)
    (tmp_path / "in" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = runner.invoke(
        app,
        [
            "classify",
            str(tmp_path / "in"),
            "--json",
            "--weights",
            str(tiny_weights),
            "--batch-size",
            "2",
        ],
    )
    assert result.exit_code == 1, result.output  # one unreadable file
    rows = {r["path"].split("/")[-1]: r for r in json.loads(result.stdout)}
    assert rows["a.png"]["label"] in LABELS and len(rows["a.png"]["frames"]) == 1
    assert set(rows["a.png"]["probs"]) == set(LABELS)
    assert sum(rows["a.png"]["probs"].values()) == pytest.approx(1.0, abs=1e-4)
    assert len(rows["cine.dcm"]["frames"]) == 3
    assert rows["bad.png"]["label"] is None and "bad.png" in rows["bad.png"]["error"]
    assert pydicom.dcmread(tmp_path / "in" / "cine.dcm").NumberOfFrames == 3


def test_classify_table_and_missing_weights(tiny_weights, tmp_path):
    write_png(tmp_path / "a.png")
    args = ["classify", str(tmp_path / "a.png"), "--weights"]
    table = runner.invoke(app, [*args, str(tiny_weights)])
    assert table.exit_code == 0 and "a.png" in table.output
    missing = runner.invoke(app, [*args, str(tmp_path)])
    assert missing.exit_code == 2
    assert "classifier.pt" in missing.output and len(missing.output.strip().splitlines()) == 1


def test_fit_linear_head_separates_and_folds_the_standardisation():
    """The fitted layer reads raw features: offsets and scales far from 0 and 1 do not matter."""
    from medocr_cli.models.classifier.head import fit_linear_head

    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat(50)
    centres = torch.eye(4, 16) * 3
    noise = torch.randn(200, 16, generator=generator)
    features = (centres[labels] + noise) * torch.linspace(0.01, 100, 16) + 1000
    weight, bias = fit_linear_head(features, labels, 4)
    assert weight.shape == (4, 16) and bias.shape == (4,)
    assert ((features @ weight.T + bias).argmax(1) == labels).float().mean() >= 0.95
    again = fit_linear_head(features, labels, 4)
    assert torch.equal(weight, again[0]) and torch.equal(bias, again[1])


@pytest.fixture(scope="module")
def second_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("cls2") / "ds"
    run_generate_dataset(GenerateConfig(out=out, count=40, seed=12, size=128, workers=1))
    return out


def test_train_refit_head_changes_only_the_last_layer(dataset, second_dataset, tmp_path):
    torch.manual_seed(5)
    spec = classifier_spec(size=32)
    init = tmp_path / "start.pt"
    save_checkpoint(init, pack(build(spec), spec))
    out = tmp_path / "head"
    args = ["--quiet", "train", "classifier", str(second_dataset), "--init", str(init)]
    result = runner.invoke(app, [*args, "--refit-head", str(dataset), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["refit_on"] == [str(dataset)] and report["init"] == str(init)
    assert set(report["val"]) >= {"accuracy", "text_as_none_rate"} and "accuracy" in report["test"]

    start, refit = load_checkpoint(init), load_checkpoint(out / "classifier.pt")
    assert refit["spec"] == start["spec"]
    assert set(refit["metrics"]) == {"val", "test"}
    changed = [
        k
        for k in start["state_dict"]
        if not torch.equal(start["state_dict"][k], refit["state_dict"][k])
    ]
    assert changed == ["fc.1.weight", "fc.1.bias"]
    assert refit["state_dict"]["fc.1.weight"].dtype == torch.float16
    head = refit["trained_with"]["head_refit"]
    records = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
    assert head["images"] == sum(r["split"] in ("train", "val") for r in records)
    assert head["datasets"] == [str(dataset)] and head["init"] == str(init)
    assert head["train_accuracy"] >= 0.9  # a linear layer on 512 features fits ~36 images
    assert not (out / ".classifier.unmeasured.pt").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--refit-head", "{data}"], "both fits the head and measures it"),
        (["--refit-head", "{other}", "--evaluate-only"], "--refit-head cannot go with"),
        (["--refit-head", "{other}", "--refit-head", "{data}/nope"], "not a dataset folder"),
        (["--evaluate-only", "--epochs", "2"], "--evaluate-only trains nothing"),
    ],
)
def test_train_refit_head_usage_errors(dataset, second_dataset, tmp_path, extra, message):
    torch.manual_seed(5)
    spec = classifier_spec(size=32)
    save_checkpoint(tmp_path / "start.pt", pack(build(spec), spec))
    args = ["train", "classifier", str(dataset), "--init", str(tmp_path / "start.pt")]
    extra = [e.format(data=dataset, other=second_dataset) for e in extra]
    result = runner.invoke(app, [*args, *extra, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o" / "classifier.pt").exists()


def test_train_average_never_overwrites_a_checkpoint_it_averages(dataset, tmp_path):
    torch.manual_seed(5)
    spec = classifier_spec(size=32)
    (tmp_path / "o").mkdir()
    for name in ("o/classifier.pt", "b.pt"):
        save_checkpoint(tmp_path / name, pack(build(spec), spec))
    before = (tmp_path / "o" / "classifier.pt").read_bytes()
    args = ["train", "classifier", str(dataset), "--out", str(tmp_path / "o")]
    sources = [
        "--average",
        str(tmp_path / "o" / "classifier.pt"),
        "--average",
        str(tmp_path / "b.pt"),
    ]
    result = runner.invoke(app, [*args, *sources])
    assert result.exit_code == 2 and "would overwrite" in result.output
    assert (tmp_path / "o" / "classifier.pt").read_bytes() == before


def test_train_refit_head_is_for_the_classifier_only(dataset, second_dataset, tmp_path):
    args = ["train", "recognizer", str(dataset), "--refit-head", str(second_dataset)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--refit-head is for the classifier" in result.output


def test_train_refit_head_checks_data_before_reading_features(second_dataset, tmp_path):
    from medocr_cli.errors import UsageError
    from medocr_cli.pipeline.train import TrainConfig, TrainOptions, run_train

    class Recorder:
        """A progress that remembers whether reading features began."""

        started = False

        def start(self, total):
            self.started = True

        def advance(self, result):
            raise AssertionError("features were read before DATA was checked")

    recorder = Recorder()
    options = TrainOptions(data=tmp_path / "nothing", out=tmp_path / "o")
    config = TrainConfig("classifier", options, refit_head=[second_dataset])
    with pytest.raises(UsageError, match="not a dataset folder"):
        run_train(config, recorder)
    assert not recorder.started
    args = ["train", "classifier", str(tmp_path / "nothing"), "--refit-head", str(second_dataset)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a dataset folder" in result.output
    assert "nothing" in result.output
