"""Hardening of `medocr scrub` (issue 24): outputs never land on inputs, no result is lost, the
report is a journal that survives any kill, full or read-only disks give one line, and odd
entries (links, loops, FIFOs) are reported, never followed out of the input or opened.

Each case failed on the code before this change: inputs were overwritten, two inputs reported
`ok` for one output, a second run overwrote the report, kills lost resume state, a full disk at
report time gave a traceback, and FIFOs, dangling links and links out of IN went unreported.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _phi_images import tree_digest, write_png
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import UsageError
from medocr_cli.io.walk import REPORT_NAME, walk_inputs
from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub
from medocr_cli.pipeline.scrub.journal import journal_path, run_lock

runner = CliRunner()


def scrub(*args: str):
    """Run `medocr --quiet scrub ARGS` in-process; return the click result."""
    return runner.invoke(app, ["--quiet", "scrub", *args, "--no-verify"])


def one_line(result) -> str:
    """The error output of a refused run: exactly one line, no traceback."""
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def report(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / REPORT_NAME).read_text().splitlines()]


def accounted(out: Path) -> tuple[set[str], set[str]]:
    """(files under OUT that are outputs, the outputs the report names), journal/report aside."""
    files = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.relative_to(out).parts[0] not in (".medocr", REPORT_NAME)
    }
    named = set()
    for line in report(out):
        for key in ("output", "quarantined"):
            if line.get(key):
                named.add(Path(line[key]).relative_to(out).as_posix())
    return files, named


# --- 1. outputs never land on inputs ----------------------------------------------------------


def test_lone_file_into_its_own_folder_is_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "dir" / "s.png", size=96)
    before = tree_digest(tmp_path / "dir")
    result = scrub(str(tmp_path / "dir" / "s.png"), str(tmp_path / "dir"), "--overwrite")
    assert result.exit_code == 2 and "inside output folder" in one_line(result)
    assert tree_digest(tmp_path / "dir") == before


def test_input_inside_output_is_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "o" / "in" / "a.png", size=96, seed=1)
    write_png(tmp_path / "o" / "in" / "in" / "a.png", size=96, seed=2)
    before = tree_digest(tmp_path / "o")
    result = scrub(str(tmp_path / "o" / "in"), str(tmp_path / "o"), "--overwrite")
    assert result.exit_code == 2 and "inside output folder" in one_line(result)
    assert tree_digest(tmp_path / "o") == before


def test_symlink_in_output_leading_into_input_is_refused(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "sub" / "a.png", size=96)
    out.mkdir()
    (out / "sub").symlink_to(src / "sub", target_is_directory=True)
    before = tree_digest(src)
    result = scrub(str(src), str(out), "--overwrite")
    assert result.exit_code == 2 and "resolves into the inputs" in one_line(result)
    assert tree_digest(src) == before


# --- 2. no result silently lost ---------------------------------------------------------------


def test_two_inputs_with_the_same_relative_path_are_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "A" / "x.png", size=96, seed=1)
    write_png(tmp_path / "B" / "x.png", size=96, seed=2)
    out = tmp_path / "out"
    result = scrub(str(tmp_path / "A"), str(tmp_path / "B"), str(out))
    assert result.exit_code == 2 and "would both be written to" in one_line(result)
    assert not out.exists()  # refused before anything was written


# --- 5. the report is a journal ---------------------------------------------------------------


def test_second_run_into_the_same_out_exits_2_before_touching_anything(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96, seed=1)
    write_png(src / "b.png", size=96, seed=2)
    assert scrub(str(src), str(out)).exit_code == 0
    before = tree_digest(out)
    again = scrub(str(src), str(out))
    assert again.exit_code == 2 and "already exist" in one_line(again)
    assert "--resume" in again.output and "--overwrite" in again.output
    assert tree_digest(out) == before  # report, journal and outputs untouched


def test_a_run_while_another_holds_out_exits_2(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    out.mkdir()
    with run_lock(out), pytest.raises(UsageError, match="another medocr run"):
        run_scrub(ScrubConfig(inputs=[src], output=out, verify=False))
    assert not (out / "a.png").exists()


def test_a_torn_journal_line_is_passed_over(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96, seed=1)
    write_png(src / "b.png", size=96, seed=2)
    run_scrub(ScrubConfig(inputs=[src / "a.png"], output=out, verify=False))
    with open(journal_path(out), "ab") as fh:
        fh.write(b'{"path": "torn by a kill')  # no newline: the process died mid-write
    summary = run_scrub(ScrubConfig(inputs=[src], output=out, verify=False, resume=True))
    assert [r.resumed for r in summary.results] == [True, False]
    assert [line["status"] for line in report(out)] == ["ok", "ok"]


def _medocr(*args: str) -> subprocess.Popen:
    code = "from medocr_cli.cli.app import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--quiet", "scrub", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finished_lines(out: Path) -> int:
    try:
        text = journal_path(out).read_text()
    except OSError:
        return 0
    return sum('"status": "started"' not in line for line in text.splitlines())


def _kill_after(proc: subprocess.Popen, out: Path, lines: int) -> None:
    """SIGKILL `proc` once the journal holds `lines` finished lines (or it ends)."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and _finished_lines(out) < lines and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_two_kill_9_in_a_row_then_resume(tmp_path: Path) -> None:
    """kill -9 twice (the second during --resume --overwrite), then --resume: all done, once."""
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(8):
        write_png(src / f"f{i}.png", size=128, seed=i)
    _kill_after(_medocr(str(src), str(out), "--no-verify"), out, 2)
    _kill_after(_medocr(str(src), str(out), "--no-verify", "--resume", "--overwrite"), out, 4)
    last = _medocr(str(src), str(out), "--no-verify", "--resume")
    _, err = last.communicate(timeout=300)
    assert last.returncode == 0, err.decode()
    lines = report(out)
    assert sorted(Path(x["path"]).name for x in lines) == [f"f{i}.png" for i in range(8)]
    assert all(x["status"] == "ok" for x in lines)
    assert sum(bool(x.get("resumed")) for x in lines) >= 2  # the first kills' work was kept
    files, named = accounted(out)
    assert files == named  # no output the report does not account for, no temp left


