"""training layer of medocr (see DESIGN.md): what every model family's training shares.

The fit loop (`loop`), the trainer interface `medocr train` calls (`trainer`), metrics, plots,
dataset manifests and the console. Each family's own task and data live in its package,
`medocr_cli/models/<family>/training.py` and `data.py`.
"""
