"""The sandbox's own tests: the real node, the simulated nodes, and `up`/`down` (sandbox_lifecycle)."""
