"""Reading a MambaForCausalLM checkpoint from a local directory (`--weights DIR`): config.json +
model.safetensors (or shards listed by model.safetensors.index.json), as `save_pretrained` writes it or as
the hub ships state-spaces/mamba-*-hf. Reuses the lazy safetensors reader of models/siglip/checkpoint.py.

Keys: "backbone.*" (and an optional "lm_head.weight", tied to the embedding so not read); the original
"backbone.embedding.weight" spelling is renamed like MambaModel.load_hook does. Every problem -- no or
wrong config, an architecture that is not the preset's, missing, unexpected or mis-shaped tensors,
non-finite values -- is one UserError line.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import MambaConfig

from ttport.errors import UserError
from ttport.models.siglip import checkpoint

from .presets import MambaPreset

ARCHITECTURE_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "vocab_size",
    "state_size",
    "expand",
    "conv_kernel",
    "time_step_rank",
    "intermediate_size",
    "use_bias",
    "use_conv_bias",
    "hidden_act",
)


def load_config(directory: Path) -> MambaConfig:
    return checkpoint.load_config(directory, "mamba", MambaConfig, "Mamba")


def check_config(config: MambaConfig, preset: MambaPreset) -> None:
    checkpoint.check_fields(config, preset.config(), ARCHITECTURE_FIELDS)


def backbone_key(key: str) -> str | None:
    """A checkpoint key -> its name in MambaForCausalLM.backbone, None for the (tied) LM head."""
    if not key.startswith("backbone."):
        return None if key == "lm_head.weight" else key
    key = key[len("backbone.") :]
    return "embeddings." + key[len("embedding.") :] if key.startswith("embedding.") else key


def _listed(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")


def read_backbone(directory: Path, expected: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """Every backbone tensor (fp32), keyed like MambaModel.state_dict(), checked against `expected` (name ->
    shape): missing, unexpected or mis-shaped tensors are refused (the shared reader already refused
    non-float and non-finite weights)."""
    state = checkpoint.read_tensors(directory, backbone_key, ["embeddings."])
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing {_listed(missing)}"] if missing else []
        parts += [f"unexpected {_listed(unexpected)}"] if unexpected else []
        raise UserError(
            f"checkpoint {directory}: backbone tensors do not match the model: {'; '.join(parts)}"
        )
    for name, shape in expected.items():
        if state[name].shape != shape:
            raise UserError(
                f"checkpoint {directory}: {name} has shape {list(state[name].shape)}, the model needs {list(shape)}"
            )
    return state
