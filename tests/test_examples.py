"""The README's demo: scrubbing the shipped examples leaves no PHI that Tesseract can read."""

import json
from pathlib import Path

import pytest
from _phi_images import ocr_words, phi_read

from medocr_cli.io import read_scan
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.types import Status

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PHI = json.loads((EXAMPLES / "phi.json").read_text())


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    out = tmp_path_factory.mktemp("examples-out")
    summary = run_scrub(ScrubConfig(inputs=[EXAMPLES], output=out))
    return out, summary


def test_every_example_is_cleaned(cleaned):
    _, summary = cleaned
    statuses = {Path(r.path).name: r.status for r in summary.results}
    for name in PHI:
        assert statuses[name] == Status.OK
    assert summary.exit_code == 0


@pytest.mark.parametrize("name", sorted(PHI))
def test_no_phi_readable_after_scrub(cleaned, name):
    out, _ = cleaned
    before = read_scan(EXAMPLES / name)
    after = read_scan(out / name)
    assert phi_read(ocr_words(before.display(0)), PHI[name])  # legible before: the check can fail
    for i in range(after.n_frames):
        assert phi_read(ocr_words(after.display(i)), PHI[name]) == [], f"frame {i}"
