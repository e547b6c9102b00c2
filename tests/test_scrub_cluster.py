"""`scrub --cluster` (Dask distributed) and `scrub --files LIST` (issue 27, part 2).

The cluster run is made once for the module (two worker processes loading the models take a
while) and compared with a plain run of the same inputs byte for byte.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from _phi_images import write_ct, write_png
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.io.walk import REPORT_NAME
from medocr_cli.pipeline.scrub.journal import journal_path

runner = CliRunner()
NAMES = ["a.png", "b.png", "sub/c.png", "sub/ct.dcm"]


def scrub(*args: str):
    return runner.invoke(app, ["--quiet", "scrub", *args])


def one_line(result) -> str:
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def report(out: Path) -> dict[str, dict]:
    lines = [json.loads(x) for x in (out / REPORT_NAME).read_text().splitlines()]
    return {Path(line["path"]).name: line for line in lines}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(inputs, plain output, `--cluster local:2` output)."""
    root = tmp_path_factory.mktemp("cluster")
    src = root / "in"
    for seed, name in enumerate(NAMES[:3]):
        write_png(src / name, size=128, seed=seed)
    write_ct(src / "sub" / "ct.dcm", size=128)
    plain, cluster = root / "plain", root / "cluster"
    assert scrub(str(src), str(plain)).exit_code == 0
    result = scrub(str(src), str(cluster), "--cluster", "local:2")
    assert result.exit_code == 0, result.output
    return src, plain, cluster


def test_cluster_outputs_are_byte_identical_to_a_plain_run(runs) -> None:
    src, plain, cluster = runs
    for name in NAMES:
        assert (cluster / name).read_bytes() == (plain / name).read_bytes(), name
        assert (cluster / name).read_bytes() != (src / name).read_bytes()  # text was removed


def test_cluster_report_matches_a_plain_run(runs) -> None:
    _, plain, cluster = runs
    one, two = report(plain), report(cluster)
    assert set(one) == set(two) == {Path(n).name for n in NAMES}
    for name in one:
        assert two[name]["status"] == one[name]["status"] == "ok"
        assert two[name]["regions"] == one[name]["regions"]
        assert two[name]["path"] == one[name]["path"]  # the parent's spelling, not a worker's
        assert Path(two[name]["output"]).relative_to(cluster) == Path(
            one[name]["output"]
        ).relative_to(plain)


def test_cluster_run_journals_each_file_started_then_done(runs) -> None:
    _, _, cluster = runs
    lines = [json.loads(x) for x in journal_path(cluster).read_text().splitlines()]
    for name in NAMES:
        mine = [x["status"] for x in lines if x["path"].endswith(name)]
        assert mine == ["started", "ok"], name
    assert not [p for p in cluster.rglob("*medocr-stage*")]  # no staging file left


@pytest.mark.parametrize(
    "address", ["foo", "local:0", "local:two", "tcp://", "tcp://host:99999", "http://h:1"]
)
def test_bad_cluster_address_is_one_line_exit_2(tmp_path: Path, address: str) -> None:
    write_png(tmp_path / "in" / "a.png", size=64)
    result = scrub(str(tmp_path / "in"), str(tmp_path / "out"), "--cluster", address)
    assert result.exit_code == 2 and "cluster" in one_line(result)
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_is_one_line_exit_2(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_png(tmp_path / "in" / "a.png", size=64)
    out = tmp_path / "out"
    result = scrub(str(tmp_path / "in"), str(out), "--cluster", f"tcp://127.0.0.1:{port}")
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in one_line(result)
    assert not out.exists()  # refused before anything was written


def test_cluster_with_workers_is_a_usage_error(tmp_path: Path) -> None:
    write_png(tmp_path / "in" / "a.png", size=64)
    result = scrub(
        str(tmp_path / "in"), str(tmp_path / "out"), "--cluster", "local:2", "--workers", "2"
    )
    assert result.exit_code == 2 and "--workers" in one_line(result)


# --- --files LIST ------------------------------------------------------------------------------


def test_files_reads_a_list(tmp_path: Path) -> None:
    data = tmp_path / "archive"
    write_png(data / "p1" / "s1" / "x.png", size=64, seed=1)
    write_png(data / "p2" / "y.png", size=64, seed=2)
    write_png(data / "p2" / "not-listed.png", size=64, seed=3)
    listing = tmp_path / "lists" / "todo.txt"
    listing.parent.mkdir()
    listing.write_text(
        "# exported from the archive\n"
        "\n"
        f"{data / 'p1' / 's1' / 'x.png'}\n"  # absolute
        "../archive/p2/y.png  \r\n"  # relative to the list's folder, trailing blanks
        "../archive/p2/gone.png\n"  # stale line: reported skipped
    )
    out = tmp_path / "out"
    result = scrub("--files", str(listing), str(out), "--no-verify", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["x.png", "y.png"]
    lines = report(out)
    assert lines["x.png"]["status"] == lines["y.png"]["status"] == "ok"
    assert lines["gone.png"]["status"] == "skipped"
    assert "not found" in lines["gone.png"]["error"]
    assert "not-listed.png" not in lines

    mirrored = tmp_path / "mirrored"
    result = scrub("--files", str(listing), str(mirrored), "--files-root", str(data), "--no-verify")
    assert result.exit_code == 0, result.output
    assert (mirrored / "p1" / "s1" / "x.png").is_file() and (mirrored / "p2" / "y.png").is_file()


def test_files_with_one_name_twice_needs_a_root(tmp_path: Path) -> None:
    write_png(tmp_path / "s1" / "IM0001.png", size=64, seed=1)
    write_png(tmp_path / "s2" / "IM0001.png", size=64, seed=2)
    listing = tmp_path / "list.txt"
    listing.write_text("s1/IM0001.png\ns2/IM0001.png\n")
    out = tmp_path / "out"
    result = scrub("--files", str(listing), str(out), "--no-verify")
    assert result.exit_code == 2 and "would both be written to" in one_line(result)
    assert not out.exists()


def test_files_outside_the_root_or_with_inputs_are_usage_errors(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "x.png", size=64)
    listing = tmp_path / "list.txt"
    listing.write_text("a/x.png\n")
    out = str(tmp_path / "out")
    outside = scrub("--files", str(listing), out, "--files-root", str(tmp_path / "b"))
    assert outside.exit_code == 2 and "line 1" in one_line(outside)
    both = scrub("--files", str(listing), str(tmp_path / "a"), out)
    assert both.exit_code == 2 and "--files" in one_line(both)
    root_alone = scrub(str(tmp_path / "a"), out, "--files-root", str(tmp_path))
    assert root_alone.exit_code == 2 and "--files-root" in one_line(root_alone)


def test_files_listing_a_file_inside_out_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_png(out / "x.png", size=64)
    listing = tmp_path / "list.txt"
    listing.write_text("out/x.png\n")
    before = (out / "x.png").read_bytes()
    result = scrub("--files", str(listing), str(out), "--overwrite", "--no-verify")
    assert result.exit_code == 2 and "inside" in one_line(result)
    assert (out / "x.png").read_bytes() == before
