"""Reading Gemma3's image path from a local checkpoint directory (`--weights DIR`).

A directory as `Gemma3ForConditionalGeneration.save_pretrained` writes it, or as the hub ships
google/gemma-3-*-it: config.json + model.safetensors, or shards listed by model.safetensors.index.json.
Only the vision tower and projector tensors are read, lazily with safetensors, so the text model's
weights (gemma-3-4b: ~8 GB in bf16) are never loaded. Key spellings accepted (transformers 5 renames
the hub's on load, conversion_mapping.py "llava"): "model.vision_tower.*" (saved by transformers 5) and
"vision_tower.vision_model.*" (hub), likewise "model.multi_modal_projector.*" / "multi_modal_projector.*".
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from transformers import Gemma3Config

from core.errors import UserError

from .presets import Gemma3VisionPreset

IMAGE_PATH_MODULES = ("vision_tower", "multi_modal_projector")
#: vision config fields that fix the architecture (and so the weight shapes and the inputs)
_VISION_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_channels",
    "image_size",
    "patch_size",
    "hidden_act",
)


def load_config(directory: Path) -> Gemma3Config:
    path = directory / "config.json"
    if not path.is_file():
        raise UserError(
            f"checkpoint {directory}: no config.json (expected a Gemma3 save_pretrained directory)"
        )
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"checkpoint {directory}: config.json is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("model_type") != "gemma3":
        found = raw.get("model_type") if isinstance(raw, dict) else type(raw).__name__
        raise UserError(f"checkpoint {directory}: config.json is not a Gemma3 config (model_type {found!r})")
    try:
        return Gemma3Config.from_pretrained(directory)
    except Exception as exc:  # transformers' strict config validation raises several types
        raise UserError(f"checkpoint {directory}: cannot read its Gemma3 config: {exc}") from exc


def check_config(config: Gemma3Config, preset: Gemma3VisionPreset) -> None:
    """The checkpoint must have the preset's architecture (the inputs and floors are the preset's)."""
    expected = preset.config()
    pairs = [(f"vision_config.{f}", config.vision_config, expected.vision_config, f) for f in _VISION_FIELDS]
    pairs += [
        ("mm_tokens_per_image", config, expected, "mm_tokens_per_image"),
        ("text_config.hidden_size", config.text_config, expected.text_config, "hidden_size"),
    ]
    for label, found, wanted, field in pairs:
        if getattr(found, field) != getattr(wanted, field):
            raise UserError(
                f"checkpoint {label} = {getattr(found, field)!r} does not match the preset's "
                f"{getattr(wanted, field)!r}"
            )


def _safetensors_files(directory: Path) -> list[Path]:
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(
                f"checkpoint {directory}: unreadable model.safetensors.index.json: {exc}"
            ) from exc
        return [directory / name for name in sorted(set(weight_map.values()))]
    single = directory / "model.safetensors"
    if single.is_file():
        return [single]
    raise UserError(f"checkpoint {directory}: no model.safetensors (or model.safetensors.index.json)")


def image_path_key(key: str) -> str | None:
    """A checkpoint key -> its `Gemma3VisionReference` name, or None for the text model's keys."""
    key = key.removeprefix("model.")
    if not key.startswith(IMAGE_PATH_MODULES):
        return None
    return key.replace("vision_tower.vision_model.", "vision_tower.", 1)


def read_image_path(directory: Path) -> dict[str, torch.Tensor]:
    """The vision tower and projector tensors (fp32), keyed like `Gemma3VisionReference.state_dict()`."""
    state: dict[str, torch.Tensor] = {}
    for path in _safetensors_files(directory):
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    name = image_path_key(key)
                    if name is not None:
                        state[name] = handle.get_tensor(key).float()
        except (SafetensorError, OSError) as exc:
            raise UserError(f"checkpoint {directory}: cannot read {path.name}: {exc}") from exc
    for module in IMAGE_PATH_MODULES:
        if not any(k.startswith(f"{module}.") for k in state):
            raise UserError(f"checkpoint {directory}: no {module} weights found")
    return state
