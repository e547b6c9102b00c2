"""What a DICOM node needs to know: where it listens, where it files or forwards, how it cleans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medocr_cli.errors import UsageError
from medocr_cli.pipeline.inpaint import AUTO
from medocr_cli.pipeline.scrub import ScrubConfig
from medocr_cli.pipeline.scrub.journal import state_dir

#: The port IANA registered for DICOM (104 needs root).
DEFAULT_PORT = 11112
DEFAULT_AE_TITLE = "MEDOCR"
#: Folders under OUT/.medocr: received instances, cleaned ones waiting to be forwarded, and the
#: engine's output before it is filed.
SPOOL_DIR = "spool"
OUTBOX_DIR = "outbox"
WORK_DIR = "work"
LOG_NAME = "serve.log"


def check_ae_title(value: str, what: str) -> str:
    """Return `value` when it is a valid DICOM AE title (1-16 printable ASCII characters).

    Raises:
        UsageError: Empty, only spaces, longer than 16, a backslash or a control character.
    """
    if not value.strip() or len(value) > 16:
        raise UsageError(f"{what} must be 1 to 16 characters", hint="e.g. MEDOCR")
    if not value.isascii() or not value.isprintable() or "\\" in value:
        raise UsageError(
            f"{what} may hold only printable ASCII characters and no backslash", hint="e.g. MEDOCR"
        )
    return value


@dataclass(frozen=True)
class Destination:
    """A DICOM node cleaned instances are sent to by C-STORE (e.g. a research PACS)."""

    host: str
    port: int
    ae_title: str

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def parse_destination(text: str) -> Destination:
    """Parse `HOST:PORT:AE` (an IPv6 host may hold colons: the last two fields are split off).

    Raises:
        UsageError: Not three fields, a port that is not 1-65535, or an invalid AE title.
    """
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise UsageError(f"--forward {text!r} is not HOST:PORT:AE", hint="e.g. pacs.local:104:PACS")
    host, port, ae_title = parts
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UsageError(f"--forward port {port!r} is not a number from 1 to 65535")
    return Destination(host.strip("[]"), int(port), check_ae_title(ae_title, "the --forward AE"))


@dataclass
class ServeConfig:
    """Everything `run_serve` needs.

    Attributes:
        output: OUT: cleaned instances are filed under OUT/<study>/<series>/<instance>.dcm,
            flagged ones under OUT/_quarantine/ the same way; OUT/.medocr holds the spool,
            the journal, the lock and serve.log.
        port: TCP port to listen on; 0 lets the OS choose one (it is logged).
        ae_title: This node's AE title (also the calling AE title when forwarding).
        host: Address to listen on ("0.0.0.0": every interface).
        forward: Send cleaned instances here by C-STORE instead of filing them under OUT.
        spool: Folder received instances are written to before they are answered
            (default OUT/.medocr/spool). It holds uncleaned patient data.
        header: "keep" or "basic", as for `scrub` (`ScrubConfig.header`).
        salt: Keys the UID remapping of "basic"; required with "basic", since a node restarts
            and a study sent across a restart must keep one UID.
        method: Inpainting method, as for `scrub`.
        find: "learned" or "tesseract", as for `scrub`.
        tesseract: The learned finder's use of Tesseract, as for `scrub`.
        weights: Weights folder (None: MEDOCR_WEIGHTS or the shipped one).
        device: Torch device of the models.
        batch_size: Frames per model pass.
        forward_attempts: Tries per round of a forward before the round counts as failed.
        forward_backoff: Seconds before the second try; doubled before each later one.
        forward_max_delay: Longest wait between tries, and the pause after a failed round
            before the next one: an instance is forwarded as soon as the destination is back.
        drain_seconds: On stop, how long open associations may go on before they are aborted.
        report_every: Shortest time between two rewrites of OUT/medocr-report.jsonl.
        log_to_stderr: Also log to stderr (besides OUT/.medocr/serve.log).
        quiet: Log only warnings and errors to stderr.
    """

    output: Path
    port: int = DEFAULT_PORT
    ae_title: str = DEFAULT_AE_TITLE
    host: str = "0.0.0.0"
    forward: Destination | None = None
    spool: Path | None = None
    header: str = "keep"
    salt: str | None = None
    method: str = AUTO
    find: str = "learned"
    tesseract: str = "off"
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 8
    forward_attempts: int = 5
    forward_backoff: float = 1.0
    forward_max_delay: float = 60.0
    drain_seconds: float = 30.0
    report_every: float = 10.0
    log_to_stderr: bool = True
    quiet: bool = False

    @property
    def state(self) -> Path:
        """OUT/.medocr: journal, lock, log and the node's working folders."""
        return state_dir(self.output)

    @property
    def spool_dir(self) -> Path:
        """Where received instances wait to be cleaned."""
        return self.spool if self.spool is not None else self.state / SPOOL_DIR

    def scrub_config(self) -> ScrubConfig:
        """The engine settings, as `scrub` would take them (verification always on)."""
        return ScrubConfig(
            inputs=[],
            output=self.output,
            method=self.method,
            header=self.header,
            salt=self.salt,
            verify=True,
            flagged="keep",  # serve files flagged instances in its own quarantine itself
            find=self.find,
            tesseract=self.tesseract,
            weights=self.weights,
            device=self.device,
            batch_size=self.batch_size,
        )

    def check(self) -> None:
        """Refuse settings that cannot work.

        Raises:
            UsageError: A bad port, AE title, batch size or forward setting, or `basic`
                without a salt.
        """
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port} is not from 0 to 65535")
        check_ae_title(self.ae_title, "--ae-title")
        if self.batch_size < 1:
            raise UsageError("the batch size must be at least 1")
        if self.forward_attempts < 1:
            raise UsageError("--forward-attempts must be at least 1")
        if self.forward_backoff < 0 or self.forward_max_delay <= 0:
            raise UsageError("forward delays must be positive")
        if self.header == "basic" and self.salt is None:
            raise UsageError(
                "serve --header basic needs a salt",
                hint="give --salt-file or MEDOCR_SALT, so a study keeps one UID across restarts",
            )
