"""pipeline layer of medocr (see DESIGN.md)."""
