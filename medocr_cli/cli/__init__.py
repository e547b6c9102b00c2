"""cli layer of medocr (see DESIGN.md)."""