# --- 6. disk full and read-only ---------------------------------------------------------------


def _failing_replace(name: str, code: int, monkeypatch) -> None:
    real = os.replace

    def replace(a, b, *args, **kwargs):
        if Path(b).name == name:
            raise OSError(code, os.strerror(code))
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS], ids=["full", "read-only"])
def test_report_that_cannot_be_written_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch, code: int
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    _failing_replace(REPORT_NAME, code, monkeypatch)
    result = scrub(str(src), str(out))
    monkeypatch.undo()
    assert result.exit_code == 1
    line = one_line(result)
    assert REPORT_NAME in line and "--resume" in line
    journal = [json.loads(x) for x in journal_path(out).read_text().splitlines()]
    assert [x["status"] for x in journal] == ["started", "ok"]  # the result is not lost
    assert scrub(str(src), str(out), "--resume").exit_code == 0
    assert [x["status"] for x in report(out)] == ["ok"]


def test_journal_that_cannot_be_written_takes_the_output_back(tmp_path: Path, monkeypatch) -> None:
    """Disk full when b's line is journaled: b's output is removed, the run stops, exit 1."""
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a.png", "b.png", "c.png"):
        write_png(src / name, size=96, seed=len(name) + ord(name[0]))
    real_fsync = os.fsync
    synced: list[int] = []

    def fsync(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name == "journal.jsonl":
            synced.append(fd)
            if len(synced) == 2:  # the line of b, the second file
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = scrub(str(src), str(out))
    monkeypatch.undo()
    assert result.exit_code == 1 and "journal" in one_line(result)
    assert (out / "a.png").exists() and not (out / "b.png").exists()
    assert not (out / "c.png").exists()
    files, named = accounted(out)
    assert files == {"a.png"} and "a.png" in named


def test_read_only_output_folder_is_one_line_and_exit_1(tmp_path: Path, monkeypatch) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    real_open = os.open

    def ro_open(path, flags, *args, **kwargs):
        if str(path).startswith(str(out)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, flags, *args, **kwargs)

    out.mkdir()
    monkeypatch.setattr(os, "open", ro_open)
    result = scrub(str(src), str(out))
    monkeypatch.undo()
    assert result.exit_code == 1 and "writable" in one_line(result)
    assert not (out / "a.png").exists()


# --- 7. odd entries ---------------------------------------------------------------------------


@pytest.fixture
def odd_tree(tmp_path: Path) -> tuple[Path, Path]:
    src, outside = tmp_path / "in", tmp_path / "outside"
    write_png(src / "a.png", size=96, seed=1)
    write_png(outside / "secret.png", size=96, seed=2)
    (src / "loop").symlink_to(src, target_is_directory=True)  # a folder link to its parent
    (src / "self.png").symlink_to(src / "self.png")  # a link to itself
    (src / "dangling.png").symlink_to(tmp_path / "gone.png")
    (src / "out_file.png").symlink_to(outside / "secret.png")
    (src / "out_dir").symlink_to(outside, target_is_directory=True)
    (src / "inside.png").symlink_to(src / "a.png")  # stays inside IN: processed
    os.mkfifo(src / "pipe.png")
    return src, outside


def test_odd_entries_are_reported_skipped_with_the_reason(odd_tree, tmp_path: Path) -> None:
    src, _ = odd_tree
    out = tmp_path / "out"
    result = scrub(str(src), str(out))  # would hang on the FIFO if it were opened
    assert result.exit_code == 0, result.output
    lines = {Path(x["path"]).name: x for x in report(out)}
    assert lines["a.png"]["status"] == lines["inside.png"]["status"] == "ok"
    reasons = {name: lines[name]["error"] for name in lines if lines[name]["status"] == "skipped"}
    assert set(reasons) == {
        "loop",
        "self.png",
        "dangling.png",
        "out_file.png",
        "out_dir",
        "pipe.png",
    }
    assert "loop" in reasons["loop"] and "loop" in reasons["self.png"]
    assert "dangling" in reasons["dangling.png"]
    assert "outside the input folder" in reasons["out_file.png"]
    assert "outside the input folder" in reasons["out_dir"]
    assert "FIFO" in reasons["pipe.png"]
    assert not (out / "out_file.png").exists() and not (out / "out_dir").exists()


def test_links_out_of_the_input_are_followed_when_asked(odd_tree) -> None:
    src, _ = odd_tree
    found = {f.rel.as_posix(): f for f in walk_inputs([src], follow_links=True)}
    assert found["out_file.png"].candidate and found["out_dir/secret.png"].candidate
    assert not found["loop"].candidate and not found["pipe.png"].candidate


# --- second adversarial pass (nested roots, journal identity, links into OUT, stale outputs) ---


def test_an_input_inside_another_is_refused(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96, seed=1)
    write_png(src / "sub" / "b.png", size=96, seed=2)
    result = scrub(str(src), str(src / "sub"), str(out))
    assert result.exit_code == 2 and "lies inside input" in one_line(result)
    assert not out.exists()


def test_one_file_reached_twice_through_a_folder_link_is_refused(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "sub" / "b.png", size=96, seed=2)
    (src / "alias").symlink_to(src / "sub", target_is_directory=True)  # stays inside IN
    result = scrub(str(src), str(out))
    assert result.exit_code == 2 and "reached twice" in one_line(result)
    assert not out.exists()


def test_the_journal_knows_an_input_by_its_real_path(tmp_path: Path, monkeypatch) -> None:
    """`in` then `$PWD/in`: the same two inputs, resumed, and two report lines, not four."""
    monkeypatch.chdir(tmp_path)
    write_png(Path("in") / "a.png", size=96, seed=1)
    write_png(Path("in") / "b.png", size=96, seed=2)
    assert scrub("in", "out").exit_code == 0
    again = scrub(str(tmp_path / "in"), "out", "--resume")
    assert again.exit_code == 0, again.output
    lines = report(Path("out"))
    assert len(lines) == 2 and all(x.get("resumed") for x in lines)
    assert scrub(str(tmp_path / "in"), "out", "--overwrite").exit_code == 0
    assert len(report(Path("out"))) == 2
    assert {x["resolved"] for x in report(Path("out"))} == {
        str((tmp_path / "in" / n).resolve()) for n in ("a.png", "b.png")
    }


def test_a_started_line_lets_only_its_own_output_be_replaced(tmp_path: Path) -> None:
    """A kill left in/sub/x.png started for out/sub/x.png; cleaning in/sub into OUT would
    write out/x.png (in/x.png's output): that needs --overwrite."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "x.png", size=96, seed=1)
    write_png(src / "sub" / "x.png", size=96, seed=2)
    assert scrub(str(src), str(out)).exit_code == 0
    with open(journal_path(out), "a") as fh:
        line = {"path": str(src / "sub" / "x.png"), "status": "started"}
        fh.write(json.dumps({**line, "output": str(out / "sub" / "x.png"), "rel": "sub/x.png"}))
        fh.write("\n")
    before = tree_digest(out)
    result = scrub(str(src / "sub"), str(out))
    assert result.exit_code == 2 and "already exist" in one_line(result)
    assert tree_digest(out) == before


def test_an_input_folder_named_quarantine_may_not_share_a_quarantine_place(
    tmp_path: Path,
) -> None:
    from medocr_cli.pipeline.scrub import plan_jobs

    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "x.png", size=96, seed=1)
    write_png(src / "_quarantine" / "x.png", size=96, seed=2)
    items = list(walk_inputs([src]))
    keep = ScrubConfig(inputs=[src], output=out, flagged="keep")
    plan_jobs(items, keep, {})  # no quarantine: no clash
    with pytest.raises(UsageError, match="would both be written to"):
        plan_jobs(items, ScrubConfig(inputs=[src], output=out), {})  # quarantine, the default


@pytest.mark.parametrize("follow", [False, True], ids=["plain", "follow-links"])
def test_a_link_into_the_output_folder_is_skipped(tmp_path: Path, follow: bool) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    assert scrub(str(src), str(out)).exit_code == 0
    (src / "o").symlink_to(Path("..") / "out", target_is_directory=True)
    before = tree_digest(out / "a.png")  # hashes one file: it must stay as it is
    flags = ["--follow-links"] if follow else []
    result = scrub(str(src), str(out), "--resume", *flags)
    assert result.exit_code == 0, result.output
    lines = {Path(x["path"]).name: x for x in report(out)}
    assert lines["o"]["status"] == "skipped" and "output folder" in lines["o"]["error"]
    assert not (out / "o").exists() and tree_digest(out / "a.png") == before


def test_symlink_loops_as_input_output_or_output_folder_give_one_line(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_png(src / "sub" / "x.png", size=96)
    (tmp_path / "l1").symlink_to(tmp_path / "lA")
    (tmp_path / "lA").symlink_to(tmp_path / "l1")
    (tmp_path / "outC").mkdir()
    (tmp_path / "outC" / "sub").symlink_to("sub")  # a link to itself, where a folder must go
    for args in (
        (str(src), str(tmp_path / "lA")),
        (str(tmp_path / "lA"), str(tmp_path / "outB")),
        (str(src), str(tmp_path / "outC")),
    ):
        result = scrub(*args)
        assert result.exit_code == 2 and "loop" in one_line(result), args


def test_a_dangling_link_as_output_folder_is_named(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_png(src / "a.png", size=96)
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    result = scrub(str(src), str(tmp_path / "out"))
    assert result.exit_code == 2 and "dangling" in one_line(result)


def test_a_file_where_an_output_folder_must_go_is_refused(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    write_png(src / "sub" / "y.png", size=96)
    out.mkdir()
    (out / "sub").write_text("not a folder")
    result = scrub(str(src), str(out))
    assert result.exit_code == 2 and "a file, not a folder" in one_line(result)
    assert not (out / "a.png").exists()


def test_a_staging_file_that_cannot_be_removed_stops_nothing(tmp_path: Path, monkeypatch) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96, seed=1)
    write_png(src / "b.png", size=96, seed=2)
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if ".medocr-stage" in self.name:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    summary = run_scrub(ScrubConfig(inputs=[src], output=out, verify=False))
    monkeypatch.undo()
    assert [r.status for r in summary.results] == ["ok", "ok"]
    assert len(report(out)) == 2


def test_report_temp_files_a_kill_left_are_removed(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    assert scrub(str(src), str(out)).exit_code == 0
    left = out / f".{REPORT_NAME}.k1ll3d.medocr-tmp"  # what write_text_atomic names its temp
    left.write_text("torn")
    other = out / ".someone-elses.medocr-tmp"
    other.write_text("not ours")
    assert scrub(str(src), str(out), "--resume").exit_code == 0
    assert not left.exists() and other.exists()


def test_outputs_of_inputs_that_no_longer_clean_are_removed(tmp_path: Path) -> None:
    """A broken input and a now dangling link: their old outputs leave OUT with them."""
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        write_png(src / f"d{i}" / f"f{i}.png", size=96, seed=i)
    assert scrub(str(src), str(out)).exit_code == 0
    (src / "d0" / "f0.png").write_bytes(os.urandom(2000))
    (src / "d1" / "f1.png").unlink()
    (src / "d1" / "f1.png").symlink_to(tmp_path / "gone.png")
    result = scrub(str(src), str(out), "--resume", "--overwrite")
    assert result.exit_code == 1
    status = {Path(x["path"]).name: x["status"] for x in report(out)}
    assert status == {"f0.png": "failed", "f1.png": "skipped", "f2.png": "ok"}
    files, named = accounted(out)
    assert files == named == {"d2/f2.png"}


def test_a_stale_output_a_kill_left_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """Killed between writing a failed line and removing the old output: the next run does."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96, seed=1)
    write_png(src / "b.png", size=96, seed=2)
    assert scrub(str(src), str(out)).exit_code == 0
    with open(journal_path(out), "a") as fh:
        line = {"path": str(src / "a.png"), "status": "failed", "output": None, "placed": []}
        fh.write(json.dumps({**line, "resolved": str((src / "a.png").resolve())}) + "\n")
    (src / "a.png").write_bytes(os.urandom(500))
    assert scrub(str(src / "b.png"), str(out), "--resume").exit_code == 0
    assert not (out / "a.png").exists()
    files, named = accounted(out)
    assert files == named == {"b.png"}


def test_salt_file_that_never_ends_and_empty_salt_variable(tmp_path: Path, monkeypatch) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    write_png(src / "a.png", size=96)
    monkeypatch.setenv("MEDOCR_SALT", "")
    result = scrub(str(src), str(out), "--header", "basic")
    assert result.exit_code == 2 and "MEDOCR_SALT" in one_line(result)
    monkeypatch.delenv("MEDOCR_SALT")
    missing = str(tmp_path / "missing")  # refused after the salt is read: the test stays fast
    result = scrub(missing, str(out), "--header", "basic", "--salt-file", "/dev/zero")
    assert result.exit_code == 2 and "no such file" in one_line(result)  # it returned at all


# --- smaller leaks found by the adversarial pass ----------------------------------------------


def _ct_with(path: Path, **elements) -> None:
    import pydicom
    from _phi_images import write_ct

    write_ct(path, size=96)
    ds = pydicom.dcmread(path)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)


