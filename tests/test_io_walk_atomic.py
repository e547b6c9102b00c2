"""Folder walking (order, hidden files, candidates), output-root checks, and atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import find_test_file, gradient, listing, make_dicom, make_png

from medocr_cli.errors import OutputError, UsageError
from medocr_cli.io.atomic import atomic_path, write_bytes_atomic, write_text_atomic
from medocr_cli.io.formats import expected_format, is_candidate, sniff
from medocr_cli.io.walk import check_output_root, walk_inputs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """An input tree with images, non-images, hidden files and an extensionless DICOM."""
    root = tmp_path / "in"
    make_png(root / "b.png", gradient(4, 4))
    make_png(root / "a" / "z.png", gradient(4, 4))
    make_png(root / "a" / "deeper" / "y.png", gradient(4, 4))
    make_dicom(root / "a" / "scan.dcm", gradient(4, 4))
    make_dicom(root / "c" / "IM000001", gradient(4, 4))  # extensionless, with preamble
    (root / "notes.txt").write_text("not an image")
    (root / "fake.png").write_text("a text file named .png")
    (root / "README").write_text("no extension, no image")
    make_png(root / ".hidden.png", gradient(4, 4))
    make_png(root / ".cache" / "inner.png", gradient(4, 4))
    make_png(root / "a" / ".git" / "obj.png", gradient(4, 4))
    (root / "a" / ".result.png.abc123.medocr-tmp").write_bytes(b"partial")
    return root


def test_walk_recurses_in_sorted_order_and_skips_hidden(tree: Path) -> None:
    found = list(walk_inputs([tree]))
    rels = [f.rel.as_posix() for f in found]
    assert rels == sorted(rels), "not in sorted order"
    assert rels == [
        "README",
        "a/deeper/y.png",
        "a/scan.dcm",
        "a/z.png",
        "b.png",
        "c/IM000001",
        "fake.png",
        "notes.txt",
    ]
    for f in found:
        assert f.path == tree / f.rel
        assert f.path.is_file()


def test_walk_candidate_flag(tree: Path) -> None:
    flags = {f.rel.as_posix(): f.candidate for f in walk_inputs([tree])}
    assert flags["notes.txt"] is False
    assert flags["README"] is False
    assert flags["fake.png"] is True, "a .png promises an image: it must be tried (and fail)"
    assert flags["c/IM000001"] is True, "extensionless DICOM with preamble is an image"
    assert flags["a/scan.dcm"] is True and flags["b.png"] is True


def test_walk_is_deterministic(tree: Path) -> None:
    assert list(walk_inputs([tree])) == list(walk_inputs([tree]))


def test_walk_lone_file_and_several_roots(tree: Path, tmp_path: Path) -> None:
    lone = make_png(tmp_path / "other" / "lone.png", gradient(4, 4))
    found = list(walk_inputs([lone, tree / "a"]))
    assert found[0].path == lone and found[0].rel == Path("lone.png") and found[0].candidate
    assert [f.rel.as_posix() for f in found[1:]] == ["deeper/y.png", "scan.dcm", "z.png"]


def test_walk_missing_root_is_usage_error_before_anything(tree: Path, tmp_path: Path) -> None:
    walker = walk_inputs([tree, tmp_path / "missing"])
    with pytest.raises(UsageError) as info:
        next(walker)
    assert "missing" in info.value.one_line()
    assert info.value.exit_code == 2


def test_walk_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert list(walk_inputs([tmp_path / "empty"])) == []


def test_walk_bundled_dicomdir_tree_candidates() -> None:
    """pydicom's dicomdirtests tree: extensionless image files are all candidates."""
    root = find_test_file("DICOMDIR").parent
    found = [f for f in walk_inputs([root]) if f.rel.parts[0] == "77654033"]
    assert found and all(f.candidate for f in found)


