"""`--cluster`: parse the address (`local:N` or `tcp://HOST:PORT`) and check it answers.

Kept apart from `cluster.py` (which imports Dask) so the option checks of `config.py` can run
before anything is written without `config` importing the module that runs files on a cluster.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from medocr_cli.errors import UsageError, printable

#: `--cluster` forms.
_LOCAL = re.compile(r"local:(\d+)")
_TCP = re.compile(r"tcp://([^\s/:]+|\[[0-9A-Fa-f:.]+\]):(\d+)")


@dataclass(frozen=True)
class ClusterAddress:
    """A parsed `--cluster`: a local cluster of `workers` processes, or a scheduler's address."""

    local_workers: int | None = None
    scheduler: str | None = None


def parse_cluster(text: str) -> ClusterAddress:
    """Parse `local:N` (N >= 1) or `tcp://HOST:PORT`.

    Raises:
        UsageError: Anything else.
    """
    hint = "use local:N (N worker processes here) or tcp://HOST:PORT (a running dask scheduler)"
    local = _LOCAL.fullmatch(text)
    if local:
        n = int(local.group(1))
        if n < 1:
            raise UsageError("--cluster local:N needs at least one worker", hint=hint)
        return ClusterAddress(local_workers=n)
    tcp = _TCP.fullmatch(text)
    if tcp and 0 < int(tcp.group(2)) < 65536:
        return ClusterAddress(scheduler=text)
    raise UsageError(f"--cluster {printable(text)!r} is not a cluster address", hint=hint)


def connect_timeout() -> float:
    """Dask's connect timeout (DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT; 30 s by default)."""
    import dask.config
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect")))


def check_cluster(text: str) -> ClusterAddress:
    """Parse `--cluster` and, for a scheduler, check that its port answers.

    Run before anything is written, so a mistyped host or port stops the run with nothing
    created in OUT.

    Raises:
        UsageError: A malformed address, or a scheduler that cannot be reached.
    """
    address = parse_cluster(text)
    if address.scheduler is not None:
        host, _, port = address.scheduler.removeprefix("tcp://").rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), connect_timeout()).close()
        except OSError as exc:
            raise unreachable(address.scheduler, exc) from None
    return address


def unreachable(scheduler: str, exc: BaseException) -> UsageError:
    """The usage error of a scheduler that cannot be reached (the reason, never a traceback)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return UsageError(
        f"cannot reach the Dask scheduler at {scheduler}: {reason}",
        hint="start it with `dask scheduler` and check the host and port",
    )
