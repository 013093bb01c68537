"""Reference-side helpers: random weights for a transformers SigLIP vision tower that exercise every path,
and hooks recording what each SigLIP component is compared with.

transformers initialises SigLIP's biases to zero and its LayerNorms to (1, 0), and under a composite model
(PaliGemma, PI0) the linear weights get std 0.02, so each encoder layer barely changes its residual input
and a wrong bias, norm or attention would hardly move the PCC. Scaling weights like a trained network
(std 1/sqrt(fan_in)) and giving every bias and norm parameter noise makes each layer's contribution O(1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch


@torch.no_grad()
def randomize_(
    module: torch.nn.Module, seed: int, *, bias_std: float = 0.05, position_std: float = 0.5
) -> None:
    """Re-draw every parameter of `module` (a SiglipVisionModel, a projector ...) from a seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    for name, param in module.named_parameters():
        noise = torch.randn(param.shape, generator=generator)
        if name.endswith("position_embedding.weight"):
            param.copy_(noise * position_std)
        elif param.dim() >= 2:
            param.copy_(noise * param[0].numel() ** -0.5)
        elif "norm" in name and name.endswith("weight"):
            param.copy_(1.0 + noise * 0.1)
        else:
            param.copy_(noise * bias_std)


@contextmanager
def record_tower(tower: torch.nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Record what a transformers SiglipVisionModel computes while the `with` block runs it: "patch" (the
    conv output as [B, tokens, D]), "embeddings", "block {i} input" and "block {i}" (each encoder layer's
    input and output), as detached fp32 copies. A port runs its blocks on the recorded inputs, so per-block
    figures do not compound the errors of earlier blocks."""
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str, tensor: torch.Tensor) -> None:
        captured[name] = tensor.detach().float().clone()

    def on_layer(i: int, _module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        keep(f"block {i} input", args[0] if args else kwargs["hidden_states"])
        keep(f"block {i}", output[0] if isinstance(output, tuple) else output)

    hooks = [
        tower.embeddings.patch_embedding.register_forward_hook(
            lambda _m, _a, out: keep("patch", out.flatten(2).transpose(1, 2))
        ),
        tower.embeddings.register_forward_hook(lambda _m, _a, out: keep("embeddings", out)),
    ]
    hooks += [
        layer.register_forward_hook(partial(on_layer, i), with_kwargs=True)
        for i, layer in enumerate(tower.encoder.layers)
    ]
    try:
        yield captured
    finally:
        for hook in hooks:
            hook.remove()
