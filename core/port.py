"""What a model port declares: presets, how to build its reference and its TTNN model, inputs, components.

A plugin returns `Port` objects from the `ttport_ports` hook (core/plugins/hookspecs.py). The runner
(core/runner.py) drives every port the same way:

1. `build_reference(preset, weights, seed)` -> the transformers model (fp32, eval mode);
2. `make_inputs(preset, seed, reference)` -> a dict of torch inputs;
3. for each component: `component.reference(ctx)` -> torch output(s) of the reference (run first, for all
   components, so a port may drop the reference before building its own weights);
4. `build_model(ctx)` -> the TTNN model, built from `ctx.reference`'s weights on `ctx.device`;
5. for each component: `component.port(ctx)` -> torch output(s) of the port (after ttnn.to_torch),
   compared with the reference output by PCC against `component.threshold`.

Components share state through `ctx.store` (e.g. a reference block's input captured by a hook, which
the port's block is then run on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ttport.compare import Comparison

Output = torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]
#: (reference output, port output, threshold) -> a ttport.compare.Comparison whose `pcc` holds the score; the
#: runner's default is ttport.compare.compare_outputs (the lowest PCC over the outputs)
Compare = Callable[[Output, Output, float], "Comparison"]


@dataclass
class RunContext:
    """Everything a component needs; created by the runner for one (port, preset, seed) run."""

    port: Port
    preset: str
    seed: int
    weights: Path | None = None
    device: Any = None
    reference: torch.nn.Module | None = None
    model: Any = None
    inputs: dict[str, Any] = field(default_factory=dict)
    store: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Any:
        """The preset's config object (what `Port.presets[preset]` holds)."""
        return self.port.presets[self.preset]


@dataclass
class Component:
    """One comparable piece of a port: `reference(ctx)` and `port(ctx)` return the outputs to compare.

    The score is PCC unless `compare` scores the outputs another way (e.g. the top-1 agreement of generated
    tokens); `metric` names it in reports. The component passes when the score reaches `threshold`."""

    name: str
    reference: Callable[[RunContext], Output]
    port: Callable[[RunContext], Output]
    threshold: float
    description: str = ""
    metric: str = "pcc"
    compare: Compare | None = None


class Port:
    """Base class of a model port. Subclasses set `name`, `presets` and implement the four methods."""

    name: str = ""
    description: str = ""
    #: preset name -> a port-defined config (at least "tiny", used by CI, and "full", the real architecture)
    presets: dict[str, Any] = {}
    #: the mesh the TTNN model is built on (None: one chip); a port whose presets need different meshes
    #: (say tensor-parallel presets over 2 and 8 chips) overrides `mesh_shape_for`
    mesh_shape: tuple[int, int] | None = None
    #: the presets the shared E2E templates run (CI): "tiny" plus small variants exercising other paths
    ci_presets: tuple[str, ...] = ("tiny",)

    def mesh_shape_for(self, preset: str) -> tuple[int, int] | None:
        """The mesh the runner opens for `preset` (default: the port's `mesh_shape`)."""
        return self.mesh_shape

    def build_reference(self, preset: str, weights: Path | None, seed: int) -> torch.nn.Module:
        """The transformers reference: random weights from the preset's config (seeded), or loaded
        from a local checkpoint directory. Raise `ttport.errors.UserError` for a bad directory."""
        raise NotImplementedError

    def make_inputs(self, preset: str, seed: int, reference: torch.nn.Module) -> dict[str, Any]:
        """Deterministic torch inputs for `seed`."""
        raise NotImplementedError

    def layer_trace(self, ctx: RunContext) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Optional, for the per-layer accuracy curve of `ttport run --report`: per stack (e.g. "vision
        tower"), the (reference, port) hidden states after every block when the port runs the stack end to
        end on its own outputs, so errors compound as in real use (the "block N" components, run on the
        reference block's input, show each block alone). Called after the components; default: none."""
        return {}

    def build_model(self, ctx: RunContext) -> Any:
        """The TTNN model, with weights converted once from `ctx.reference` onto `ctx.device`."""
        raise NotImplementedError

    def components(self, preset: str) -> list[Component]:
        """Components in run order; the last ones are usually the end-to-end outputs."""
        raise NotImplementedError
