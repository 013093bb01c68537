"""Projected device time of a port's full preset at a fraction of the run's cost: run it with fewer encoder
layers, then scale the per-layer figure to the real depth.

Every layer of a SigLIP / CLIP style encoder runs the same ops on the same shapes, so its projected time is the
same for every layer (`ttport run` reports it per "block i" / "layer i" component). A run with N layers gives
that figure and the rest of the tower; the full depth L is then

    tower(L) = tower(N) + (L - N) * block

for each of kernels / with trace / without trace (the projection's per-component figures). The per-op records
and the runner are the real ones (`ttport.runner.run_port`); only the depth differs. The preset must be a
dataclass with a `num_hidden_layers` field (gemma3's presets are).

    flock /tmp/ttport-full.lock python benchmarks/bench_port_projection.py gemma3 full --layers 2 [--board n150]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ttport import backend, device  # noqa: E402
from ttport.plugins.registry import load_registry  # noqa: E402
from ttport.runner import run_port  # noqa: E402

FIGURES = ("device_ns", "trace_ns", "no_trace_ns")
_LAYER = re.compile(r"^(block|layer) \d+$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("preset")
    parser.add_argument("--layers", type=int, default=2, help="encoder layers actually run (default 2)")
    parser.add_argument("--tower", default="tower", help="the component that runs the whole encoder")
    parser.add_argument("--board", default=None)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    backend.select_backend("sim")
    device.select_board(args.board)
    port = load_registry().get(args.model)
    full = port.presets[args.preset]
    depth = int(full.num_hidden_layers)
    short = f"{args.preset}@{args.layers}"
    # the port's own preset table (ports look presets up by name in it), extended for this process only
    port.presets[short] = dataclasses.replace(full, num_hidden_layers=args.layers)
    report = run_port(port, short)
    components = report.projection["components"]
    layers = [c for name, c in components.items() if _LAYER.match(name)]
    if not layers:
        raise SystemExit(f"no 'block i' / 'layer i' component in {list(components)}")
    out: dict = {"model": args.model, "preset": args.preset, "layers_run": args.layers, "depth": depth}
    out["passed"] = report.passed
    out["pcc"] = {c.name: c.pcc for c in report.components}
    names = {"device_ns": "kernels_ms", "trace_ns": "trace_ms", "no_trace_ns": "no_trace_ms"}
    out["block"] = {names[f]: round(layers[0][f] / 1e6, 3) for f in FIGURES}
    for name, c in components.items():
        if _LAYER.match(name) or c["ops"] == 0:
            continue
        extra = depth - args.layers if name.startswith(args.tower) else 0
        out[name] = {names[f]: round((c[f] + extra * layers[0][f]) / 1e6, 3) for f in FIGURES}
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
