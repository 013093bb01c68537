"""Mamba (state-space language model) on TTNN: a ttport plugin (entry point `mamba`)."""
