"""`scrub`: identical cine frames read once, `--resume`, verification, `--strict` quarantine."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _phi_images import write_ct, write_png
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.cli.common import GlobalOptions
from medocr_cli.errors import UsageError
from medocr_cli.io import read_scan
from medocr_cli.io.walk import REPORT_NAME
from medocr_cli.pipeline.scrub import ScrubConfig, load_run_models, run_scrub, scrub_file
from medocr_cli.types import Status

runner = CliRunner()


@pytest.fixture
def models():
    """The run's models, handed to every run of a test through the `models=` seam.

    The fixtures below put test doubles into them.
    """
    return load_run_models(ScrubConfig(inputs=[], output=Path()))


@pytest.fixture
def cli_models(models):
    """The CLI's global options carrying `models`: its runs use them (the CLI's models seam)."""
    return GlobalOptions(models=models)


class RecordingFinder:
    """A finder double: the real finder, recording the shape of every frame it searches."""

    def __init__(self, finder, seen: list) -> None:
        self.finder, self.seen = finder, seen

    def find(self, frames, indices):
        self.seen.extend(f.shape for f in frames)
        return self.finder.find(frames, indices)


@pytest.fixture
def calls(models):
    """Record every text search of a run: each frame the finder searches, each output verified.

    Verify searches each distinct frame of an output once; the outputs here hold one.
    """
    seen: list = []
    models.finder = RecordingFinder(models.finder, seen)
    real_search = models.search_output

    def search_output(path, *rest):
        seen.append(path.name)
        return real_search(path, *rest)

    models.search_output = search_output
    return seen


@pytest.fixture
def no_repaint(models):
    """Make the inpainting step do nothing, so the text stays in the output."""
    models.repaint = lambda *args, **kwargs: None


def report(out: Path) -> dict[str, dict]:
    lines = [json.loads(x) for x in (out / REPORT_NAME).read_text().splitlines()]
    return {Path(line["path"]).name: line for line in lines}


def two_pngs(src: Path) -> None:
    write_png(src / "a.png", seed=1)
    write_png(src / "b.png", seed=2)


def test_identical_frames_are_searched_once(tmp_path, models, calls):
    src = tmp_path / "in"
    write_ct(src / "cine.dcm", size=160, frames=4)
    before = read_scan(src / "cine.dcm")
    assert all(np.array_equal(before.frames[0], f) for f in before.frames)  # repeated frames
    summary = run_scrub(ScrubConfig(inputs=[src], output=tmp_path / "out"), models=models)
    (result,) = summary.results
    assert result.status == Status.OK and result.frames == 4
    assert result.frames_reused == 3
    assert result.boxes >= 3 * 4  # every frame's boxes counted
    # one search to clean and one per check (two when the first check repaired something),
    # for four identical frames
    assert len(calls) == 1 + (2 if result.repaired else 1)
    after = read_scan(tmp_path / "out" / "cine.dcm")
    for i in range(4):  # the repaint still reaches every frame
        assert not np.array_equal(after.frames[i], before.frames[i])
    assert report(tmp_path / "out")["cine.dcm"]["frames_reused"] == 3


def test_resume_skips_finished_and_redoes_changed(tmp_path, models, calls):
    src, out = tmp_path / "in", tmp_path / "out"
    two_pngs(src)
    first = run_scrub(ScrubConfig(inputs=[src], output=out, verify=False), models=models)
    assert [r.status for r in first.results] == [Status.OK, Status.OK]
    line = report(out)["a.png"]
    assert line["input_size"] == (src / "a.png").stat().st_size
    assert line["input_mtime_ns"] == (src / "a.png").stat().st_mtime_ns
    st = (src / "b.png").stat()
    os.utime(src / "b.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # b changed
    calls.clear()

    # Without --overwrite the changed file's existing output is a clash: the run stops (exit 2)
    # before touching anything, as without --resume.
    journal = (out / ".medocr" / "journal.jsonl").read_bytes()
    with pytest.raises(UsageError, match="--overwrite"):
        run_scrub(ScrubConfig(inputs=[src], output=out, resume=True, verify=False), models=models)
    assert calls == [] and (out / ".medocr" / "journal.jsonl").read_bytes() == journal
    # Resuming again with --overwrite skips a, redoes b.
    again = run_scrub(
        ScrubConfig(inputs=[src], output=out, resume=True, overwrite=True, verify=False),
        models=models,
    )
    by_name = {Path(r.path).name: r for r in again.results}
    assert by_name["a.png"].resumed is True
    assert by_name["a.png"].verified is False  # carried from the first run
    assert by_name["b.png"].status == Status.OK and not by_name["b.png"].resumed
    assert len(calls) == 1 and again.exit_code == 0
    assert report(out)["a.png"]["resumed"] is True
    assert report(out)["b.png"]["input_mtime_ns"] == (src / "b.png").stat().st_mtime_ns


def test_resume_after_interruption(tmp_path, models, calls):
    src, out = tmp_path / "in", tmp_path / "out"
    two_pngs(src)
    stop_at = ["b.png"]

    def interrupted(item, target, config, header=None, models=None, *rest):
        if item.path.name in stop_at:
            raise KeyboardInterrupt
        return scrub_file(item, target, config, header, models, *rest)

    with pytest.raises(KeyboardInterrupt):
        run_scrub(
            ScrubConfig(inputs=[src], output=out, verify=False),
            models=models,
            scrub_one=interrupted,
        )
    # b was being cleaned when the run stopped: reported failed (interrupted), nothing written.
    assert report(out)["a.png"]["status"] == "ok" and not (out / "b.png").exists()
    assert (
        report(out)["b.png"]["status"] == "failed"
        and "interrupted" in report(out)["b.png"]["error"]
    )
    # A killed run leaves no report, only its journal; resume reads that.
    (out / REPORT_NAME).unlink()
    calls.clear()
    summary = run_scrub(
        ScrubConfig(inputs=[src], output=out, resume=True, verify=False), models=models
    )
    by_name = {Path(r.path).name: r for r in summary.results}
    assert by_name["a.png"].resumed is True
    assert by_name["b.png"].status == Status.OK and not by_name["b.png"].resumed
    assert len(calls) == 1 and (out / "b.png").exists()
    assert set(report(out)) == {"a.png", "b.png"}

    # A resumed run interrupted at a (changed) keeps the earlier line of b, which it never reached.
    stop_at[:] = ["a.png"]
    st = (src / "a.png").stat()
    os.utime(src / "a.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        run_scrub(
            ScrubConfig(inputs=[src], output=out, resume=True, overwrite=True, verify=False),
            models=models,
            scrub_one=interrupted,
        )
    assert report(out)["b.png"]["status"] == "ok"  # carried over, so still resumable
    calls.clear()
    last = run_scrub(
        ScrubConfig(inputs=[src], output=out, resume=True, overwrite=True, verify=False),
        models=models,
    )
    by_name = {Path(r.path).name: r for r in last.results}
    assert by_name["b.png"].resumed is True
    assert by_name["a.png"].status == Status.OK and not by_name["a.png"].resumed
    assert len(calls) == 1


def test_verify_flags_residual_text(tmp_path, models, no_repaint, calls):
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png")
    summary = run_scrub(ScrubConfig(inputs=[src], output=out, flagged="keep"), models=models)
    (result,) = summary.results
    assert result.status == Status.FLAGGED and result.residual >= 1
    assert len(result.residual_regions) == result.residual
    # one search to clean; verify searches, repairs (in vain here) and searches again
    assert summary.exit_code == 1 and len(calls) == 3
    assert (out / "a.png").exists()  # with --flagged keep it stays in the output tree
    line = report(out)["a.png"]
    assert line["status"] == "flagged" and line["residual"] == result.residual
    assert "quarantined" not in line
    text = (out / REPORT_NAME).read_text()
    assert "4821937" not in text and "JANE" not in text


def test_strict_quarantines_and_exits_1(tmp_path, no_repaint, cli_models):
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "sub" / "a.png")
    result = runner.invoke(
        app, ["--quiet", "scrub", str(src), str(out), "--strict"], obj=cli_models
    )
    assert result.exit_code == 1, result.output
    moved = out / "_quarantine" / "sub" / "a.png"
    assert moved.is_file() and not (out / "sub" / "a.png").exists()
    line = report(out)["a.png"]
    assert line["status"] == "flagged" and line["quarantined"] == str(moved)
    assert line["output"] is None
    # The quarantine folder is never an input of a later run into the same OUT.
    with pytest.raises(UsageError):
        run_scrub(ScrubConfig(inputs=[out / "_quarantine"], output=out))


def test_no_verify_skips_the_check(tmp_path, no_repaint, calls, cli_models):
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png")
    result = runner.invoke(
        app, ["--quiet", "scrub", str(src), str(out), "--no-verify"], obj=cli_models
    )
    assert result.exit_code == 0, result.output
    line = report(out)["a.png"]
    assert line["status"] == "ok" and line["verified"] is False and "residual" not in line
    assert len(calls) == 1


def test_option_errors(tmp_path):
    write_png(tmp_path / "in" / "a.png")
    with pytest.raises(UsageError):
        run_scrub(ScrubConfig(inputs=[tmp_path / "in"], output=tmp_path / "o", flagged="bin"))
    with pytest.raises(UsageError):
        run_scrub(
            ScrubConfig(
                inputs=[tmp_path / "in"], output=tmp_path / "o", resume=True, header="basic"
            )
        )
    result = runner.invoke(
        app, ["scrub", str(tmp_path / "in"), str(tmp_path / "o"), "--flagged", "bin"]
    )
    assert result.exit_code == 2
