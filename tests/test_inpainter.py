import json

import numpy as np
import pytest
import torch
from _phi_images import write_ct, write_png
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.io import read_scan
from medocr_cli.io.checkpoints import save_checkpoint
from medocr_cli.models.checkpoint import pack
from medocr_cli.models.inpainter.fills import (
    bridge_along,
    directional_fill,
    directional_fills,
    push_pull,
    select_fills,
)
from medocr_cli.models.inpainter.network import GatedConv2d, fill_only, prior_only
from medocr_cli.models.inpainter.predictor import LearnedInpainter
from medocr_cli.models.inpainter.repaint import hole_clusters, inpaint_array
from medocr_cli.models.inpainter.spec import inpainter_spec
from medocr_cli.models.inpainter.training import InpainterRecipe, inpainting_loss
from medocr_cli.models.registry import build
from medocr_cli.pipeline.inpaint import resolve_method
from medocr_cli.stages.inpaint import inpaint_stored
from medocr_cli.training.metrics import psnr, ssim

runner = CliRunner()
TINY = inpainter_spec((8, 8, 8), (2,))


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights folder holding an untrained tiny inpainter."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_checkpoint(folder / "inpainter.pt", pack(build(TINY), TINY))
    return folder


@pytest.fixture(scope="module")
def inpainter(weights):
    return LearnedInpainter(weights / "inpainter.pt")


def _mask(shape, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    mask[20:34, 10:60] = 255
    mask[rng.integers(0, shape[0], 30), rng.integers(0, shape[1], 30)] = 255
    return mask


def test_gated_conv_and_model_shapes():
    conv = GatedConv2d(4, 8, 3, stride=2)
    assert conv(torch.rand(2, 4, 33, 47)).shape == (2, 8, 17, 24)
    model = build(TINY).eval()
    with torch.no_grad():  # any size: padded to a multiple of 8 inside, cropped back
        out = model(torch.rand(1, 3, 37, 53), torch.zeros(1, 1, 37, 53))
    assert out.shape == (1, 3, 37, 53)


@pytest.mark.parametrize("colour", [False, True])
def test_uint8_outside_mask_bit_identical(inpainter, colour):
    rng = np.random.default_rng(1)
    shape = (70, 90, 3) if colour else (70, 90)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)
    mask = _mask((70, 90))
    out = inpaint_stored(frame, mask, value_range=(0, 255), method="learned", inpainter=inpainter)
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    assert not np.array_equal(out[mask > 0], frame[mask > 0])


def test_sixteen_bit_fill_stays_in_context_range(inpainter):
    frame = np.full((64, 64), 1000, np.uint16)
    frame[20:30, 10:50] = 4000  # burned-in text, far brighter than its surroundings
    mask = np.zeros((64, 64), np.uint8)
    mask[18:32, 8:52] = 255
    out = inpaint_stored(frame, mask, value_range=(0, 4095), method="learned", inpainter=inpainter)
    assert out.dtype == np.uint16
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    assert out[mask > 0].min() >= 1000 and out[mask > 0].max() <= 1001


def test_palette_keeps_indices(inpainter):
    palette = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)[::-1].copy()
    frame = np.random.default_rng(2).integers(0, 200, (48, 64), dtype=np.uint8)
    mask = _mask((48, 64))
    out = inpaint_stored(
        frame,
        mask,
        value_range=(0, 255),
        method="learned",
        palette=palette,
        inpainter=inpainter,
    )
    assert out.dtype == np.uint8 and np.array_equal(out[mask == 0], frame[mask == 0])


def test_inpaint_array_tiles_match_shape_and_keep_outside():
    model = build(TINY).eval()
    image = np.random.default_rng(3).random((90, 70)).astype(np.float32)
    mask = _mask((90, 70))
    out = inpaint_array(model, image, mask, tile=32, margin=8)
    assert out.shape == image.shape and np.array_equal(out[mask == 0], image[mask == 0])
    assert (out >= 0).all() and (out <= 1).all()


