"""`python -m medocr_cli.synth.fonts.fetch` (`make fonts`): fetch the handwriting families.

For each family of `fetched.FETCHED_FAMILIES`, runs `npm pack @fontsource/<name>@<pinned
version>` into a scratch folder of the font cache, takes the Latin, normal-style WOFF file of
each catalogued weight (never another subset or style), converts it to TrueType with fontTools
so FreeType and Pillow read it, and keeps the package's licence (OFL) beside it, as laid out in
`fetched`. A family is written to a scratch folder and moved into place whole, so an interrupted
fetch leaves nothing half-made; a family already there at its pinned version is skipped, so the
command is idempotent and cheap to rerun. Each failure is one line; a summary ends the run.

Only dataset generation and training use these fonts; scrub, classify and extract never need
them, so nothing here runs at inference time. Exit status: 0 all families are in the cache,
1 some failed, 2 npm is missing or the command line is wrong.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from medocr_cli.errors import InputFileError, MedocrError, OutputError, ToolMissingError, UsageError
from medocr_cli.synth.fonts.catalogue import is_reserved
from medocr_cli.synth.fonts.fetched import (
    CACHE_ENV,
    FETCHED_FAMILIES,
    FetchedFamily,
    default_cache,
    reserved_face,
)

#: Seconds one `npm pack` may take (the Korean and Japanese packages are 5-9 MB).
NPM_TIMEOUT_S = 300
#: Largest font file read from a package, in bytes (a Latin WOFF is well under 1 MB).
_MAX_MEMBER = 16 * 1024 * 1024
#: Name of the record each family folder gets once complete.
SOURCE_FILE = "source.json"


def is_complete(entry: FetchedFamily, folder: Path) -> bool:
    """Tell whether a family folder holds its pinned version's faces, licence and record."""
    try:
        record = json.loads((folder / SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return False
    files = [folder / entry.face_file(w) for w in entry.weights] + [folder / "LICENSE"]
    return record.get("package") == entry.package and all(p.is_file() for p in files)


def woff_to_ttf(data: bytes, target: Path) -> None:
    """Convert a WOFF or WOFF2 font to a TrueType file FreeType reads (fontTools, no hinting).

    Raises:
        InputFileError: The data is not a font fontTools can read, or WOFF2 without brotli.
    """
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(io.BytesIO(data), recalcTimestamp=False)  # same bytes on every fetch
        font.flavor = None
        font.save(str(target))
    except ImportError as exc:  # WOFF2 needs brotli
        raise InputFileError(
            f"cannot decompress {target.stem}: {exc}", hint="pip install brotli"
        ) from exc
    except (TTLibError, OSError, ValueError, KeyError, AssertionError) as exc:
        raise InputFileError(f"not a readable web font: {exc}", path=target.name) from exc


def _npm_pack(npm: str, entry: FetchedFamily, dest: Path) -> Path:
    """Run `npm pack` for the pinned package into `dest`; return the tarball."""
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false")
    try:
        done = subprocess.run(
            # --prefer-offline: versions are immutable, so npm's own cache is as good
            [
                npm,
                "pack",
                entry.package,
                "--pack-destination",
                str(dest),
                "--json",
                "--prefer-offline",
            ],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InputFileError(
            f"npm pack {entry.package} took over {NPM_TIMEOUT_S} s",
            hint="check that this machine reaches the npm registry (npm ping)",
        ) from exc
    tarballs = sorted(dest.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise InputFileError(
            f"npm pack {entry.package} failed: {_npm_error(done.stdout, done.stderr)}",
            hint="check that this machine reaches the npm registry (npm ping) and that the "
            "pinned version exists (npm view " + f"{entry.package.rsplit('@', 1)[0]} versions)",
        )
    return tarballs[0]


def _npm_error(stdout: str, stderr: str) -> str:
    """The one line that says why npm failed: its JSON error summary, else its last error."""
    try:
        summary = json.loads(stdout)["error"]["summary"]
        if summary:
            return str(summary)
    except (ValueError, KeyError, TypeError):
        pass
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "complete log" not in ln]
    return lines[-1].strip() if lines else "no output"


def _member(tar: tarfile.TarFile, name: str) -> bytes | None:
    """The bytes of a regular file in the tarball, None if absent (never a link or a huge file)."""
    try:
        info = tar.getmember(name)
    except KeyError:
        return None
    if not info.isfile() or info.size > _MAX_MEMBER:
        return None
    handle = tar.extractfile(info)
    return handle.read() if handle is not None else None


def _unpack(entry: FetchedFamily, tarball: Path, folder: Path) -> dict[str, str]:
    """Write the family's TrueType faces and licence into `folder`; return face -> source."""
    sources: dict[str, str] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for weight in entry.weights:
            stem = f"package/files/{entry.npm}-latin-{weight}-normal"
            for ext in (".woff", ".woff2"):  # WOFF needs only zlib; WOFF2 needs brotli
                data = _member(tar, stem + ext)
                if data is not None:
                    target = folder / entry.face_file(weight)
                    woff_to_ttf(data, target)
                    if reserved_face(target):
                        raise InputFileError(
                            f"{entry.package} is a font reserved for evaluation",
                            hint="remove it from fetched.FETCHED_FAMILIES",
                        )
                    sources[target.name] = stem.removeprefix("package/") + ext
                    break
            else:
                raise InputFileError(
                    f"{entry.package} has no Latin normal weight {weight}",
                    hint="fix the weights of this family in fetched.FETCHED_FAMILIES",
                )
        licence = _member(tar, "package/LICENSE")
        if licence is None:
            raise InputFileError(
                f"{entry.package} ships no LICENSE file to keep beside the fonts",
                hint="leave this family out of fetched.FETCHED_FAMILIES",
            )
        (folder / "LICENSE").write_bytes(licence)
    return sources


def fetch_family(entry: FetchedFamily, cache: Path, npm: str, force: bool = False) -> str:
    """Fetch one family into the cache; return "kept" (already there) or "fetched".

    Raises:
        UsageError: The family is reserved for evaluation.
        InputFileError: npm failed, or the package lacks a catalogued file or its licence.
        OutputError: The cache cannot be written.
    """
    if is_reserved(entry.npm):
        raise UsageError(f"{entry.npm} is reserved for independent evaluation and never fetched")
    final = cache / entry.npm
    if not force and is_complete(entry, final):
        return "kept"
    try:
        with tempfile.TemporaryDirectory(dir=cache, prefix=f".fetch-{entry.npm}-") as tmp:
            scratch = Path(tmp)
            (scratch / "pack").mkdir()
            folder = scratch / entry.npm
            folder.mkdir()
            tarball = _npm_pack(npm, entry, scratch / "pack")
            sources = _unpack(entry, tarball, folder)
            digest = hashlib.sha512(tarball.read_bytes()).digest()
            record = {
                "package": entry.package,
                "integrity": "sha512-" + base64.b64encode(digest).decode("ascii"),
                "faces": sources,
                "bucket": entry.bucket,
                "split": entry.split,
            }
            (folder / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n")
            if final.exists():
                final.rename(scratch / "old")  # the scratch folder's removal takes it away
            folder.rename(final)
    except OSError as exc:
        raise OutputError(
            f"cannot write {entry.npm} into the font cache: {exc.strerror or exc}", path=cache
        ) from exc
    return "fetched"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m medocr_cli.synth.fonts.fetch",
        description="Fetch the handwriting font families generate-dataset trains on "
        "(npm @fontsource packages, pinned versions, Latin TrueType plus licence) into the "
        f"font cache (--cache, else ${CACHE_ENV}, else ~/.cache/medocr/fonts).",
    )
    parser.add_argument("--cache", type=Path, default=None, help="font cache folder")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="fetch only these families")
    parser.add_argument("--force", action="store_true", help="fetch again what is there")
    parser.add_argument("--jobs", type=int, default=4, help="packages fetched at once")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    return parser.parse_args(argv)


def _chosen(only: Sequence[str] | None) -> list[FetchedFamily]:
    if not only:
        return list(FETCHED_FAMILIES)
    known = {f.npm: f for f in FETCHED_FAMILIES}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise UsageError(
            f"not in the fetched-family table: {', '.join(unknown)}",
            hint="see --list; add a family to fetched.FETCHED_FAMILIES first",
        )
    return [known[name] for name in only]


def run(argv: Sequence[str] | None = None) -> int:
    """Fetch the chosen families into the cache, print one line per failure and a summary.

    Returns:
        The exit status: 0 every family is in the cache, 1 some failed.

    Raises:
        UsageError: An unknown family was asked for.
        ToolMissingError: npm is not installed.
        OutputError: The cache folder cannot be created.
    """
    args = _parse(argv)
    if args.list:
        for f in FETCHED_FAMILIES:
            print(f"{f.package:45} {f.bucket:8} {f.split:5} weights {list(f.weights)}")
        return 0
    entries = _chosen(args.only)
    npm = shutil.which("npm")
    if npm is None:
        raise ToolMissingError(
            "npm is not installed; it fetches the @fontsource handwriting packages",
            hint="install Node.js and npm (apt-get install npm), then run make fonts again",
        )
    cache = (args.cache or default_cache()).expanduser()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the font cache: {exc.strerror}", path=cache) from exc
    t0 = time.perf_counter()

    def one(entry: FetchedFamily) -> str:
        try:
            return fetch_family(entry, cache, npm, args.force)
        except MedocrError as exc:
            return "failed: " + exc.one_line()

    outcomes: dict[str, int] = {"fetched": 0, "kept": 0, "failed": 0}
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for entry, outcome in zip(entries, pool.map(one, entries), strict=True):
            if outcome.startswith("failed: "):
                outcomes["failed"] += 1
                print(f"medocr fonts: {entry.npm}: {outcome[8:]}", file=sys.stderr, flush=True)
            else:
                outcomes[outcome] += 1
    size = _folder_bytes(cache) / 1e6
    print(
        f"medocr fonts: {len(entries) - outcomes['failed']} of {len(entries)} families in "
        f"{cache} (fetched {outcomes['fetched']}, already there {outcomes['kept']}, failed "
        f"{outcomes['failed']}); {size:.1f} MB; {time.perf_counter() - t0:.1f} s"
    )
    return 1 if outcomes["failed"] else 0


def main() -> None:
    """Entry point: run the fetch and exit with its status; a usage error exits 2."""
    try:
        code = run()
    except MedocrError as exc:
        print(f"medocr fonts: error: {exc.one_line()}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("medocr fonts: interrupted; families already moved into place are complete")
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
