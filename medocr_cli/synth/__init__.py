"""synth layer of medocr (see DESIGN.md)."""
