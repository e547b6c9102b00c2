"""Read, render and write scans (PNG, JPEG, TIFF, BMP, DICOM); file walking; atomic writes."""

from medocr_cli.io.read_write import read_scan, write_scan
from medocr_cli.io.scan import Scan

__all__ = ["Scan", "read_scan", "write_scan"]
