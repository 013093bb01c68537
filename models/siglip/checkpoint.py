"""Reading a SigLIP image path (vision tower + projector) out of a local transformers checkpoint directory,
for the ports built on models/siglip (`--weights DIR`).

A directory as `save_pretrained` writes it: config.json + model.safetensors, or shards listed by
model.safetensors.index.json. Tensors are read lazily with safetensors and only those a port keeps, so a
multi-billion-parameter checkpoint's text model is never loaded. Every problem is a UserError naming it,
on one line: a malformed shard index, a weight that is not floating point (an int64 or bool tensor is
refused, never silently cast), a weight holding NaN or Inf (the reference would be all NaN, and a NaN
reference proves nothing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from ttport.errors import UserError

#: safetensors dtype names of floating-point tensors
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2")

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
        if not isinstance(weight_map, dict):
            raise UserError(
                f"checkpoint {directory}: model.safetensors.index.json: weight_map must map tensor names to "
                f"shard files, got a {type(weight_map).__name__}"
            )
        for key, name in weight_map.items():
            if not isinstance(name, str) or not name or Path(name).name != name:
                raise UserError(
                    f"checkpoint {directory}: model.safetensors.index.json: weight_map[{key!r}] must be a "
                    f"shard file name in the directory, got {name!r}"
                )
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
                        tensor = handle.get_tensor(key)
                        check_weight(directory, key, tensor)
                        state[name] = tensor.float()
        except (SafetensorError, OSError) as exc:
            raise UserError(f"checkpoint {directory}: cannot read {path.name}: {exc}") from exc
    for prefix in required:
        if not any(name.startswith(prefix) for name in state):
            raise UserError(f"checkpoint {directory}: no {prefix.rstrip('.')} weights found")
    return state


def check_weight(directory: Path, key: str, tensor: torch.Tensor) -> None:
    """A weight must be floating point (the architecture's parameters all are) and finite."""
    if not tensor.is_floating_point():
        raise UserError(
            f"checkpoint {directory}: {key} has dtype {str(tensor.dtype).removeprefix('torch.')}; "
            "the architecture expects floating-point weights"
        )
    if not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise UserError(f"checkpoint {directory}: {key} holds {bad} NaN/Inf value(s); the weights are broken")


def check_weight_dtypes(directory: Path) -> None:
    """Every `*.weight` / `*.bias` tensor of the checkpoint is floating point, read from the safetensors
    headers only (nothing loaded): for loaders (from_pretrained) that would cast an int64 or bool tensor
    into a float parameter without a word. Integer buffers (e.g. position_ids) are allowed."""
    for path in safetensors_files(directory):
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    dtype = handle.get_slice(key).get_dtype()
                    if key.endswith((".weight", ".bias")) and dtype not in FLOAT_DTYPES:
                        raise UserError(
                            f"checkpoint {directory}: {key} has dtype {dtype}; the architecture expects "
                            "floating-point weights"
                        )
        except (SafetensorError, OSError) as exc:
            raise UserError(f"checkpoint {directory}: cannot read {path.name}: {exc}") from exc


def check_finite(directory: Path, named: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Each (name, tensor) after loading must be finite (names as the loaded model spells them)."""
    for name, tensor in named:
        check_weight(directory, name, tensor.detach())


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
