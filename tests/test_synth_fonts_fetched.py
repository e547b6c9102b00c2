"""The fetched handwriting families: the table, the fetch, the cache, the split, the generator.

Nothing here touches the network: a fake `npm` (a script on PATH) hands out tarballs built in
the test from an installed Debian handwriting font converted to WOFF, laid out as the
@fontsource packages are.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from _phi_images import tree_digest
from fontTools.ttLib import TTFont
from typer.testing import CliRunner

from medocr_cli.cli.app import app
from medocr_cli.errors import InputFileError
from medocr_cli.pipeline.generate_dataset import GenerateConfig, run_generate_dataset
from medocr_cli.synth.fonts import (
    FETCHED_FAMILIES,
    cached_family_count,
    caps_only,
    font_family,
    font_pools,
    is_reserved,
    is_reserved_path,
)
from medocr_cli.synth.fonts.catalogue import held_out_families
from medocr_cli.synth.fonts.fetch import fetch_family, is_complete, run, woff_to_ttf
from medocr_cli.synth.fonts.fetched import BUCKETS, cached_faces, held_out_fetched
from medocr_cli.synth.handwriting import render_handwritten
from medocr_cli.synth.text_layer import check_layer

FAMILIES = {f.npm: f for f in FETCHED_FAMILIES}
#: Fetched into the fake cache: one train family, one held out, one caps-only.
CHOSEN = ("caveat", "handlee", "rock-salt")


def _debian_hand() -> Path:
    """An installed Debian handwriting font file (from the train pool, whatever is installed)."""
    _, handwritten = font_pools("train")
    return Path(next(s.path for s in handwritten if s.path and s.path.endswith(".ttf")))


def _woff(source: Path, family_name: str | None = None) -> bytes:
    font = TTFont(str(source))
    if family_name is not None:
        for record in font["name"].names:
            if record.nameID in (1, 4, 16):
                record.string = family_name
    font.flavor = "woff"
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def _tarball(folder: Path, npm: str, weights: tuple[int, ...], woff: bytes, licence: bool = True):
    members = {f"package/files/{npm}-latin-{w}-normal.woff": woff for w in weights}
    members[f"package/files/{npm}-cyrillic-400-normal.woff"] = woff  # never taken
    members["package/package.json"] = json.dumps({"name": f"@fontsource/{npm}"}).encode()
    if licence:
        members["package/LICENSE"] = b"SIL Open Font License 1.1 (test)\n"
    with tarfile.open(folder / f"{npm}.tgz", "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _fake_npm(tmp_path: Path, tarballs: Path) -> Path:
    """A `npm` that answers `npm pack @fontsource/<name>@<v> --pack-destination D` from a folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        f"#!{sys.executable}\n"
        "import json, shutil, sys\n"
        "from pathlib import Path\n"
        "args = sys.argv[1:]\n"
        "spec, dest = args[1], args[args.index('--pack-destination') + 1]\n"
        "name = spec.rsplit('@', 1)[0].split('/', 1)[1]\n"
        f"src = Path({str(tarballs)!r}) / (name + '.tgz')\n"
        "if not src.exists():\n"
        "    print(json.dumps({'error': {'summary': 'Not Found - GET ' + spec}}))\n"
        "    sys.exit(1)\n"
        "shutil.copy(src, dest)\n"
    )
    npm.chmod(0o755)
    return npm


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tarballs")
    woff = _woff(_debian_hand())
    for npm in CHOSEN:
        _tarball(folder, npm, FAMILIES[npm].weights, woff)
    _tarball(folder, "kalam", FAMILIES["kalam"].weights, woff, licence=False)
    _tarball(folder, "neucha", (400,), _woff(_debian_hand(), "Kristi"))
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory, tarballs) -> Path:
    """A font cache holding the CHOSEN families, fetched with the fake npm."""
    root = tmp_path_factory.mktemp("fonts")
    npm = _fake_npm(root, tarballs)
    folder = root / "cache"
    folder.mkdir()
    for name in CHOSEN:
        assert fetch_family(FAMILIES[name], folder, str(npm)) == "fetched"
    return folder


