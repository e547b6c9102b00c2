"""Site recipes (`--config site.toml`, issue 27 part 4): loading, validation, per-scanner rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _phi_images import background, text_layer
from conftest import make_dicom
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import REPORT_NAME
from medocr_cli.site_config import CHOICES, Rect, load_site_config

runner = CliRunner()
SIZE = 256
#: A bright block in the lower right: not text, so the finder leaves it; a rule clears it.
BLOCK = (200, 216, 40, 24)  # x, y, width, height


def scrub(*args: str):
    return runner.invoke(app, ["--quiet", "scrub", *args])


def one_line(result) -> str:
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def ultrasound(path: Path, manufacturer: str, model: str, *, phi: bool = False) -> np.ndarray:
    """A 256 px grey US image with the block (and, with `phi`, three PHI lines) burned in."""
    img = background(SIZE, seed=3) * 180
    x, y, w, h = BLOCK
    img[y : y + h, x : x + w] = 250
    if phi:
        alpha, _ = text_layer(SIZE)
        img = img * (1 - alpha / 255) + 255 * (alpha / 255)
    arr = img.round().astype(np.uint8)
    extra = {"Manufacturer": manufacturer, "ManufacturerModelName": model, "Modality": "US"}
    make_dicom(path, arr, extra=extra)
    return arr


RECIPE = f"""
weights = "{Path(__file__).resolve().parents[1] / "weights"}"
method = "telea"
verify = true

[forward]
host = "pacs.example.org"
port = 104
ae_title = "RESEARCH"

[[rule]]
name = "Acme Sono 5"
manufacturer = "acme"
model_regex = '^Sono ?5\\b'
modality = "US"
rows = {SIZE}
columns = {SIZE}
clear = [[{", ".join(map(str, BLOCK))}]]

[[rule]]
name = "Keeper K1"
manufacturer_regex = '^Keeper'
rows = {SIZE}
columns = {SIZE}
keep = [[0, 0, 200, 30]]
"""


def test_a_recipe_loads(tmp_path: Path) -> None:
    (tmp_path / "salt.txt").write_text("s3cret\n")
    path = write(
        tmp_path / "site.toml",
        RECIPE.replace("verify = true", 'verify = true\nsalt_file = "salt.txt"'),
    )
    site = load_site_config(path)
    assert site.options["method"] == "telea" and site.options["verify"] is True
    assert site.options["salt_file"] == tmp_path / "salt.txt"  # relative to the recipe
    assert site.forward is not None and (site.forward.host, site.forward.port) == (
        "pacs.example.org",
        104,
    )
    assert site.forward.ae_title == "RESEARCH"
    assert site.rules is not None
    acme, keeper = site.rules.rules
    assert acme.clear == (Rect(*BLOCK),) and acme.keep == () and acme.modality == "US"
    assert keeper.keep == (Rect(0, 0, 200, 30),)
    assert acme.matches("ACME Medical", "Sono 5 Pro", "us", SIZE, SIZE)
    assert not acme.matches("ACME Medical", "Sono 50", "US", SIZE, SIZE)  # \b in the regex
    assert not acme.matches("ACME Medical", "Sono 5", "CT", SIZE, SIZE)  # modality
    assert not acme.matches("ACME Medical", "Sono 5", "US", SIZE, SIZE + 1)  # size


def test_choices_are_the_pipelines() -> None:
    from medocr_cli.pipeline.find_text import FINDERS, TESSERACT_MODES
    from medocr_cli.pipeline.inpaint import AUTO
    from medocr_cli.pipeline.scrub import FLAGGED_MODES, HEADER_MODES
    from medocr_cli.stages.inpaint import ALL_METHODS

    assert set(CHOICES["method"]) == {AUTO, *ALL_METHODS}
    assert set(CHOICES["header"]) == set(HEADER_MODES)
    assert set(CHOICES["find"]) == set(FINDERS)
    assert set(CHOICES["tesseract"]) == set(TESSERACT_MODES)
    assert set(CHOICES["flagged"]) == set(FLAGGED_MODES)


SECRET = "Zq7-SECRET-VALUE"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (f'methd = "{SECRET}"', "methd"),
        (f'method = "{SECRET}"', "method"),
        ('workers = "4"', "workers"),
        ("workers = 0", "workers"),
        ("verify = 1", "verify"),
        (f'salt = "{SECRET}"', "salt"),
        (f'salt_file = "{SECRET}"', "salt_file"),
        ('[forward]\nhost = "h"\nport = 70000\nae_title = "A"', "forward.port"),
        ('[forward]\nhost = "h"\nport = 104', "forward.ae_title"),
        (
            f'[[rule]]\nmanufacturer = "{SECRET}"\nrows = 10\ncolumns = 10\nclear = [[0,0,11,1]]',
            "rule[1].clear[1]",
        ),
        (
            f'[[rule]]\nmanufacturer = "{SECRET}"\nrows = 10\ncolumns = 10\nkeep = [[0, 0, 1]]',
            "rule[1].keep[1]",
        ),
        ("[[rule]]\nrows = 10\ncolumns = 10\nclear = [[0, 0, 1, 1]]", "rule[1].manufacturer"),
        (
            f'[[rule]]\nmodel_regex = "{SECRET}("\nrows = 1\ncolumns = 1\nclear = [[0,0,1,1]]',
            "rule[1].model_regex",
        ),
        ('[[rule]]\nmodel = "x"\nrows = 1\ncolumns = 1\ncolour = "red"', "rule[1].colour"),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_the_key(tmp_path: Path, body: str, key: str):
    recipe = write(tmp_path / "site.toml", body + "\n")
    with pytest.raises(UsageError) as err:
        load_site_config(recipe)
    assert f"key {key!r}" in err.value.message and err.value.hint
    result = scrub(str(tmp_path / "none"), str(tmp_path / "out"), "--config", str(recipe))
    line = one_line(result)
    assert result.exit_code == 2 and f"key {key!r}" in line and "hint:" in line
    assert SECRET not in line  # never the value
    assert not (tmp_path / "out").exists()


def test_not_toml_is_one_line(tmp_path: Path) -> None:
    recipe = write(tmp_path / "site.toml", "method = \n")
    result = scrub(str(tmp_path), str(tmp_path / "out"), "--config", str(recipe))
    assert result.exit_code == 2 and "not valid TOML" in one_line(result)


def test_command_line_overrides_the_recipe(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r" / "site.toml", 'verify = false\ncluster = "local:0"\n')
    src = tmp_path / "in"
    ultrasound(src / "a.dcm", "Other", "X")
    refused = scrub(str(src), str(tmp_path / "o1"), "--config", str(recipe))
    assert refused.exit_code == 2 and "local:N" in one_line(refused)  # the recipe's cluster
    # --workers on the command line drops the recipe's cluster (they are alternatives)
    result = scrub(str(src), str(tmp_path / "o2"), "--config", str(recipe), "--workers", "1")
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(x) for x in (tmp_path / "o2" / REPORT_NAME).read_text().splitlines()]
    assert line["verified"] is False  # the recipe's verify = false still applies


@pytest.fixture(scope="module")
def ruled(tmp_path_factory) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """One run over three scanners' images with the recipe: (inputs, outputs, input pixels)."""
    root = tmp_path_factory.mktemp("rules")
    src = root / "in"
    pixels = {
        "match.dcm": ultrasound(src / "match.dcm", "ACME Medical Systems", "Sono 5"),
        "other.dcm": ultrasound(src / "other.dcm", "Other Corp", "Sono 5"),
        "keeper.dcm": ultrasound(src / "keeper.dcm", "Keeper Inc", "K1", phi=True),
    }
    recipe = write(root / "site.toml", RECIPE)
    out = root / "out"
    result = scrub(str(src), str(out), "--config", str(recipe))
    assert result.exit_code == 0, result.output
    return src, out, pixels


