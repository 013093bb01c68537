"""The run's input: a seeded prompt of `prompt_len` token ids."""

from __future__ import annotations

from typing import Any

import torch

from .presets import MambaPreset


def make_inputs(preset: MambaPreset, seed: int) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(0, preset.vocab_size, (1, preset.prompt_len), generator=generator)}