# --- the table --------------------------------------------------------------------------------


def test_table_pins_buckets_and_holds_out_a_sixth_spanning_the_styles() -> None:
    assert len(FAMILIES) == len(FETCHED_FAMILIES) >= 30
    test = [f for f in FETCHED_FAMILIES if f.split == "test"]
    assert 1 / 7 <= len(test) / len(FETCHED_FAMILIES) <= 1 / 5
    for bucket in BUCKETS:
        members = [f for f in FETCHED_FAMILIES if f.bucket == bucket]
        assert any(f.split == "test" for f in members), bucket
        assert any(f.split == "train" for f in members), bucket
    for f in FETCHED_FAMILIES:
        assert f.bucket in BUCKETS and f.split in ("train", "test")
        assert re.fullmatch(r"\d+\.\d+\.\d+", f.version), f.npm
        assert 400 in f.weights and not is_reserved(f.npm) and not is_reserved(f.package)
    assert held_out_fetched() == {f.family for f in test}
    assert not held_out_fetched() & held_out_families()


def test_reserved_fonts_are_refused_from_any_source() -> None:
    for name in ("@fontsource/kristi", "Kristi", "SteveHand", "Steve Hand", "steve-hand"):
        assert is_reserved(name), name
    for name in ("Delphine", "Rufscript", "Ecolier Court", "fonts-sjfonts"):
        assert is_reserved(name), name
    assert not is_reserved("@fontsource/caveat") and not is_reserved("Homemade Apple")
    assert is_reserved_path("/usr/share/fonts/truetype/kristi/Kristi.ttf")
    assert is_reserved_path("/cache/fonts/kristi/kristi-400.ttf")
    # where a cache lives says nothing about its fonts
    assert not is_reserved_path("/home/kristine/.cache/medocr/fonts/caveat/caveat-400.ttf")


# --- the fetch --------------------------------------------------------------------------------


def test_fetch_converts_keeps_the_licence_and_is_idempotent(cache, tarballs, tmp_path) -> None:
    folder = cache / "caveat"
    assert sorted(p.name for p in folder.iterdir()) == [
        "LICENSE",
        "caveat-400.ttf",
        "caveat-700.ttf",
        "source.json",
    ]
    assert TTFont(str(folder / "caveat-400.ttf")).flavor is None  # plain TrueType now
    assert b"Open Font License" in (folder / "LICENSE").read_bytes()
    record = json.loads((folder / "source.json").read_text())
    assert record["package"] == "@fontsource/caveat@5.3.0"
    assert record["faces"]["caveat-400.ttf"] == "files/caveat-latin-400-normal.woff"
    assert record["integrity"].startswith("sha512-")
    assert is_complete(FAMILIES["caveat"], folder)
    stamp = (folder / "caveat-400.ttf").stat().st_mtime_ns
    assert fetch_family(FAMILIES["caveat"], cache, "/nonexistent/npm") == "kept"
    assert (folder / "caveat-400.ttf").stat().st_mtime_ns == stamp
    assert not list(cache.glob(".fetch-*"))  # no scratch left behind


