"""Reading a SigLIP image path (vision tower + projector) out of a local transformers checkpoint directory,
for the ports built on models/siglip (`--weights DIR`).

A directory as `save_pretrained` writes it: config.json + model.safetensors, or shards listed by
model.safetensors.index.json. Tensors are read lazily with safetensors and only those a port keeps, so a
multi-billion-parameter checkpoint's text model is never loaded. Every problem is a UserError naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from core.errors import UserError

#: SiglipVisionConfig fields that fix the architecture (and so the weight shapes and the image inputs)
SIGLIP_ARCHITECTURE_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_channels",
    "patch_size",
    "image_size",
    "hidden_act",
)


def load_config(directory: Path, model_type: str, config_class: Any, display_name: str | None = None) -> Any:
    """`config_class.from_pretrained(directory)` after checking config.json exists, parses and is a
    `model_type` config. Errors call it `display_name` (default: `model_type`)."""
    display_name = display_name or model_type
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise UserError(f"checkpoint {directory}: no config.json (expected a save_pretrained directory)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"checkpoint {directory}: config.json is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("model_type") != model_type:
        found = raw.get("model_type") if isinstance(raw, dict) else type(raw).__name__
        raise UserError(
            f"checkpoint {directory}: config.json is not a {display_name} config (model_type {found!r})"
        )
    try:
        return config_class.from_pretrained(directory)
    except Exception as exc:  # transformers' strict config validation raises several types
        raise UserError(f"checkpoint {directory}: cannot read its {display_name} config: {exc}") from exc


def check_fields(found: Any, expected: Any, fields: Iterable[str], label: str = "") -> None:
    """Each field of the checkpoint's config must equal the preset's: a mismatch names the first field."""
    for field in fields:
        if getattr(found, field) != getattr(expected, field):
            raise UserError(
                f"checkpoint {label}{field} = {getattr(found, field)!r} does not match the preset's "
                f"{getattr(expected, field)!r}"
            )


def safetensors_files(directory: Path) -> list[Path]:
    directory = Path(directory)
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


def read_tensors(
    directory: Path, rename: Callable[[str], str | None], required: Iterable[str] = ()
) -> dict[str, torch.Tensor]:
    """fp32 copies of the tensors whose key `rename` maps to a name (None: skipped), keyed by that name.
    Each of `required` must prefix at least one name (e.g. "vision_tower.")."""
    state: dict[str, torch.Tensor] = {}
    for path in safetensors_files(directory):
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    name = rename(key)
                    if name is not None:
                        state[name] = handle.get_tensor(key).float()
        except (SafetensorError, OSError) as exc:
            raise UserError(f"checkpoint {directory}: cannot read {path.name}: {exc}") from exc
    for prefix in required:
        if not any(name.startswith(prefix) for name in state):
            raise UserError(f"checkpoint {directory}: no {prefix.rstrip('.')} weights found")
    return state


def load_modules(
    modules: dict[str, torch.nn.Module], state: dict[str, torch.Tensor], directory: Path
) -> None:
    """Strictly load `state` (keys "<module name>.<parameter>") into each named module."""
    for name, module in modules.items():
        part = {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(f"{name}.")}
        try:
            module.load_state_dict(part, strict=True)
        except RuntimeError as exc:
            raise UserError(f"checkpoint {directory}: {name} weights do not fit the model: {exc}") from exc
