"""`medocr scrub IN... OUT`: clean every image of a folder tree into a mirrored output tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.choices import (
    FindMethod,
    FlaggedMode,
    HeaderProfile,
    InpaintMethod,
    OnError,
    TesseractMode,
)
from medocr_cli.cli.common import (
    err_console,
    global_options,
    handle_errors,
    out_console,
    print_json,
    resolve_salt,
)
from medocr_cli.types import OutputSyntax


@handle_errors
def scrub(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="One or more input files or folders, then the output folder (last).",
            metavar="IN... OUT",
        ),
    ],
    overwrite: Annotated[bool, typer.Option(help="Replace outputs that already exist.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Skip inputs a previous run into OUT finished: output present and its report "
            "line ok for the same path, size and mtime (also after an interrupted run). "
            "With --overwrite the other existing outputs are replaced.",
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Read each output back and search every frame again in full (several "
            "renderings, vertical text too); what is found is removed once more, and text a "
            "second search still finds flags the file. --no-verify is faster, but its DICOM "
            "outputs are not marked BurnedInAnnotation NO.",
        ),
    ] = True,
    flagged: Annotated[
        FlaggedMode,
        typer.Option(
            help="Where a flagged output goes: 'quarantine' (OUT/_quarantine, same relative "
            "path, out of the output tree; `medocr release` moves it back after review) or "
            "'keep' (left in the tree, reported flagged).",
        ),
    ] = FlaggedMode.QUARANTINE,
    strict: Annotated[
        bool, typer.Option(hidden=True, help="Old name of --flagged quarantine (the default).")
    ] = False,
    on_error: Annotated[
        OnError, typer.Option(help="After a file fails: 'continue' with the rest, or 'stop'.")
    ] = OnError.CONTINUE,
    find: Annotated[
        FindMethod,
        typer.Option(
            help="How text is found: 'learned' (text detector on every frame, classifier as a "
            "safety net, Tesseract around detected lines of printed frames) or 'tesseract' "
            "(whole-frame Tesseract in several renderings, the classical path; slower).",
        ),
    ] = FindMethod.LEARNED,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm/--no-confirm",
            help="With --find learned, confirm each detected region before removing it: the "
            "text / non-text check (confirm.pt) or a word Tesseract reads there. Regions that "
            "are neither (Doppler flow, vessels, calipers) are kept and counted as "
            "kept_non_text. --no-confirm removes every detected region.",
        ),
    ] = True,
    tesseract: Annotated[
        TesseractMode,
        typer.Option(
            help="Tesseract's part in --find learned: 'regions' (around detected lines of "
            "frames the classifier calls printed), 'full' (whole frames called printed), 'off'.",
        ),
    ] = TesseractMode.OFF,
    method: Annotated[
        InpaintMethod,
        typer.Option(
            help="Inpainting method: 'auto' (learned when inpainter.pt is in the weights "
            "folder, else telea), 'learned', 'telea' or 'ns' (OpenCV).",
        ),
    ] = InpaintMethod.AUTO,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="Folder with detector.pt, classifier.pt, inpainter.pt; default: MEDOCR_WEIGHTS "
            "or the shipped weights."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Frames per model pass.", min=1)] = 8,
    workers: Annotated[
        int,
        typer.Option(
            help="Processes cleaning files side by side, each with its share of the cores "
            "(each loads the models: ~150 MB of memory apiece).",
            min=1,
        ),
    ] = 1,
    follow_links: Annotated[
        bool,
        typer.Option(
            help="Follow symbolic links that lead outside their input folder. By default they "
            "are reported as skipped, like dangling links, link loops and FIFOs.",
        ),
    ] = False,
    output_syntax: Annotated[
        OutputSyntax,
        typer.Option(
            help="How DICOM outputs store their pixels, never adding loss: 'keep' (a "
            "compressed input with no pixel changed keeps its own encoded frames, lossy or "
            "not; otherwise the input's transfer syntax when it is lossless and can be "
            "written here, else the smallest of JPEG-LS, JPEG 2000 and RLE lossless), "
            "'explicit' (uncompressed), 'rle', 'jpeg-ls' or 'jpeg2000' (lossless; "
            "uncompressed when the codec cannot hold the image, e.g. 32-bit samples).",
            case_sensitive=False,
        ),
    ] = OutputSyntax.KEEP,
    report_text: Annotated[
        bool,
        typer.Option(
            help="Write the text read in each file into its report line. The text is patient "
            "data: off by default.",
        ),
    ] = False,
    html: Annotated[
        bool,
        typer.Option(
            "--html/--no-html",
            help="Also write OUT/medocr-report.html: before/after thumbnails of every changed "
            "image with the removed boxes, for review. The 'before' thumbnails in OUT/_report "
            "show the original text: delete that folder before sharing OUT.",
        ),
    ] = False,
    header: Annotated[
        HeaderProfile,
        typer.Option(
            help="DICOM header: 'keep' (only the pixel-cleaning marks are added) or 'basic' "
            "(PS3.15 Annex E Basic Confidentiality Profile: names, IDs, dates, UIDs replaced; "
            "private and free-text elements removed). PNG and other images have no header.",
        ),
    ] = HeaderProfile.KEEP,
    salt: Annotated[
        str | None,
        typer.Option(
            envvar="MEDOCR_SALT",
            show_envvar=True,
            help="Secret keying the UID remapping, dummies and date shift of --header basic: "
            "the same salt maps a UID to the same new UID in every file and every run. A salt "
            "on the command line shows in `ps` and the shell history: prefer --salt-file or "
            "the MEDOCR_SALT environment variable (ignored with --header keep). Without any, a "
            "random salt is used per run (UIDs then differ between runs). Never written to the "
            "outputs.",
        ),
    ] = None,
    salt_file: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Read the --salt from the first line of this file (stripped); not with --salt.",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="local:N|tcp://HOST:PORT",
            help="Clean files on a Dask cluster: 'local:N' starts N worker processes here, "
            "'tcp://HOST:PORT' uses a running `dask scheduler` with `dask worker`s on several "
            "machines. Each worker loads the models once and writes its outputs straight into "
            "OUT, so every machine must see IN and OUT at the same paths (a shared "
            "filesystem). Not with --workers.",
        ),
    ] = None,
    files: Annotated[
        Path | None,
        typer.Option(
            metavar="LIST",
            help="Read the input files from LIST (one path a line; blank lines and '#' lines "
            "skipped; relative paths relative to LIST's folder) instead of IN: give only OUT. "
            "Outputs go to OUT/<file name>, so two listed files with one name are refused "
            "(exit 2): give --files-root then.",
        ),
    ] = None,
    files_root: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="With --files: write each output to OUT/<its path relative to DIR>; every "
            "listed file must lie below DIR.",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="SITE.toml",
            help="Read a site recipe: weights, header, salt_file, method, find, tesseract, "
            "confirm, "
            "verify, flagged, workers, batch_size, output_syntax, cluster, and per-scanner "
            "rectangles always cleared or never touched ([[rule]]). Options on the command "
            "line override it.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the per-file results as a JSON array on stdout.")
    ] = False,
) -> None:
    """Remove burned-in text from every PNG/DICOM/JPEG/TIFF/BMP image under IN, writing to OUT.

    Every frame is searched by the text detector (printed and handwritten lines); the
    classifier double-checks it (a frame it calls text where the detector found none is
    searched with whole-frame Tesseract) and Tesseract reads around the lines of printed frames.
    The text is masked (narrowed to the strokes), repainted by the learned inpainter (or
    Telea / Navier-Stokes) in the stored pixel values, and the file is written in its own
    format at the same relative place under OUT.

    Each output is read back and every frame searched again in full: the detector on the
    image as shown, contrast-stretched and (16-bit data) over the whole stored range, upright
    and turned, with Tesseract confirming what it sees. Text found is removed once more; a
    file where a second search still finds text is `flagged` and moved to OUT/_quarantine
    (--flagged keep leaves it in the tree). Only a DICOM output that passed is marked
    BurnedInAnnotation NO with the Clean Pixel Data code. Frames identical to an earlier frame
    of the same file reuse its search.

    OUT/medocr-report.jsonl gets one line per input (path, status, class, frames, boxes, the
    removed regions' coordinates, residual boxes, per-stage seconds, error, input size and
    mtime, quarantine path); recognised text only with --report-text. With --html,
    OUT/medocr-report.html shows before/after thumbnails for review. Inputs are never
    modified; outputs are written atomically.
    Exit codes: 0 all images cleaned, 1 some failed or were flagged, 2 usage error.
    """
    from medocr_cli.cli.render_scrub import RichProgress, render_summary
    from medocr_cli.errors import UsageError
    from medocr_cli.pipeline.scrub import ScrubConfig, run_scrub

    if files is not None and len(paths) != 1:
        raise UsageError(
            "with --files give only the output folder", hint="medocr scrub --files LIST OUT"
        )
    if files is None and len(paths) < 2:
        raise UsageError(
            "scrub needs at least one input and an output folder", hint="medocr scrub IN OUT"
        )
    if files_root is not None and files is None:
        raise UsageError("--files-root only applies with --files")
    opts = global_options(ctx)
    from medocr_cli.cli.site_options import with_recipe
    from medocr_cli.config import resolve_device
    from medocr_cli.io.file_list import FileList
    from medocr_cli.site_config import load_site_config

    site = load_site_config(config_file) if config_file is not None else None
    chosen = with_recipe(
        ctx,
        site,
        {
            "weights": weights,
            "header": header,
            "salt_file": salt_file,
            "method": method,
            "find": find,
            "tesseract": tesseract,
            "confirm": confirm,
            "verify": verify,
            "strict": strict,
            "flagged": flagged.value,
            "workers": workers,
            "batch_size": batch_size,
            "output_syntax": output_syntax.value,
            "cluster": cluster,
        },
    )
    config = ScrubConfig(
        inputs=list(paths[:-1]),
        output=paths[-1],
        overwrite=overwrite,
        stop_on_error=on_error == "stop",
        method=chosen["method"],
        header=chosen["header"],
        salt=resolve_salt(ctx, salt, chosen["salt_file"], chosen["header"]),
        resume=resume,
        verify=chosen["verify"],
        flagged=FlaggedMode.QUARANTINE.value if chosen["strict"] else chosen["flagged"],
        find=chosen["find"],
        tesseract=chosen["tesseract"],
        confirm=chosen["confirm"],
        weights=chosen["weights"],
        device=resolve_device(opts.device),
        batch_size=chosen["batch_size"],
        report_text=report_text,
        html=html,
        workers=chosen["workers"],
        follow_links=follow_links,
        output_syntax=chosen["output_syntax"],
        cluster=chosen["cluster"],
        files=FileList(files, files_root) if files is not None else None,
        regions=site.rules if site is not None else None,
    )
    progress = RichProgress(err_console, enabled=not opts.quiet, verbose=opts.verbose)
    with progress:
        summary = run_scrub(config, progress, models=opts.models)
    if json_out:
        print_json([r.to_json() for r in summary.results])
    elif not opts.quiet:
        render_summary(out_console, summary)
    raise typer.Exit(summary.exit_code)