def test_fetch_failures_are_one_line_each_and_leave_nothing(
    tarballs, tmp_path, monkeypatch, capsys
) -> None:
    npm = _fake_npm(tmp_path, tarballs)
    monkeypatch.setenv("PATH", f"{npm.parent}:/usr/bin:/bin")
    target = tmp_path / "cache"
    assert run(["--cache", str(target), "--only", "kalam", "satisfy", "neucha", "caveat"]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("medocr fonts: kalam: ") and "LICENSE" in lines[0]
    assert lines[1].startswith("medocr fonts: satisfy: ") and "Not Found" in lines[1]
    assert lines[2].startswith("medocr fonts: neucha: ") and "reserved" in lines[2]
    assert "1 of 4 families" in out and "fetched 1" in out and "failed 3" in out
    assert sorted(p.name for p in target.iterdir()) == ["caveat"]  # failures leave nothing
    assert run(["--cache", str(target), "--only", "caveat"]) == 0
    assert "already there 1" in capsys.readouterr().out


def test_a_reserved_design_under_another_name_is_refused(tarballs, tmp_path) -> None:
    npm = _fake_npm(tmp_path, tarballs)
    with pytest.raises(InputFileError, match="reserved"):
        fetch_family(FAMILIES["neucha"], tmp_path, str(npm))  # its name table says Kristi
    assert not (tmp_path / "neucha").exists()


def test_woff_conversion_errors_are_input_errors(tmp_path) -> None:
    with pytest.raises(InputFileError):
        woff_to_ttf(b"wOFF" + bytes(60), tmp_path / "x.ttf")


# --- the catalogue, the split and the renderer -------------------------------------------------


def test_cache_joins_the_pools_with_the_tables_split(cache) -> None:
    assert cached_family_count(cache) == len(CHOSEN)
    debian_train, debian_test = font_pools("train"), font_pools("test")
    train_p, train_h = font_pools("train", cache)
    test_p, test_h = font_pools("test", cache)
    assert font_pools("val", cache) == (train_p, train_h)
    assert (train_p, test_p) == (debian_train[0], debian_test[0])  # printed pools unchanged
    fetched_train = {s.name for s in train_h} - {s.name for s in debian_train[1]}
    fetched_test = {s.name for s in test_h} - {s.name for s in debian_test[1]}
    assert fetched_train == {
        "fontsource:caveat-400",
        "fontsource:caveat-700",
        "fontsource:rock-salt-400",
    }
    assert fetched_test == {"fontsource:handlee-400"}
    assert {font_family(s) for s in train_h if s.name in fetched_train} == {
        "fontsource:caveat",
        "fontsource:rock-salt",
    }
    spec = next(s for s in train_h if s.name == "fontsource:rock-salt-400")
    assert caps_only(spec) and spec.kind == "handwritten" and spec.style == "script"
    assert font_pools("train") == debian_train  # no cache: the Debian pools, as before


def test_a_face_named_reserved_inside_is_never_listed(tmp_path) -> None:
    folder = tmp_path / "caveat"
    folder.mkdir()
    (folder / "caveat-400.ttf").write_bytes(_woff_to_ttf_bytes(_woff(_debian_hand(), "Kristi")))
    (folder / "caveat-700.ttf").write_bytes(_woff_to_ttf_bytes(_woff(_debian_hand())))
    assert [f.name for f in cached_faces(tmp_path)] == ["fontsource:caveat-700"]
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "stray-400.ttf").write_bytes(b"")  # not in the table: ignored
    assert cached_family_count(tmp_path) == 1


@pytest.mark.parametrize(
    "names",
    [
        {1: "Écolier Court", 4: "Écolier Court", 16: "Écolier Court"},  # accented
        {1: "ＳｔｅｖｅＨａｎｄ"},  # full-width letters
        {6: "Kristi-Regular"},  # the family renamed, the PostScript name not
    ],
)
def test_a_face_whose_own_names_are_reserved_in_any_spelling_is_never_listed(
    names: dict[int, str], tmp_path: Path
) -> None:
    font = TTFont(str(_debian_hand()))
    for record in font["name"].names:
        if record.nameID in names and record.isUnicode():  # a Mac Roman one cannot hold them
            record.string = names[record.nameID]
    folder = tmp_path / "caveat"
    folder.mkdir()
    font.save(str(folder / "caveat-400.ttf"))
    assert cached_faces(tmp_path) == ()


