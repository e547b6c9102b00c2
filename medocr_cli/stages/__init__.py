"""stages layer of medocr (see DESIGN.md)."""
