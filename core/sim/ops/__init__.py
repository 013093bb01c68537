"""Op semantics of the simulated ttnn, one module per ttnn area (see docs/ARCHITECTURE.md)."""
