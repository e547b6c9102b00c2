"""models layer of medocr (see DESIGN.md)."""