@pytest.mark.parametrize(
    "name,content,want_sniff,want_candidate",
    [
        ("x.png", b"\x89PNG\r\n\x1a\n" + bytes(40), "png", True),
        ("x.bin", b"\xff\xd8\xff\xe0" + bytes(40), "jpeg", True),
        ("x", b"II*\x00" + bytes(40), "tiff", True),
        ("x", b"MM\x00*" + bytes(40), "tiff", True),
        ("x", b"BM" + bytes(40), "bmp", True),
        ("x", b"\x00" * 128 + b"DICM" + bytes(10), "dicom", True),
        ("x.dcm", b"\x08\x00\x05\x00CS", None, True),  # raw dataset: promised by its name
        ("x.txt", b"hello", None, False),
        ("x", b"BM", None, False),  # too short to be a BMP
    ],
)
def test_sniff_and_candidate(
    name: str, content: bytes, want_sniff, want_candidate: bool, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert sniff(path) == want_sniff
    assert is_candidate(path) is want_candidate


def test_preamble_tiff_is_dicom(tmp_path: Path) -> None:
    """A DICOM whose preamble holds a TIFF header (dual-personality file) is DICOM."""
    src = tmp_path / "a.dcm"
    make_dicom(src, gradient(4, 4))
    data = bytearray(src.read_bytes())
    data[:4] = b"II*\x00"
    dual = tmp_path / "dual"
    dual.write_bytes(bytes(data))
    assert sniff(dual) == "dicom"


def test_expected_format_is_case_insensitive() -> None:
    assert expected_format(Path("A.DCM")) == "dicom"
    assert expected_format(Path("b.JPeg")) == "jpeg"
    assert expected_format(Path("c.TIF")) == "tiff"
    assert expected_format(Path("d.txt")) is None


# --- check_output_root ---------------------------------------------------------------------------


def test_output_equal_to_input_refused(tree: Path) -> None:
    with pytest.raises(UsageError):
        check_output_root([tree], tree)


def test_output_inside_input_refused(tree: Path) -> None:
    with pytest.raises(UsageError) as info:
        check_output_root([tree], tree / "a" / "cleaned")
    assert info.value.exit_code == 2


def test_output_inside_input_via_dotdot_refused(tree: Path) -> None:
    with pytest.raises(UsageError):
        check_output_root([tree], tree / "a" / ".." / "out")


def test_output_via_symlink_into_input_refused(tree: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tree, target_is_directory=True)
    with pytest.raises(UsageError):
        check_output_root([tree], link / "out")


def test_sibling_output_accepted(tree: Path, tmp_path: Path) -> None:
    check_output_root([tree], tmp_path / "out")
    check_output_root([tree], tmp_path / "in-cleaned")  # shares a name prefix, not a parent
    (tmp_path / "existing").mkdir()
    check_output_root([tree], tmp_path / "existing")


def test_input_inside_output_accepted(tree: Path, tmp_path: Path) -> None:
    """OUT being a parent of IN is not writing into the input tree."""
    check_output_root([tree / "a"], tree.parent / "out")


def test_lone_file_input_beside_output_accepted(tree: Path) -> None:
    check_output_root([tree / "b.png"], tree / "out")


def test_output_that_is_a_file_refused(tree: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file_out"
    blocker.write_text("x")
    with pytest.raises(UsageError):
        check_output_root([tree], blocker)


# --- atomic writes -------------------------------------------------------------------------------


def test_atomic_path_success_renames(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "result.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        assert tmp.name.startswith(".")  # hidden: a concurrent walk passes over it
        tmp.write_bytes(b"done")
        assert not target.exists()
    assert target.read_bytes() == b"done"
    assert listing(target.parent) == ["result.bin"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_path_exception_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "result.bin"
    with pytest.raises(KeyError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyError("boom")
    assert listing(tmp_path) == []


def test_atomic_path_exception_keeps_previous_target(tmp_path: Path) -> None:
    target = tmp_path / "result.bin"
    target.write_bytes(b"old")
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_bytes(b"new but broken")
        raise ValueError("encoder failed")
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["result.bin"]


def test_atomic_path_keyboard_interrupt_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "result.bin"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_atomic_path_oserror_becomes_output_error(tmp_path: Path) -> None:
    target = tmp_path / "result.bin"
    with pytest.raises(OutputError) as info, atomic_path(target) as tmp:
        tmp.unlink()  # the fsync on the vanished temp file raises FileNotFoundError
    assert "result.bin" in info.value.one_line()
    assert listing(tmp_path) == []


def test_atomic_path_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("file")
    with pytest.raises(OutputError), atomic_path(blocker / "x" / "result.bin"):
        pytest.fail("the block must not run")


def test_write_bytes_and_text_atomic(tmp_path: Path) -> None:
    write_bytes_atomic(tmp_path / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "b.txt", "héllo\n")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == "héllo\n".encode()
    write_text_atomic(tmp_path / "b.txt", "replaced")
    assert (tmp_path / "b.txt").read_text() == "replaced"
    assert listing(tmp_path) == ["a.bin", "b.txt"]


def test_temp_files_not_walked_as_inputs(tmp_path: Path) -> None:
    """While an output is being written into a folder, a walk of it does not see the temp file."""
    target = tmp_path / "out" / "x.png"
    with atomic_path(target) as tmp:
        tmp.write_bytes(np.zeros(4, np.uint8).tobytes())
        assert [f.rel for f in walk_inputs([tmp_path / "out"])] == []
