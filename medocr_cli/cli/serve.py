"""`medocr serve OUT`: a DICOM node that receives images, cleans them, and files or forwards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medocr_cli.cli.choices import HeaderProfile, InpaintMethod
from medocr_cli.cli.common import global_options, handle_errors, resolve_salt


@handle_errors
def serve(
    ctx: typer.Context,
    output: Annotated[
        Path,
        typer.Argument(
            help="Output folder: cleaned instances, quarantine, report; OUT/.medocr holds the "
            "spool, journal and serve.log.",
            metavar="OUT",
        ),
    ],
    port: Annotated[
        int,
        typer.Option(help="TCP port to listen on (0: any free port, logged).", min=0, max=65535),
    ] = 11112,
    ae_title: Annotated[
        str, typer.Option("--ae-title", help="This node's AE title (1-16 characters).")
    ] = "MEDOCR",
    host: Annotated[
        str, typer.Option(help="Address to listen on: 0.0.0.0 for every interface.")
    ] = "0.0.0.0",
    forward: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT:AE",
            help="Send each cleaned instance by C-STORE to this node (e.g. a research PACS) "
            "instead of filing it under OUT. A failed send is retried with backoff; the "
            "instance stays in the spool until the destination stored it.",
        ),
    ] = None,
    forward_attempts: Annotated[
        int,
        typer.Option(
            help="Tries per round before a forward is reported as retrying (1 s, 2 s, 4 s, ... "
            "apart, at most 60 s); rounds go on, 60 s apart, until it is sent.",
            min=1,
        ),
    ] = 5,
    spool: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Folder received instances are written to before they are acknowledged "
            "(default OUT/.medocr/spool). It holds uncleaned patient data; instances that "
            "cannot be cleaned are kept in DIR/failed.",
        ),
    ] = None,
    header: Annotated[
        HeaderProfile,
        typer.Option(
            help="DICOM header: 'keep' (only the pixel-cleaning marks are added) or 'basic' "
            "(PS3.15 Annex E Basic Confidentiality Profile; needs a salt, so a study keeps one "
            "UID across restarts).",
        ),
    ] = HeaderProfile.KEEP,
    salt: Annotated[
        str | None,
        typer.Option(
            envvar="MEDOCR_SALT",
            show_envvar=True,
            help="Secret keying the UID remapping of --header basic (as for `scrub`). Prefer "
            "--salt-file or MEDOCR_SALT: a salt on the command line shows in `ps`.",
        ),
    ] = None,
    salt_file: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="Read the --salt from the first line of this file."),
    ] = None,
    method: Annotated[
        InpaintMethod,
        typer.Option(
            help="Inpainting method: 'auto' (learned when inpainter.pt is in the weights folder, "
            "else telea), 'learned', 'telea' or 'ns'."
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
) -> None:
    """Run a DICOM node: receive images by C-STORE, clean them, file them or forward them.

    Answers C-ECHO and accepts C-STORE of every image storage class (CT, MR, US, CR, DX, XA,
    NM, PET, secondary capture, multi-frame and enhanced forms) in every transfer syntax medocr
    decodes, compressed ones included (a JPEG ultrasound is stored as it comes). Objects without
    pixels (SR, PDF, presentation states, RT) are refused, so none passes through uncleaned.

    Each instance is written to the spool and flushed to disk *before* the sender is told it was
    stored (status 0x0000); if it cannot be spooled the answer is 0xA700 (out of resources) and
    the sender keeps it. A crash loses nothing that was acknowledged: on start the node resumes
    whatever the spool holds.

    A worker cleans each instance with the engine of `medocr scrub` (models loaded once, every
    output verified), records it in OUT/.medocr/journal.jsonl and OUT/medocr-report.jsonl, and
    files it as `OUT/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm` (the output's
    UIDs, after --header basic remapped them), or with --forward sends it on. Flagged instances
    (text still found after cleaning) go to OUT/_quarantine/ and are never forwarded; an
    instance that cannot be decoded is reported failed and moved to SPOOL/failed/.

    SIGTERM or Ctrl-C: stop accepting associations, let open ones finish (up to 30 s), finish
    the instance being cleaned, write the report and exit 0. Progress and errors go to
    OUT/.medocr/serve.log and stderr: calling AE titles, counters, spool names and statuses,
    never a patient's name, ID or UID.

    Example: `medocr serve /data/clean --port 11112 --ae-title MEDOCR --forward
    pacs.example.org:104:RESEARCH`, then `storescu -aec MEDOCR localhost 11112 scans/*.dcm`.
    Exit codes: 0 stopped cleanly, 1 the node failed (disk, journal), 2 usage error.
    """
    from medocr_cli.config import resolve_device
    from medocr_cli.pipeline.serve import ServeConfig, parse_destination, run_serve

    opts = global_options(ctx)
    config = ServeConfig(
        output=output,
        port=port,
        ae_title=ae_title,
        host=host,
        forward=parse_destination(forward) if forward is not None else None,
        forward_attempts=forward_attempts,
        spool=spool,
        header=header,
        salt=resolve_salt(ctx, salt, salt_file, header),
        method=method,
        weights=weights,
        device=resolve_device(opts.device),
        batch_size=batch_size,
        quiet=opts.quiet,
    )
    run_serve(config)
    raise typer.Exit(0)
