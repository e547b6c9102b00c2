"""training layer of medocr (see DESIGN.md)."""