def test_hole_clusters_cover_every_hole_pixel_once():
    hole = np.zeros((200, 300), bool)
    hole[10:20, 10:60] = True  # a line
    hole[24:34, 10:50] = True  # the next line, 4 px below: same cluster
    hole[150:170, 200:290] = True  # a far corner block: its own cluster
    hole[100, 5] = True  # a lone pixel
    boxes = hole_clusters(hole, 8)
    assert boxes == [(10, 10, 34, 60), (100, 5, 101, 6), (150, 200, 170, 290)]
    covered = np.zeros_like(hole, np.int32)
    for top, left, bottom, right in boxes:
        covered[top:bottom, left:right] += 1
    assert (covered[hole] == 1).all()
    # Boxes that would overlap once grown are merged into one.
    crossing = np.zeros((100, 100), bool)
    crossing[10:12, 10:90] = True
    crossing[10:90, 50:52] = True
    crossing[80:82, 60:62] = True
    assert hole_clusters(crossing, 0) == [(10, 10, 90, 90)]


def test_windowed_fill_matches_whole_frame_fill_closely():
    # Windows give the network less context than the whole frame, but a smooth image with a
    # small hole must come out nearly the same either way.
    model = build(TINY).eval()
    yy, xx = np.mgrid[0:128, 0:160].astype(np.float32)
    image = (0.3 + 0.4 * xx / 160 + 0.2 * yy / 128).astype(np.float32)
    mask = np.zeros((128, 160), np.uint8)
    mask[20:28, 30:70] = 1
    mask[100:110, 120:150] = 1
    windowed = inpaint_array(model, image, mask, margin=16)
    whole = inpaint_array(model, image, mask, margin=1000)
    hole = mask > 0
    assert np.abs(windowed[hole] - image[hole]).max() < 0.05
    assert np.abs(windowed[hole] - whole[hole]).max() < 0.05


def test_bridge_along_interpolates_between_the_nearest_known_pixels():
    values = torch.tensor([[[[0.0, 9.0, 9.0, 9.0, 4.0, 9.0]]]])
    known = torch.tensor([[[[True, False, False, False, True, False]]]])
    filled, valid = bridge_along(values, known)
    assert torch.allclose(filled[0, 0, 0, :5], torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]))
    assert valid[0, 0, 0].tolist() == [True, True, True, True, True, False]  # nothing right


def test_directional_fill_continues_a_line_the_membrane_blurs():
    """A bright diagonal line cut by a text-like band comes back at its own angle only."""
    yy, xx = np.mgrid[0:64, 0:64]
    line = (np.abs(xx - yy) <= 2).astype(np.float32)  # runs down-right: 45 degrees
    image = torch.from_numpy(0.2 + 0.6 * line)[None, None]
    known = torch.ones_like(image)
    known[..., 26:38, :] = 0  # a band 12 px high across the whole width
    hole = known[0, 0] == 0
    membrane = push_pull(image * known, known, 16)
    along, valid = directional_fill(image * known, known, 45.0)
    across, _ = directional_fill(image * known, known, 135.0)
    assert bool(valid[0, 0, 26:38, 14:50].all())  # a 45 degree line out of the band both ways
    bridged = hole & valid[0, 0]
    error = {
        name: float((fill[0, 0] - image[0, 0])[bridged].abs().mean())
        for name, fill in (("along", along), ("across", across), ("membrane", membrane))
    }
    assert error["along"] < 0.02
    assert error["membrane"] > 4 * error["along"] and error["across"] > 4 * error["along"]
    fills = directional_fills(image * known, known, (0.0, 45.0), membrane)
    assert fills.shape == (1, 2, 64, 64)
    assert torch.equal(fills[:, :, ~hole], image[:, :, ~hole].expand(-1, 2, -1))
    # rows of the band have no known pixel left or right of them: the membrane stands in
    assert torch.equal(fills[0, 0][hole], membrane[0, 0][hole])


def test_self_check_ranks_the_direction_of_a_crossing_line_first():
    """The ring around the hole shows which fill continues the image: here the 45 degree one."""
    yy, xx = np.mgrid[0:64, 0:64]
    line = (np.abs(xx - yy) <= 2).astype(np.float32)
    image = torch.from_numpy(0.2 + 0.6 * line)[None, None]
    known = torch.ones_like(image)
    known[..., 26:36, 10:54] = 0
    angles = (0.0, 45.0, 90.0, 135.0)
    fills, prior, features = select_fills(image * known, known, angles, 8)
    assert fills.shape == (1, 5, 1, 64, 64) and prior.shape == features.shape == (1, 5, 64, 64)
    on_line = (known[0, 0] == 0) & torch.from_numpy(line > 0)
    assert bool((prior[0].argmax(dim=0)[on_line] == 2).all())  # membrane, 0, 45, ...
    assert bool((features[0].min(dim=0).values == 0).all())
    blend = (torch.softmax(prior, dim=1).unsqueeze(2) * fills).sum(dim=1)
    hole = known == 0
    assert (blend - image)[hole].abs().mean() < 0.25 * (fills[:, 0] - image)[hole].abs().mean()
    model = build(TINY).eval()  # an untrained model gives exactly this blend
    rgb = image.repeat(1, 3, 1, 1)
    with torch.no_grad():
        expected = prior_only(build(TINY))(rgb, 1 - known)
        assert torch.allclose(model(rgb, 1 - known), expected, atol=1e-6)


