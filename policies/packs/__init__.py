"""Rule packs shipped as TOML data, loaded by name."""
