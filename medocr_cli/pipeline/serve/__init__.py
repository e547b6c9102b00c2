"""`medocr serve`: a DICOM node that receives images (C-STORE), cleans them, files or forwards them.

Modules, in the order an instance meets them:

- `receive`: the SCP (pynetdicom): answers C-ECHO, accepts C-STORE of image storage classes in
  every decodable transfer syntax, spools each instance durably before answering success;
- `spool`: the folder of received instances (atomic, fsynced writes);
- `worker`: cleans spooled instances with `scrub`'s engine (`pipeline.scrub.scrub_file`);
- `place`: files a cleaned instance under OUT/<study>/<series>/<instance>.dcm (its output's UIDs);
- `forward`: the SCU sending cleaned instances on, with retries;
- `ledger`: `scrub`'s journal and report, shared by the threads;
- `node`: starts and stops all of it (`run_serve`, `ServeNode`); `config`: its settings.
"""

from medocr_cli.pipeline.serve.config import Destination, ServeConfig, parse_destination
from medocr_cli.pipeline.serve.node import ServeNode, ServeSummary, run_serve

__all__ = [
    "Destination",
    "ServeConfig",
    "ServeNode",
    "ServeSummary",
    "parse_destination",
    "run_serve",
]
