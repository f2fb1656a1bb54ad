"""The enterprise registry (企业库): reading files, checks, classification, snapshots, changes,
overrides and search (see docs/registry.md)."""