def test_overlay_text_inside_a_sequence_item_is_removed(tmp_path: Path) -> None:
    import pydicom
    from pydicom import Dataset
    from pydicom.sequence import Sequence

    path = tmp_path / "in" / "ct.dcm"
    _ct_with(path)
    ds = pydicom.dcmread(path)
    item = Dataset()
    item.add_new(0x60000022, "LO", "ZEBULONQUIXWORTH")  # OverlayDescription
    ds.ReferencedImageSequence = Sequence([item])
    ds.save_as(path, enforce_file_format=True)
    result = scrub(str(tmp_path / "in"), str(tmp_path / "out"), "--method", "telea")
    assert result.exit_code == 0, result.output
    assert b"ZEBULONQUIXWORTH" not in (tmp_path / "out" / "ct.dcm").read_bytes()


def test_text_in_a_date_fails_the_file_in_one_clean_line(tmp_path: Path) -> None:
    _ct_with(tmp_path / "in" / "ct.dcm", StudyDate="ZEBULONQUIXWORTH")
    out = tmp_path / "out"
    result = scrub(str(tmp_path / "in"), str(out), "--header", "basic", "--salt", "s3cret")
    assert result.exit_code == 1
    (line,) = report(out)
    assert line["status"] == "failed" and "cannot be parsed" in line["error"]
    assert "unexpected" not in line["error"]
    for text in (result.output, (out / REPORT_NAME).read_text()):
        assert "ZEBULON" not in text
    assert not (out / "ct.dcm").exists()
