"""The transformers reference: PI0ForConditionalGeneration built from a preset (see presets.py: its text
model and action expert are one small layer each, the image path is the preset's), with either seeded
random weights or the image-path weights of a local checkpoint directory.

A checkpoint directory is what `PI0ForConditionalGeneration.save_pretrained` writes (config.json +
model.safetensors, or shards with model.safetensors.index.json). Only the vision tower and projector
tensors are read (lazily, with safetensors), so a real 3.5 B-parameter PI0 checkpoint never has to fit in
memory. transformers saves them under the LeRobot names `paligemma_with_expert.paligemma.model.*`
(conversion_mapping.py renames them to `model.vlm.*` on load); both spellings are accepted.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from transformers import PI0Config, PI0ForConditionalGeneration

from core.errors import UserError
from models.siglip.reference import randomize_

from .presets import PI0Preset

#: where the image path lives in a saved PI0 state dict (as saved, as loaded), before "vision_tower." etc.
CHECKPOINT_PREFIXES = ("paligemma_with_expert.paligemma.model.", "model.vlm.")
IMAGE_PATH_MODULES = ("vision_tower", "multi_modal_projector")
#: vision config fields that decide the architecture (and the checkpoint's weight shapes)
_ARCHITECTURE_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_channels",
    "patch_size",
    "image_size",
    "hidden_act",
)


def build_reference(preset: PI0Preset, weights: Path | None, seed: int) -> PI0ForConditionalGeneration:
    """fp32 eval-mode PI0: random image path (seeded) or the checkpoint's image path."""
    torch.manual_seed(seed)
    model = PI0ForConditionalGeneration(preset.pi0_config())
    vlm = model.model.vlm
    if weights is None:
        for i, name in enumerate(IMAGE_PATH_MODULES):
            randomize_(getattr(vlm, name), seed + i)
    else:
        check_config(load_config(weights), preset)
        state = read_image_path(weights)
        for name in IMAGE_PATH_MODULES:
            module = getattr(vlm, name)
            part = {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(f"{name}.")}
            try:
                module.load_state_dict(part, strict=True)
            except RuntimeError as exc:
                raise UserError(f"checkpoint {weights}: {name} weights do not fit the model: {exc}") from exc
    return model.eval()


def load_config(directory: Path) -> PI0Config:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise UserError(f"checkpoint {directory}: no config.json (expected a PI0 save_pretrained directory)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"checkpoint {directory}: config.json is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("model_type") != "pi0":
        found = raw.get("model_type") if isinstance(raw, dict) else type(raw).__name__
        raise UserError(f"checkpoint {directory}: config.json is not a PI0 config (model_type {found!r})")
    try:
        return PI0Config.from_pretrained(directory)
    except Exception as exc:  # transformers' strict config validation raises several types
        raise UserError(f"checkpoint {directory}: cannot read its PI0 config: {exc}") from exc


def check_config(config: PI0Config, preset: PI0Preset) -> None:
    """The checkpoint's image path must have the preset's architecture (the inputs and PCC floors are the
    preset's); a mismatch is a user error naming the first differing field."""
    vision = config.vlm_config.vision_config
    expected = preset.pi0_config().vlm_config.vision_config
    for field in _ARCHITECTURE_FIELDS:
        if getattr(vision, field) != getattr(expected, field):
            raise UserError(
                f"checkpoint vision_config.{field} = {getattr(vision, field)!r} does not match the preset's "
                f"{getattr(expected, field)!r}"
            )
    if config.vlm_config.projection_dim != preset.projection_dim:
        raise UserError(
            f"checkpoint projection_dim = {config.vlm_config.projection_dim} does not match the preset's "
            f"{preset.projection_dim}"
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


def read_image_path(directory: Path) -> dict[str, torch.Tensor]:
    """The vision tower and projector tensors, keyed "vision_tower.*" / "multi_modal_projector.*"."""
    directory = Path(directory)
    state: dict[str, torch.Tensor] = {}
    for path in _safetensors_files(directory):
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    for prefix in CHECKPOINT_PREFIXES:
                        rest = key[len(prefix) :]
                        if key.startswith(prefix) and rest.startswith(IMAGE_PATH_MODULES):
                            state[rest] = handle.get_tensor(key).float()
        except (SafetensorError, OSError) as exc:
            raise UserError(f"checkpoint {directory}: cannot read {path.name}: {exc}") from exc
    for name in IMAGE_PATH_MODULES:
        if not any(k.startswith(f"{name}.") for k in state):
            raise UserError(f"checkpoint {directory}: no {name} weights found")
    return state
