"""The pure decision engine: rule kinds, rule packs and conflict resolution."""
