"""`medocr serve` (issue 27): a DICOM node on loopback, end to end.

pynetdicom sends (C-ECHO, C-STORE of a generated CT with burned-in PHI) and receives (a small
SCP standing in for the PACS behind --forward); dcmtk's storescu sends a real JPEG ultrasound
as it is. The in-process nodes share one loaded set of models, or take stand-in finders (the
`models=` seam: no monkeypatching). The kill test runs a node in a child process
(tests/_serve_child.py) whose slow stand-in finder keeps the worker busy, so SIGKILL lands after
the C-STORE was acknowledged and before cleaning ended; the restart, and a real SIGTERM while the
resumed instance is being cleaned, then happen in this process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_images import ocr_words, phi_read, write_ct
from _serve_child import QuietDetector, SlowFinder
from conftest import dcmread_quiet, find_test_file
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import generate_uid
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.io import read_scan
from medocr_cli.io.walk import REPORT_NAME
from medocr_cli.pipeline.find_text import Finding
from medocr_cli.pipeline.scrub import RunModels, ScrubConfig, load_run_models
from medocr_cli.pipeline.scrub.journal import journal_path, read_lines
from medocr_cli.pipeline.serve import Destination, ServeConfig, ServeNode, run_serve
from medocr_cli.types import Box

AE_TITLE = "MEDOCR"
CHILD = Path(__file__).with_name("_serve_child.py")


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> RunModels:
    """The shipped models, loaded once for every in-process node of this module."""
    return load_run_models(ScrubConfig(inputs=[], output=tmp_path_factory.mktemp("unused")))


def node_config(out: Path, **kw) -> ServeConfig:
    return ServeConfig(
        output=out, port=0, host="127.0.0.1", log_to_stderr=False, report_every=0.0, **kw
    )


def make_ct(path: Path, size: int = 192) -> pydicom.Dataset:
    """A CT with burned-in PHI (tests/_phi_images.py) and its study and series UIDs."""
    write_ct(path, size=size)
    ds = dcmread_quiet(path)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.save_as(path)
    return ds


def make_jpeg_us(path: Path) -> pydicom.Dataset:
    """One frame of pydicom's JPEG baseline ultrasound cine, still JPEG (not re-encoded)."""
    ds = dcmread_quiet(find_test_file("examples_ybr_color.dcm"))
    first = next(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    ds.PixelData = encapsulate([first])
    ds.NumberOfFrames = 1
    ds.SOPInstanceUID = generate_uid()
    ds.save_as(path)
    return ds


def send(port: int, *paths: Path, calling: str = "MODALITY") -> list[int]:
    """C-STORE the files to the node as a modality would; return the statuses."""
    datasets = [dcmread_quiet(p) for p in paths]
    ae = AE(ae_title=calling)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE)
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def echo(port: int) -> int | None:
    """C-ECHO the node; None when no association could be made."""
    ae = AE(ae_title="ECHOSCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title=AE_TITLE)
    if not assoc.is_established:
        return None
    try:
        return int(assoc.send_c_echo().Status)
    finally:
        assoc.release()


def wait_for(check: Callable[[], object], what: str, timeout: float = 240.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lines(out: Path) -> list[dict]:
    """The newest journal line of every spooled instance."""
    return list(read_lines(out).values())


def finished(out: Path, n: int = 1, **match) -> list[dict]:
    """The journal lines with a final status (and `match`), once there are `n` of them."""
    done = [
        line
        for line in lines(out)
        if line["status"] != "started" and all(line.get(k) == v for k, v in match.items())
    ]
    return done if len(done) >= n else []


def spooled(out: Path) -> list[str]:
    return sorted(p.name for p in (out / ".medocr" / "spool").glob("*.dcm"))


def outputs(out: Path) -> list[str]:
    """Every file under OUT outside the node's state folder and the report."""
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.relative_to(out).parts[0] not in (".medocr", REPORT_NAME)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def pacs(port: int) -> Iterator[list[pydicom.Dataset]]:
    """A storage SCP on `port` that keeps what it receives (the destination of --forward)."""
    got: list[pydicom.Dataset] = []

    def on_store(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        got.append(ds)
        return 0x0000

    ae = AE(ae_title="PACS")
    ae.supported_contexts = AllStoragePresentationContexts[:120]
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        yield got
    finally:
        server.shutdown()


class FlagFinder:
    """Finds a box in every frame, and finds it again in the output: every file is flagged."""

    name = "flag-everything"

    def find(self, frames, indices):
        return [Finding(boxes=[Box(i, 4, 4, 40, 20)]) for i in indices]

    def search(self, frame, index):
        return [Box(index, 4, 4, 40, 20)]


class FlagDetector:
    """A detector stand-in for verify that sees a sure line in every frame: every file flags."""

    def detect(self, frames, batch_size=8, frame_indices=None):
        return [[Box(0, 4, 4, 40, 20, score=1.0)] for _ in frames]


def flagging() -> RunModels:
    """Models whose finder and verify both see text everywhere: every instance is flagged."""
    return RunModels(FlagFinder(), "telea", None, FlagDetector())


def slow(seconds: float) -> RunModels:
    """Models that find no text, slowly, and whose verify finds none either."""
    return RunModels(SlowFinder(seconds), "telea", None, QuietDetector())


# --- receive, clean, file ---------------------------------------------------------------------


def test_echo_and_store_files_one_cleaned_verified_instance(tmp_path, models):
    out = tmp_path / "out"
    ds = make_ct(tmp_path / "ct.dcm")
    with ServeNode(node_config(out), models) as node:
        assert echo(node.port) == 0x0000
        assert send(node.port, tmp_path / "ct.dcm") == [0x0000]
        (line,) = wait_for(lambda: finished(out), "the instance to be cleaned")
    assert line["status"] == "ok" and line["verified"] is True and line["boxes"] > 0
    rel = f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    assert outputs(out) == [rel] and line["output"] == str(out / rel)
    cleaned = dcmread_quiet(out / rel)
    assert cleaned.BurnedInAnnotation == "NO"
    assert phi_read(ocr_words(read_scan(out / rel).display(0))) == []
    report = [json.loads(x) for x in (out / REPORT_NAME).read_text().splitlines()]
    assert [r["status"] for r in report] == ["ok"]
    assert spooled(out) == [] and not list((out / ".medocr" / "work").glob("*"))
    log = (out / ".medocr" / "serve.log").read_text()
    assert "from MODALITY" in log and "filed" in log and "stopped: 1 received, 1 ok" in log
    for secret in ("DOE", "JANE", "4821937", ds.StudyInstanceUID, ds.SOPInstanceUID):
        assert secret not in log


@pytest.mark.skipif(shutil.which("storescu") is None, reason="dcmtk's storescu is not installed")
def test_storescu_sends_a_jpeg_ultrasound_as_is(tmp_path, models):
    out = tmp_path / "out"
    ds = make_jpeg_us(tmp_path / "us.dcm")
    with ServeNode(node_config(out), models) as node:
        cmd = ["storescu", "-xy", "-aet", "STORESCU", "-aec", AE_TITLE, "127.0.0.1", str(node.port)]
        run = subprocess.run(
            [*cmd, str(tmp_path / "us.dcm")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        (line,) = wait_for(lambda: finished(out), "the ultrasound to be cleaned")
    assert line["status"] == "ok" and line["boxes"] > 0, line
    log = (out / ".medocr" / "serve.log").read_text()
    assert re.search(r"#1 from STORESCU: stored as \S+ \(JPEG Baseline", log), log
    rel = f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    assert outputs(out) == [rel]
    cleaned = read_scan(out / rel)
    assert cleaned.n_frames == 1 and cleaned.display(0).shape[:2] == (240, 320)


def test_an_instance_that_cannot_be_spooled_is_answered_out_of_resources(tmp_path):
    out = tmp_path / "out"
    make_ct(tmp_path / "ct.dcm", size=96)
    with ServeNode(node_config(out), flagging()) as node:
        spool = out / ".medocr" / "spool"
        shutil.rmtree(spool)
        spool.write_text("a file where the spool folder was: nothing can be written in it")
        assert send(node.port, tmp_path / "ct.dcm") == [0xA700]
    assert node.summary.refused == 1 and node.summary.received == 0
    assert (
        "#1 from MODALITY: not stored, answered 0xA700"
        in (out / ".medocr" / "serve.log").read_text()
    )
    assert lines(out) == [] and outputs(out) == []


# --- forward ----------------------------------------------------------------------------------


def test_forward_is_retried_until_the_destination_takes_it(tmp_path, models):
    out, port = tmp_path / "out", free_port()
    ds = make_ct(tmp_path / "ct.dcm")
    config = node_config(
        out,
        forward=Destination("127.0.0.1", port, "PACS"),
        forward_attempts=2,
        forward_backoff=0.05,
        forward_max_delay=0.3,
    )
    with ServeNode(config, models) as node:
        assert send(node.port, tmp_path / "ct.dcm") == [0x0000]
        # The destination is down: the cleaned instance waits, and stays in the spool.
        wait_for(lambda: finished(out, forward="retrying"), "a failed round of forwards")
        assert len(spooled(out)) == 1 and outputs(out) == []
        with pacs(port) as got:
            wait_for(lambda: got, "the destination to receive the instance")
            (line,) = wait_for(lambda: finished(out, forward="sent"), "the forward's record")
    (received,) = got
    assert received.SOPInstanceUID == ds.SOPInstanceUID and received.BurnedInAnnotation == "NO"
    assert line["status"] == "ok" and line["forward_to"] == f"PACS@127.0.0.1:{port}"
    assert line["forward_tries"] >= 3 and "forward_error" not in line
    assert spooled(out) == [] and outputs(out) == []
    assert not list((out / ".medocr" / "outbox").glob("*"))
    original = dcmread_quiet(tmp_path / "ct.dcm").pixel_array
    assert not np.array_equal(received.pixel_array, original)  # the text was repainted


def test_an_unforwarded_instance_survives_a_restart_and_is_not_cleaned_twice(tmp_path):
    out, port = tmp_path / "out", free_port()
    make_ct(tmp_path / "ct.dcm", size=96)
    config = node_config(
        out,
        forward=Destination("127.0.0.1", port, "PACS"),
        forward_attempts=1,
        forward_max_delay=0.2,
    )
    with ServeNode(config, slow(0.0)) as node:
        assert send(node.port, tmp_path / "ct.dcm") == [0x0000]
        wait_for(lambda: finished(out, forward="retrying"), "a failed round of forwards")
    assert len(spooled(out)) == 1 and len(list((out / ".medocr" / "outbox").glob("*.dcm"))) == 1
    with pacs(port) as got, ServeNode(config, flagging()):
        wait_for(lambda: finished(out, forward="sent"), "the forward after the restart")
    (received,) = got
    assert received.BurnedInAnnotation == "NO"  # cleaned by the first node, not flagged anew
    assert started_lines(out) == 1 and spooled(out) == [] and outputs(out) == []


def test_flagged_instance_is_quarantined_never_forwarded_and_failed_one_moved_aside(tmp_path):
    out, port = tmp_path / "out", free_port()
    ds = make_ct(tmp_path / "ct.dcm", size=96)
    broken = make_ct(tmp_path / "broken.dcm", size=96)
    broken.PixelData = broken.PixelData[:100]  # cannot be decoded
    broken.save_as(tmp_path / "broken.dcm")
    config = node_config(out, forward=Destination("127.0.0.1", port, "PACS"))
    with pacs(port) as got, ServeNode(config, flagging()) as node:
        assert send(node.port, tmp_path / "ct.dcm", tmp_path / "broken.dcm") == [0, 0]
        done = wait_for(lambda: finished(out, 2), "both instances to be handled")
        time.sleep(0.3)  # a forward would have been quick to come
    assert got == []
    by_status = {line["status"]: line for line in done}
    assert set(by_status) == {"flagged", "failed"}
    rel = f"_quarantine/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    assert outputs(out) == [rel] and by_status["flagged"]["quarantined"] == str(out / rel)
    assert "forward" not in by_status["flagged"] and by_status["flagged"]["output"] is None
    kept = Path(by_status["failed"]["kept"])
    assert kept.parent == out / ".medocr" / "spool" / "failed" and kept.is_file()
    assert dcmread_quiet(kept).SOPInstanceUID == broken.SOPInstanceUID  # the received bytes
    assert spooled(out) == []


# --- kill and stop ----------------------------------------------------------------------------


def start_child(out: Path, seconds: float) -> tuple[subprocess.Popen, int]:
    """Start tests/_serve_child.py on OUT; return it and the port it listens on."""
    log = out / ".medocr" / "serve.log"
    seen = log.stat().st_size if log.exists() else 0  # an earlier node's lines come first
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(out), str(seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def port() -> int | None:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        text = log.read_bytes()[seen:].decode() if log.exists() else ""
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
        return int(found.group(1)) if found else None

    return proc, int(wait_for(port, "the child node to listen", timeout=120))  # type: ignore[arg-type]


def started_lines(out: Path) -> int:
    """How many times the journal says an instance was taken for cleaning."""
    path = journal_path(out)
    return path.read_text().count('"status": "started"') if path.exists() else 0


def test_kill_loses_no_acknowledged_instance_and_sigterm_finishes_the_one_in_hand(tmp_path):
    out = tmp_path / "out"
    first = make_ct(tmp_path / "first.dcm", size=96)
    make_ct(tmp_path / "second.dcm", size=96)
    # Killed after acknowledging, while cleaning: the instance is still in the spool.
    proc, port = start_child(out, seconds=600)
    try:
        assert send(port, tmp_path / "first.dcm") == [0x0000]
        wait_for(lambda: started_lines(out) == 1, "the worker to take the instance")
    finally:
        proc.kill()
        proc.wait()
    assert len(spooled(out)) == 1 and outputs(out) == []

    # Restarted (here, in this process), the node resumes it. A real SIGTERM while it is being
    # cleaned: no new associations, the instance in hand is finished, run_serve returns.
    seen = (out / ".medocr" / "serve.log").stat().st_size
    checks: dict[str, object] = {}

    def sender() -> None:
        try:
            log = out / ".medocr" / "serve.log"
            text = wait_for(
                lambda: re.search(r"listening on \S+:(\d+)", log.read_bytes()[seen:].decode()),
                "the restarted node",
            )
            port = int(text.group(1))  # type: ignore[union-attr]
            wait_for(lambda: started_lines(out) == 2, "the resumed instance to be taken")
            checks["second"] = send(port, tmp_path / "second.dcm")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1.0)
            checks["echo after SIGTERM"] = echo(port)
        except BaseException as exc:
            checks["error"] = exc
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=sender)
    thread.start()
    summary = run_serve(node_config(out), models=slow(3.0))
    thread.join()
    assert "error" not in checks, checks
    assert checks == {"second": [0x0000], "echo after SIGTERM": None}
    assert summary.results == {"ok": 1} and summary.received == 1 and summary.left == 1
    (line,) = finished(out)
    assert line["status"] == "ok"
    rel = f"{first.StudyInstanceUID}/{first.SeriesInstanceUID}/{first.SOPInstanceUID}.dcm"
    assert outputs(out) == [rel]
    assert len(spooled(out)) == 1  # the second waits for the next start
    log = (out / ".medocr" / "serve.log").read_text()
    assert "1 instance(s) in the spool to resume" in log
    assert "stopped: 1 received, 1 ok, 0 flagged, 0 failed, 0 forwarded; 1 left" in log


# --- command line -----------------------------------------------------------------------------


def test_cli_help_and_usage_errors(tmp_path, monkeypatch):
    runner = CliRunner()
    help_text = runner.invoke(app, ["serve", "--help"]).output
    for word in ("C-ECHO", "C-STORE", "--forward", "spool", "_quarantine", "SIGTERM", "0xA700"):
        assert word in help_text
    monkeypatch.delenv("MEDOCR_SALT", raising=False)
    for args in (
        ["--forward", "pacs-without-port"],
        ["--forward", "pacs:99999:PACS"],
        ["--ae-title", "A" * 17],
        ["--header", "basic"],
    ):
        result = runner.invoke(app, ["serve", str(tmp_path / "out"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "out").exists()


def test_cli_serve_logs_and_stops_on_sigterm_with_exit_0(tmp_path):
    out = tmp_path / "out"
    log = out / ".medocr" / "serve.log"
    failures: list[BaseException] = []

    def stopper() -> None:
        try:
            wait_for(lambda: log.exists() and "listening on" in log.read_text(), "the node")
        except BaseException as exc:
            failures.append(exc)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=stopper)
    thread.start()
    args = ["--device", "cpu", "serve", str(out), "--port", "0", "--host", "127.0.0.1"]
    result = CliRunner().invoke(app, [*args, "--ae-title", "NODE1"])
    thread.join()
    assert not failures and result.exit_code == 0, result.output
    assert (
        "as NODE1, filing under OUT" in log.read_text() and "stopped: 0 received" in result.output
    )
