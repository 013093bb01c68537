"""Parity suite: holds the host simulator (ttport.sim.ttnn) to the real `ttnn` wheel wherever real ttnn runs
without a card (host conversions under a mock cluster descriptor, golden functions, API surface) and prints
the coverage of real ttnn's public callables (parity/coverage_check.py; the list of real names is stored by
`python -m parity.surface --write`).

Run with `nox -s parity` (CPython 3.12 + real ttnn) or `python -m parity` in such an environment. It is not
part of the default pytest run: it needs the real wheel, which exists for CPython 3.10 / 3.12 only.
"""