def test_the_first_design_without_directions_still_builds_and_runs():
    spec = {k: v for k, v in TINY.items() if k != "directions"}  # checkpoints before them
    model = build(spec).eval()
    assert model.directions == () and model.head.out_channels == 3
    image, mask = torch.rand(1, 3, 24, 40), torch.zeros(1, 1, 24, 40)
    mask[..., 8:14, 5:30] = 1
    with torch.no_grad():
        assert torch.allclose(model(image, mask), fill_only(model)(image, mask))  # zero head
    directional = build(TINY).eval()
    assert directional.head.out_channels == len(TINY["directions"]) + 1  # logits only


def test_push_pull_fills_smoothly_and_keeps_known_pixels():
    _, xx = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 40), indexing="ij")
    ramp = (0.2 + 0.6 * xx)[None, None]
    known = torch.ones_like(ramp)
    known[..., 10:30, 12:28] = 0
    filled = push_pull(ramp * known, known)
    assert torch.equal(filled[known > 0], ramp[known > 0])
    assert (filled - ramp).abs().max() < 0.05  # a linear ramp is spanned almost exactly
    model = build(TINY).eval()
    with torch.no_grad():
        base = fill_only(model)(ramp.repeat(1, 3, 1, 1), 1 - known)
    expected = push_pull((ramp * known).repeat(1, 3, 1, 1), known, TINY["fill_iterations"])
    assert torch.allclose(base, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("spec", "ratio"),
    [
        # the blend of fills can only choose among them: it learns which, per pixel
        (TINY, 0.9),
        # the first design paints a correction: it can learn the pattern itself
        ({k: v for k, v in TINY.items() if k != "directions"}, 0.5),
    ],
)
def test_loss_decreases_on_tiny_overfit(spec, ratio):
    torch.manual_seed(0)
    model = build(spec)
    xx = torch.arange(32.0).expand(32, 32)
    # checks: no straight line bridges them (stripes would be, by a directional fill)
    checks = 0.5 + 0.4 * torch.sin(xx / 2) * torch.sin(xx.T / 3)
    images = torch.stack([checks.expand(3, 32, 32), checks.T.expand(3, 32, 32)])
    masks = torch.zeros(2, 1, 32, 32)
    masks[:, :, 10:20, 10:20] = 1
    recipe = InpainterRecipe()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    errors = []  # squared error in the hole: the loss itself is a log, negative
    for _ in range(80):
        predicted = model(images, masks)
        loss = inpainting_loss(predicted, images, masks, recipe)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        errors.append(float(((predicted.detach() - images) ** 2 * masks).sum() / masks.sum()))
    assert errors[-1] < ratio * errors[0]


def test_log_loss_weighs_each_crop_alike():
    """Halving the error of a nearly exact crop counts as much as halving a noisy crop's."""
    recipe = InpainterRecipe(hole_weight=0.0, valid_weight=0.0)
    target = torch.zeros(2, 3, 8, 8)
    mask = torch.ones(2, 1, 8, 8)

    def loss_with(errors: tuple[float, float]) -> float:
        predicted = target + torch.tensor(errors).view(2, 1, 1, 1)
        return float(inpainting_loss(predicted, target, mask, recipe))

    base = loss_with((0.02, 0.3))
    gain_easy = base - loss_with((0.02 / 2**0.5, 0.3))
    gain_noisy = base - loss_with((0.02, 0.3 / 2**0.5))
    assert gain_easy == pytest.approx(gain_noisy, rel=0.1)


def test_metrics():
    a = np.full((32, 32), 100, np.uint8)
    b = a.copy()
    b[0, 0] = 110
    assert psnr(a, a) == 50.0  # exact refills are capped, not infinite
    assert psnr(a, b, b != a) == pytest.approx(10 * np.log10(255**2 / 100))
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) < 1.0


