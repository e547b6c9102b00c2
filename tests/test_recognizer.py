"""The recognizer: vocabulary, CTC coding, model, training data, checkpoints, training, reading."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io.checkpoints import load_checkpoint, save_checkpoint
from medocr_cli.models.checkpoint import average_checkpoints, pack, unpack
from medocr_cli.models.recognizer.data import (
    Augment,
    distort_strokes,
    load_lines,
    train_sample,
    width_batches,
)
from medocr_cli.models.recognizer.decode import (
    BEAM_WIDTH,
    READ_TAIL,
    beam_decode,
    decode,
    decode_indices,
    encode,
    greedy_decode,
)
from medocr_cli.models.recognizer.grow import widen_recognizer
from medocr_cli.models.recognizer.lines import line_width, normalise_line, pad_batch, to_line
from medocr_cli.models.recognizer.predictor import Recognizer
from medocr_cli.models.recognizer.spec import HEIGHT, recognizer_spec, spec_width_scale
from medocr_cli.models.recognizer.training import read_inputs
from medocr_cli.models.recognizer.vocab import default_vocab
from medocr_cli.models.registry import build, known
from medocr_cli.pipeline.generate_dataset import GenerateConfig, run_generate_dataset
from medocr_cli.synth.content import NOTE_CHARSET, PRINTED_CHARSET

runner = CliRunner()
TINY = {"channels": (8, 16, 16, 16, 32, 32), "hidden": 32, "dropout": 0.0}
WORDS = ("ID 4711", "Smith", "12/03/2021", "ok", "MRN 88^A", "f/u 3 wks")


def text_crop(text: str, scale: float, invert: bool = False, rgb: bool = False) -> np.ndarray:
    """A line of text drawn with OpenCV's Hershey font, with a few pixels of margin."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), base = cv2.getTextSize(text, font, scale, 1)
    image = np.full((h + base + 8, w + 8), 20, dtype=np.uint8)
    cv2.putText(image, text, (4, h + 4), font, scale, 230, 1, cv2.LINE_AA)
    if invert:
        image = 255 - image
    if rgb:
        image = np.stack([image, image // 2, image], axis=2)
    return image


def test_vocab_covers_every_generated_character():
    vocab = default_vocab()
    assert set(PRINTED_CHARSET) | set(NOTE_CHARSET) <= set(vocab)
    assert len(set(vocab)) == len(vocab)
    assert "crnn-ctc" in known()
    spec = recognizer_spec()
    assert spec["height"] == HEIGHT == 32 and spec["blank"] == 0 and spec["vocab"] == vocab


def test_encode_decode_round_trip():
    vocab = default_vocab()
    text = "DOE^JANE, 12.03.1950 (74Y) #A-1'5 ok?"
    labels = encode(text, vocab)
    assert min(labels) >= 1 and max(labels) <= len(vocab)
    assert decode_indices(labels, vocab) == text
    with pytest.raises(ValueError, match="not in the vocabulary"):
        encode("é", vocab)
    # a one-hot path with a blank between every character decodes back to the text,
    # doubled characters ("ll") included
    text = "Hello 11"
    path = []
    for label in encode(text, vocab):
        path += [label, label, 0]
    logits = torch.full((len(path), 1, len(vocab) + 1), -10.0)
    logits[torch.arange(len(path)), 0, torch.tensor(path)] = 10.0
    [(decoded, score)] = greedy_decode(logits, vocab)
    assert decoded == text and 0.99 < score <= 1.0


def test_greedy_decode_merges_repeats_drops_blanks_and_honours_lengths():
    vocab = "ab"
    # columns: a a _ a b b _ | padding that would read "b"
    path = [1, 1, 0, 1, 2, 2, 0, 2, 2]
    logits = torch.full((len(path), 2, 3), -5.0)
    logits[torch.arange(len(path)), 0, torch.tensor(path)] = 5.0
    logits[:, 1, 0] = 5.0  # second sample: all blank
    out = greedy_decode(logits, vocab, lengths=[7, 9])
    assert out[0][0] == "aab"
    assert out[1][0] == "" and 0.9 < out[1][1] <= 1.0
    assert greedy_decode(logits, vocab)[0][0] == "aabb"


def test_beam_decode_agrees_with_greedy_on_clear_paths():
    vocab = "ab"
    path = [1, 1, 0, 1, 2, 2, 0, 2, 2]  # a a _ a b b _ | b b
    logits = torch.full((len(path), 2, 3), -5.0)
    logits[torch.arange(len(path)), 0, torch.tensor(path)] = 5.0
    logits[:, 1, 0] = 5.0
    for width in (1, 2, 8):
        out = beam_decode(logits, vocab, lengths=[7, 9], width=width)
        assert [t for t, _ in out] == ["aab", ""]
        assert all(0.9 < score <= 1.0 for _, score in out)
    assert beam_decode(logits, vocab)[0][0] == "aabb"
    assert beam_decode(logits, vocab, lengths=[0, 9])[0] == ("", 0.0)
    assert decode(logits, vocab, beam_width=1) == greedy_decode(logits, vocab)


def test_beam_decode_sums_the_paths_of_a_reading():
    # two frames, each blank 0.4, "a" 0.35, "b" 0.25: the best single path is blank-blank (0.16),
    # but "a" is spelt by a-a, a-blank and blank-a: 0.1225 + 0.14 + 0.14 = 0.4025
    probs = torch.tensor([0.4, 0.35, 0.25]).log().expand(2, 1, 3).clone()
    assert greedy_decode(probs, "ab")[0][0] == ""
    [(text, score)] = beam_decode(probs, "ab", width=4)
    assert text == "a" and score == pytest.approx(0.4025, rel=1e-4)
    # a repeated character needs a blank between its copies: "aa" is not a-a
    assert beam_decode(torch.tensor([[0.1, 0.8, 0.1]] * 2).log()[:, None], "ab")[0][0] == "a"


@pytest.mark.parametrize(
    "shape", [(20, 30), (40, 300, 3), (64, 64, 4), (8, 2000), (33, 5, 1), (0, 10)]
)
def test_to_line_and_normalise(shape):
    crop = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    line = to_line(crop)
    assert line.dtype == np.uint8 and line.shape[0] == HEIGHT and 16 <= line.shape[1] <= 1024
    x = normalise_line(line)
    assert x.dtype == np.float32 and x.shape == line.shape


def test_width_scale_widens_lines_and_old_specs_read_at_natural_width(tmp_path):
    assert line_width(32, 40) == 40 and line_width(32, 40, width_scale=1.3) == 52
    assert line_width(64, 400, width_scale=1.3) == 260  # height 32 first, then 1.3x
    assert to_line(np.zeros((32, 40), np.uint8), width_scale=1.3).shape == (HEIGHT, 52)
    spec = recognizer_spec(**TINY)
    assert spec["width_scale"] == spec_width_scale(spec) == 1.3
    old = {k: v for k, v in spec.items() if k != "width_scale"}  # a checkpoint made before it
    assert spec_width_scale(old) == 1.0
    crop = text_crop("Smith", 0.8)
    for s, name in ((spec, "new"), (old, "old")):
        (tmp_path / name).mkdir()
        save_checkpoint(tmp_path / name / "recognizer.pt", pack(build(s).eval(), s))
    new_width = Recognizer.from_weights_dir(tmp_path / "new").prepare(crop).shape[1]
    old_width = Recognizer.from_weights_dir(tmp_path / "old").prepare(crop).shape[1]
    assert old_width == line_width(*crop.shape[:2])
    assert new_width == line_width(*crop.shape[:2], width_scale=1.3) > old_width


def test_normalise_makes_text_positive_in_both_polarities():
    crop = text_crop("Smith", 0.8)
    a, b = normalise_line(to_line(crop)), normalise_line(to_line(255 - crop))
    assert np.allclose(a, b, atol=0.1)
    assert a.max() > 2 and abs(float(np.median(a))) < 1e-6


def test_model_output_shape_follows_width():
    spec = recognizer_spec(**TINY)
    model = build(spec).eval()
    frames = spec["frames_per_column"]
    x, lengths = pad_batch([np.zeros((32, 40), np.float32), np.zeros((32, 103), np.float32)])
    assert x.shape == (2, 1, 32, 103) and lengths == [10 * frames, 25 * frames]
    # a tail of background after the widest line changes the batch, not the lines' lengths
    ones = [np.ones((32, 40), np.float32), np.ones((32, 103), np.float32)]
    tailed, tailed_lengths = pad_batch(ones, frames, tail=12)
    assert tailed.shape == (2, 1, 32, 115) and tailed_lengths == lengths
    assert float(tailed[1, 0, :, 103:].abs().sum()) == 0.0
    assert float(tailed[1, 0, :, :103].min()) == 1.0
    with torch.inference_mode():
        out = model(x)
    assert out.shape == (26 * frames, 2, len(spec["vocab"]) + 1)  # 103 px: 25 strips + a part


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    """A tiny CRNN trained to read six drawn lines of different widths (about 10 s on 1 core)."""
    torch.manual_seed(0)
    spec = recognizer_spec(**TINY)
    vocab = spec["vocab"]
    model = build(spec)
    crops = [text_crop(w, 0.5 + 0.1 * i) for i, w in enumerate(WORDS)]
    inputs = [normalise_line(to_line(c, width_scale=spec_width_scale(spec))) for c in crops]
    labels = [torch.tensor(encode(w, vocab)) for w in WORDS]
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    losses = []
    for step in range(600):
        pick = rng.choice(len(WORDS), 3, replace=False) if step % 2 else range(len(WORDS))
        x, lengths = pad_batch([inputs[i] for i in pick])
        targets = [labels[i] for i in pick]
        loss = ctc(
            model(x).log_softmax(2),
            torch.cat(targets),
            torch.tensor(lengths),
            torch.tensor([len(t) for t in targets]),
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step > 50 and np.mean(losses[-10:]) < 0.005:
            break
    folder = tmp_path_factory.mktemp("rec-weights")
    save_checkpoint(folder / "recognizer.pt", pack(model.eval(), spec, half=False))
    return model, spec, crops, losses, folder


def test_ctc_loss_decreases_on_tiny_overfit(overfit):
    _, _, _, losses, _ = overfit
    assert np.mean(losses[-10:]) < 0.2 * np.mean(losses[:10])


def test_recognizer_reads_crops_of_varying_widths_in_order(overfit):
    _, _, crops, _, folder = overfit
    reader = Recognizer.from_weights_dir(folder, device="cpu")
    assert reader.prepare(crops[0]).shape[0] == HEIGHT
    widths = sorted(reader.prepare(c).shape[1] for c in crops)
    assert widths[0] < 60 < 120 < widths[-1] and all(w % 4 == 0 for w in widths)
    shuffled = [3, 0, 5, 1, 4, 2]
    readings = reader.read([crops[i] for i in shuffled], batch_size=4)
    assert [t for t, _ in readings] == [WORDS[i] for i in shuffled]
    assert all(0.0 <= s <= 1.0 for _, s in readings)
    # the same line read as RGB or with an empty crop in the batch
    rgb = np.stack([crops[1]] * 3, axis=2)
    empty = np.zeros((0, 0), np.uint8)
    out = reader.read([rgb, empty])
    assert out[0][0] == WORDS[1] and isinstance(out[1][0], str)
    assert reader.read([]) == []
    # each line is read with READ_TAIL columns of background after it and the beam search of
    # BEAM_WIDTH prefixes, as evaluation reads it; a width of 1 reads the greedy best path
    assert reader.beam_width == BEAM_WIDTH > 1
    x = reader.prepare(crops[2])
    batch, lengths = pad_batch([x], reader.frames, READ_TAIL)
    with torch.inference_mode():
        logits = reader.model(batch).float()
    expected = beam_decode(logits, reader.vocab, lengths, BEAM_WIDTH)
    assert reader.read_prepared([x]) == expected
    assert read_inputs(reader.model, reader.spec, [x], None, "cpu")[0] == expected
    greedy = Recognizer.from_weights_dir(folder, device="cpu")
    greedy.beam_width = 1
    assert greedy.read_prepared([x]) == greedy_decode(logits, reader.vocab, lengths)
    assert [t for t, _ in greedy.read(crops)] == list(WORDS)


def test_checkpoint_round_trip_gives_identical_outputs(overfit, tmp_path):
    model, spec, crops, _, _ = overfit
    x, _ = pad_batch([normalise_line(to_line(c, width_scale=1.3)) for c in crops])
    with torch.inference_mode():
        reference = model.eval()(x)
        exact = unpack(pack(model, spec, half=False))(x)
        assert torch.equal(reference, exact)
        path = tmp_path / "recognizer.pt"
        save_checkpoint(path, pack(model, spec))  # fp16 storage
        loaded = load_checkpoint(path)
        assert loaded["spec"] == pack(model, spec)["spec"]
        first, second = unpack(loaded)(x), unpack(load_checkpoint(path))(x)
    assert torch.equal(first, second)
    assert torch.allclose(first, reference, atol=0.05)


def test_widened_recognizer_reads_as_before_until_trained(overfit):
    model, spec, crops, _, _ = overfit
    checkpoint = pack(model, spec, half=False)
    wider = [c + 8 for c in spec["channels"]]
    grown = widen_recognizer(checkpoint, wider)
    assert grown["spec"]["channels"] == wider and grown["trained_with"]["widened_from"]
    x, _ = pad_batch([normalise_line(to_line(c, width_scale=1.3)) for c in crops])
    big = unpack(grown)
    assert sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in model.parameters())
    with torch.inference_mode():
        assert torch.allclose(big.eval()(x), model.eval()(x), atol=1e-5)
    # nothing reads the new channels yet, so they get no gradient at first; the zero weights
    # that will read them do, so training brings them in
    big.train()
    big(x).pow(2).mean().backward()
    assert float(big.cnn[0].weight.grad[spec["channels"][0] :].abs().sum()) == 0.0
    assert float(big.rnn.weight_ih_l0.grad[:, spec["channels"][-1] :].abs().sum()) > 0.0
    with pytest.raises(ValueError, match="at least"):
        widen_recognizer(checkpoint, [c - 1 for c in spec["channels"]])


def _nudged(checkpoint: dict, by: float) -> dict:
    """A copy of `checkpoint` with `by` added to every float weight."""
    state = {
        k: v + by if v.is_floating_point() else v.clone()
        for k, v in checkpoint["state_dict"].items()
    }
    return {**checkpoint, "state_dict": state}


def test_average_checkpoints_takes_the_mean_and_refuses_other_networks(overfit):
    model, spec, _, _, _ = overfit
    checkpoint = pack(model, spec, half=False)
    up, down = _nudged(checkpoint, 0.5), _nudged(checkpoint, -0.25)
    mean = average_checkpoints([checkpoint, up, down], ["a", "b", "c"])
    for key, value in checkpoint["state_dict"].items():
        expected = value + 0.25 / 3 if value.is_floating_point() else value
        assert torch.allclose(mean["state_dict"][key], expected, atol=1e-6), key
    assert mean["spec"] == spec and mean["trained_with"]["averaged"] == ["a", "b", "c"]
    assert mean["metrics"] == {}
    half = average_checkpoints([pack(model, spec), pack(model, spec)], ["a", "b"])
    assert half["state_dict"]["cnn.0.weight"].dtype == torch.float16  # stored as it came
    with pytest.raises(UsageError, match="at least two"):
        average_checkpoints([checkpoint], ["a"])
    wider = widen_recognizer(checkpoint, [c + 8 for c in spec["channels"]])
    with pytest.raises(UsageError, match="channels") as err:
        average_checkpoints([checkpoint, wider], ["a", "wide.pt"])
    assert err.value.path is not None and err.value.path.name == "wide.pt"
    wider["spec"] = dict(spec)  # same spec, other layer shapes
    with pytest.raises(UsageError, match="layers do not match"):
        average_checkpoints([checkpoint, wider], ["a", "b"])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "ds"
    # 40 images: the fewest that give every split (train, val, test) some images
    run_generate_dataset(GenerateConfig(out=out, count=40, seed=5, size=256, workers=1))
    return out


def test_lines_load_and_augment(dataset):
    lines = load_lines(dataset, "train")
    assert len(lines) > 5 and set(lines.kinds) <= {"printed", "handwritten"}
    cached = load_lines(dataset, "train")  # second read comes from the cache
    assert cached.texts == lines.texts and np.array_equal(cached.pixels, lines.pixels)
    rng = np.random.default_rng(0)
    for i in range(len(lines)):
        x = train_sample(lines, i, rng, Augment())
        assert x.shape[0] == HEIGHT and 16 <= x.shape[1] <= 640 and np.isfinite(x).all()
    # the model's width scale widens training lines by the same factor (no random stretch)
    fixed = Augment(stretch=(1.0, 1.0), max_width=4096)
    plain = [train_sample(lines, i, np.random.default_rng(1), fixed).shape[1] for i in range(5)]
    wide = [train_sample(lines, i, np.random.default_rng(1), fixed, 1.3).shape[1] for i in range(5)]
    assert all(abs(w - 1.3 * p) <= 4 for p, w in zip(plain, wide, strict=True))
    widths = np.arange(50.0)
    batches = list(width_batches(widths, 8, rng))
    assert len(batches) == 6 and all(len(b) == 8 for b in batches)
    assert sorted(np.concatenate(list(width_batches(widths, 8, None)))) == list(range(50))


def test_turned_and_vertical_lines_are_not_read(tmp_path):
    """Hard-text lines turned 90/180/270 or vertical are left out; horizontal ones stay."""
    import json

    from medocr_cli.models.recognizer.data import MAX_TILT, UNREAD_STYLES

    out = tmp_path / "ds"
    run_generate_dataset(
        GenerateConfig(out=out, count=8, seed=2, size=192, workers=1, hard_text=1.0)
    )
    items = [
        item
        for line in (out / "manifest.jsonl").read_text().splitlines()
        for item in json.loads(line)["items"]
        if json.loads(line)["split"] == "train" and item["text"].strip()
    ]
    unread = [
        it
        for it in items
        if it["style"] in UNREAD_STYLES or (it["style"] == "tilt" and abs(it["angle"]) > MAX_TILT)
    ]
    assert unread and len(unread) < len(items)  # the seed draws both kinds
    lines = load_lines(out, "train", cache=False)
    assert len(lines) == len(items) - len(unread)


def test_distort_strokes_bends_and_thickens_but_keeps_the_line():
    line = np.full((HEIGHT, 96), 30, np.uint8)
    cv2.putText(line, "Ab 12", (4, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 220, 2, cv2.LINE_AA)
    rng = np.random.default_rng(1)
    assert np.array_equal(distort_strokes(line, rng, Augment(p_elastic=0, p_stroke=0)), line)
    bent = distort_strokes(line, rng, Augment(p_elastic=1, p_stroke=0))
    assert bent.shape == line.shape and bent.dtype == np.uint8 and not np.array_equal(bent, line)
    moved = np.abs(bent.astype(int) - line.astype(int)).mean()
    assert 0 < moved < 40  # a wobble, not a different image
    ink = [
        int(
            (
                distort_strokes(line, np.random.default_rng(s), Augment(p_elastic=0, p_stroke=1))
                > 128
            ).sum()
        )
        for s in range(8)
    ]
    base = int((line > 128).sum())
    assert min(ink) < base < max(ink)  # both thinner and broader pens occur


def test_train_cli_writes_checkpoint_and_evaluates(dataset, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["--quiet", "train", "recognizer", str(dataset), "--epochs", "1", "--batch-size", "8",
         "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["best_epoch"] == 1 and "val_cer" in report["val"]
    assert {"cer_handwritten", "cer_printed", "exact"} <= set(report["test"])
    checkpoint = load_checkpoint(out / "recognizer.pt")
    assert checkpoint["spec"]["arch"] == "crnn-ctc"
    assert checkpoint["metrics"]["test"]["n_lines"] == report["test"]["n_lines"]
    for name in ("recognizer.last.pt", "recognizer.history.json", "recognizer.samples.png"):
        assert (out / name).is_file()
    result = runner.invoke(
        app,
        ["train", "recognizer", str(dataset), "--evaluate-only", "--weights",
         str(out / "recognizer.pt"), "--split", "val", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["cer_handwritten"] >= 0.0 and metrics["n_lines"] > 0
    result = runner.invoke(app, ["train", "recognizer", str(dataset), "--size", "64"])
    assert result.exit_code == 2
    # a fine-tune keeps the network of its --init checkpoint, a widened one included
    wide = tmp_path / "wide.pt"
    channels = [c + 8 for c in checkpoint["spec"]["channels"]]
    save_checkpoint(wide, widen_recognizer(checkpoint, channels))
    result = runner.invoke(
        app,
        ["--quiet", "train", "recognizer", str(dataset), "--epochs", "1", "--batch-size", "8",
         "--init", str(wide), "--out", str(tmp_path / "wide-run"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tuned = load_checkpoint(tmp_path / "wide-run" / "recognizer.pt")
    assert tuned["spec"]["channels"] == channels


def test_train_cli_averages_checkpoints_and_measures_the_average(dataset, overfit, tmp_path):
    model, spec, _, _, _ = overfit
    checkpoint = pack(model, spec, half=False)
    a, b, out = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "soup"
    save_checkpoint(a, checkpoint)
    save_checkpoint(b, _nudged(checkpoint, 0.1))
    args = ["train", "recognizer", str(dataset), "--average", str(a), "--average", str(b)]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["averaged"] == [str(a), str(b)]
    assert {"cer_handwritten", "n_lines"} <= set(report["val"]) and report["test"]["n_lines"] > 0
    soup = load_checkpoint(out / "recognizer.pt")
    assert soup["metrics"]["val"] == report["val"] and soup["metrics"]["test"] == report["test"]
    assert soup["trained_with"]["averaged"] == [str(a), str(b)]
    expected = checkpoint["state_dict"]["cnn.0.weight"] + 0.05
    assert torch.allclose(soup["state_dict"]["cnn.0.weight"], expected, atol=1e-6)
    assert sorted(p.name for p in out.iterdir()) == ["recognizer.pt"]  # no scratch file left
    # one checkpoint, another stage's checkpoint, or a training option: clear usage errors
    result = runner.invoke(app, ["train", "recognizer", str(dataset), "--average", str(a)])
    assert result.exit_code == 2 and "at least two" in result.output
    other = tmp_path / "classifier.pt"
    save_checkpoint(other, {**checkpoint, "spec": {**spec, "arch": "resnet18-classifier"}})
    result = runner.invoke(app, [*args[:-1], str(other), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "classifier.pt" in result.output
    assert not (tmp_path / "x" / "recognizer.pt").exists()
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 2 and "--average" in result.output
