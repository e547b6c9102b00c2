"""Allow `python -m medocr_cli`."""

from medocr_cli.cli.app import main

main()