def test_cli_learned_on_int16_ct(tmp_path, weights):
    boxes = write_ct(tmp_path / "ct.dcm")
    x0, y0, x1, y1 = boxes[1]
    spec = [{"path": "ct.dcm", "boxes": [{"frame": 0, "box": [x0, y0, x1, y1]}]}]
    (tmp_path / "b.json").write_text(json.dumps(spec))
    out = tmp_path / "clean.dcm"
    result = runner.invoke(
        app,
        [
            "inpaint",
            str(tmp_path / "ct.dcm"),
            "--boxes",
            str(tmp_path / "b.json"),
            "-o",
            str(out),
            "--method",
            "learned",
            "--weights",
            str(weights),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["method"] == "learned"
    scan_in, scan_out = read_scan(tmp_path / "ct.dcm"), read_scan(out)
    a, b = scan_in.frames[0], scan_out.frames[0]
    assert b.dtype == np.int16 == a.dtype
    changed = a != b
    assert changed.any()
    rows, cols = np.nonzero(changed)
    assert rows.min() >= y0 - 10 and rows.max() < y1 + 10
    assert cols.min() >= x0 - 10 and cols.max() < x1 + 10
    lo, hi = scan_in.value_range
    assert b.min() >= lo and b.max() <= hi


def test_cli_learned_mask_png(tmp_path, weights):
    write_png(tmp_path / "a.png")
    mask = np.zeros((256, 256), np.uint8)
    mask[0:40, 0:120] = 255
    from PIL import Image

    Image.fromarray(mask).save(tmp_path / "m.png")
    result = runner.invoke(
        app,
        [
            "inpaint",
            str(tmp_path / "a.png"),
            "--mask",
            str(tmp_path / "m.png"),
            "--weights",
            str(weights),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "learned" in result.output  # auto picks learned when the weights are there
    a = read_scan(tmp_path / "a.png").frames[0]
    b = read_scan(tmp_path / "a.inpainted.png").frames[0]
    assert np.array_equal(a[mask == 0], b[mask == 0]) and not np.array_equal(a, b)


def test_learned_without_weights_is_a_usage_error(tmp_path):
    write_png(tmp_path / "a.png")
    from PIL import Image

    Image.fromarray(np.full((256, 256), 255, np.uint8)).save(tmp_path / "m.png")
    args = ["inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png")]
    result = runner.invoke(app, [*args, "--method", "learned", "--weights", str(tmp_path)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "hint" in result.output
    assert resolve_method("auto", tmp_path) == "telea"
    assert not (tmp_path / "a.inpainted.png").exists()


def test_train_and_evaluate_inpainter(tmp_path):
    data = tmp_path / "ds"  # 40 images: the first with val (32-35) and test (36-39) images
    made = runner.invoke(
        app, ["--quiet", "generate-dataset", str(data), "--count", "40", "--size", "256"]
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "run"
    args = ["--quiet", "train", "inpainter", str(data), "--out", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--batch-size", "8", "--size", "64", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    test = report["test"]
    assert test["outside_identical"] is True and test["outside_changed_pixels"] == 0
    for key in ("psnr_mask_learned", "psnr_mask_telea", "ssim_learned", "ssim_telea"):
        assert np.isfinite(test[key])
    assert (out / "inpainter.pt").is_file() and (out / "inpainter.samples.e01.png").is_file()
    assert "val_psnr" in report["val"]
    again = runner.invoke(
        app,
        [
            "train",
            "inpainter",
            str(data),
            "--evaluate-only",
            "--weights",
            str(out / "inpainter.pt"),
            "--split",
            "test",
            "--json",
        ],
    )
    assert again.exit_code == 0, again.output
    evaluated = json.loads(again.stdout)
    assert evaluated["psnr_mask_learned"] == pytest.approx(test["psnr_mask_learned"])


def test_nearest_palette_index_matches_exhaustive_search():
    from medocr_cli.models.inpainter.predictor import nearest_palette_index

    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (300, 3)).astype(np.uint8)
    palette[200:] = palette[:100]  # repeated entries: the first index wins
    colours = rng.integers(0, 256, (500, 3)).astype(np.uint8)
    colours[250:] = colours[:250]  # repeated colours, looked up once
    d = ((colours[:, None, :].astype(int) - palette[None].astype(int)) ** 2).sum(axis=2)
    assert np.array_equal(nearest_palette_index(colours, palette), d.argmin(axis=1))
    assert nearest_palette_index(colours[:0], palette).shape == (0,)
