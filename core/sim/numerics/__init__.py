"""Number formats and compute fidelity of Tenstorrent devices, independent of any op."""