def _woff_to_ttf_bytes(woff: bytes) -> bytes:
    font = TTFont(io.BytesIO(woff))
    font.flavor = None
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def test_fetched_faces_render_exact_layers(cache) -> None:
    _, handwritten = font_pools("train", cache)
    for spec in (s for s in handwritten if s.name.startswith("fontsource:")):
        for seed in range(3):
            layer = render_handwritten(
                np.random.default_rng(seed), "see prior 12/03/61 ok?", spec, 28, (20, 40, 160)
            )
            check_layer(layer)
            assert layer.lines[0].font == spec.name
            if caps_only(spec):
                assert layer.lines[0].text == "SEE PRIOR 12/03/61 OK?"


# --- the generator ----------------------------------------------------------------------------


def test_generator_draws_on_the_cache_and_an_empty_cache_changes_nothing(cache, tmp_path):
    def make(name: str, font_cache: Path | None) -> Path:
        out = tmp_path / name
        run_generate_dataset(
            GenerateConfig(out=out, count=12, seed=5, size=128, workers=1, font_cache=font_cache)
        )
        return out

    empty = tmp_path / "empty"
    empty.mkdir()
    plain, with_empty, fetched = make("plain", None), make("empty_cache", empty), make("f", cache)
    images = {k: v for k, v in tree_digest(plain).items() if k != "dataset.json"}
    assert images == {k: v for k, v in tree_digest(with_empty).items() if k != "dataset.json"}
    summary = json.loads((fetched / "dataset.json").read_text())
    assert summary["font_cache"] == str(cache) and summary["fetched_families"] == len(CHOSEN)
    assert "fontsource:handlee-400" in summary["fonts"]["test"]["handwritten"]
    assert "fontsource:handlee-400" not in summary["fonts"]["train"]["handwritten"]
    records = [json.loads(x) for x in (fetched / "manifest.jsonl").read_text().splitlines()]
    fonts = {it["font"] for r in records for it in r["items"] if it["kind"] == "handwritten"}
    assert any(f.startswith("fontsource:") for f in fonts)
    assert font_pools("train") == font_pools("train", None)  # the process default is restored


def test_cli_says_once_when_the_cache_is_empty(tmp_path) -> None:
    runner = CliRunner()
    empty = tmp_path / "empty"
    args = ["generate-dataset", "--count", "4", "--size", "96", "--workers", "1"]
    result = runner.invoke(app, [*args, "--font-cache", str(empty), str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert result.output.count("no fetched handwriting fonts in") == 1
    assert "make fonts" in result.output
    result = runner.invoke(app, [*args, "--no-fetched-fonts", str(tmp_path / "b")])
    assert result.exit_code == 0 and "fetched" not in result.output
    summary = json.loads((tmp_path / "b" / "dataset.json").read_text())
    assert summary["font_cache"] is None and summary["fetched_families"] == 0
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")  # a usage error stays the only line printed
    result = runner.invoke(app, [*args, "--font-cache", str(empty), str(tmp_path / "c")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


# --- handwriting realism effects --------------------------------------------------------------


def test_effects_keep_labels_exact_and_leave_the_callers_stream_alone(cache) -> None:
    """Effects come from a spawned child generator: the caller's draws are the same with any.

    Two generators in the same state but with different spawn counts draw different effects
    and the same glyph jitter; each layer still passes every label invariant.
    """
    _, handwritten = font_pools("train", cache)
    fonts = [s for s in handwritten if s.name.startswith("fontsource:")][:2]
    fonts.append(next(s for s in handwritten if s.path is None))  # a Hershey stroke font
    shapes = set()
    for spec in fonts:
        for seed in range(12):
            a, b = np.random.default_rng(seed), np.random.default_rng(seed)
            b.spawn(5)  # another child: other effects, same stream
            for rng in (a, b):
                layer = render_handwritten(rng, "pt Smith R knee 12/03/61", spec, 30, (0, 0, 0))
                check_layer(layer)
                (line,) = layer.lines
                assert line.box == (0, 0, layer.rgba.shape[1], layer.rgba.shape[0])
                shapes.add((spec.name, seed, layer.rgba.shape))
            assert a.random() == b.random()  # the caller's stream went on the same
    assert len(shapes) > len(fonts) * 12  # the effects did change some lines