def report(out: Path) -> dict[str, dict]:
    lines = [json.loads(x) for x in (out / REPORT_NAME).read_text().splitlines()]
    return {Path(line["path"]).name: line for line in lines}


def block(arr: np.ndarray) -> np.ndarray:
    x, y, w, h = BLOCK
    return arr[y : y + h, x : x + w]


def test_always_clear_rectangle_is_removed_on_a_matching_dicom(ruled) -> None:
    _, out, pixels = ruled
    after = read_scan(out / "match.dcm").frames[0]
    assert block(pixels["match.dcm"]).min() == 250
    assert block(after).max() < 240  # repainted from the grey around it
    x, y, w, h = BLOCK
    outside = np.ones_like(after, bool)
    outside[y - 4 : y + h + 4, x - 4 : x + w + 4] = False
    assert np.array_equal(after[outside], pixels["match.dcm"][outside])
    line = report(out)["match.dcm"]
    assert line["status"] == "ok" and line["site_rule"] == "Acme Sono 5"
    assert [0, x, y, x + w, y + h] in line["regions"]


def test_always_clear_rectangle_is_kept_on_a_non_matching_dicom(ruled) -> None:
    _, out, pixels = ruled
    after = read_scan(out / "other.dcm").frames[0]
    assert np.array_equal(block(after), block(pixels["other.dcm"]))
    line = report(out)["other.dcm"]
    assert line["site_rule"] is None
    assert not any(
        r[1:] == [BLOCK[0], BLOCK[1], BLOCK[0] + BLOCK[2], BLOCK[1] + BLOCK[3]]
        for r in line["regions"]
    )


def test_never_touch_region_keeps_its_pixels(ruled) -> None:
    _, out, pixels = ruled
    line = report(out)["keeper.dcm"]
    # ok, not flagged: the text left inside the region on purpose is not residual text
    assert line["status"] == "ok" and line["site_rule"] == "Keeper K1"
    before, after = pixels["keeper.dcm"], read_scan(out / "keeper.dcm").frames[0]
    assert np.array_equal(after[0:30, 0:200], before[0:30, 0:200])  # the first PHI line kept
    assert not np.array_equal(after[30:90, 0:200], before[30:90, 0:200])  # the others removed
    inside = [r for r in line["regions"] if r[3] <= 200 and r[4] <= 30]
    assert not inside  # the finder's boxes wholly inside the region were dropped
