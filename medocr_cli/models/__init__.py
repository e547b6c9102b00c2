"""models layer of medocr (see DESIGN.md): nn.Modules, their registry and checkpoint packing."""
