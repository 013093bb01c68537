"""The transformers reference: PI0ForConditionalGeneration built from a preset (see presets.py: its text
model and action expert are one small layer each, the image path is the preset's), with either seeded
random weights or the weights of a local checkpoint directory (the image path only for the vision
presets, the whole policy for presets with one).

A checkpoint directory is what `PI0ForConditionalGeneration.save_pretrained` writes (config.json +
model.safetensors, or shards with model.safetensors.index.json). For the vision presets only the vision
tower and projector tensors are read (lazily, with safetensors), so a real 3.5 B-parameter PI0 checkpoint
never has to fit in memory; transformers saves them under the LeRobot names
`paligemma_with_expert.paligemma.model.*` (conversion_mapping.py renames them to `model.vlm.*` on load)
and both spellings are accepted. Presets with a policy load the whole model with `from_pretrained`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PI0Config, PI0ForConditionalGeneration

from ttport.errors import UserError
from ttport.models.siglip import checkpoint
from ttport.models.siglip.reference import randomize_

from .presets import PI0Preset

#: where the image path lives in a saved PI0 state dict (as saved, as loaded), before "vision_tower." etc.
CHECKPOINT_PREFIXES = ("paligemma_with_expert.paligemma.model.", "model.vlm.")
IMAGE_PATH_MODULES = ("vision_tower", "multi_modal_projector")
#: Gemma fields that fix the shapes of the language model and action expert weights
GEMMA_ARCHITECTURE_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
)


def build_reference(preset: PI0Preset, weights: Path | None, seed: int) -> PI0ForConditionalGeneration:
    """fp32 eval-mode PI0: random image path (seeded) or the checkpoint's (the whole checkpoint for
    presets with a policy; one model is built either way, never two at once)."""
    torch.manual_seed(seed)
    if weights is None:
        model = PI0ForConditionalGeneration(preset.pi0_config())
        for i, name in enumerate(IMAGE_PATH_MODULES):
            randomize_(getattr(model.model.vlm, name), seed + i)
        return model.eval()
    config = checkpoint.load_config(weights, "pi0", PI0Config)
    expected = preset.pi0_config()
    checkpoint.check_fields(
        config.vlm_config.vision_config,
        expected.vlm_config.vision_config,
        checkpoint.SIGLIP_ARCHITECTURE_FIELDS,
        "vision_config.",
    )
    checkpoint.check_fields(config.vlm_config, expected.vlm_config, ("projection_dim",))
    state = checkpoint.read_tensors(weights, image_path_key, [f"{name}." for name in IMAGE_PATH_MODULES])
    if preset.policy is not None:
        return _load_policy(weights, config, expected, state).eval()
    model = PI0ForConditionalGeneration(expected)
    _load_image_path(model, state, weights)
    return model.eval()


def _load_image_path(
    model: PI0ForConditionalGeneration, state: dict[str, torch.Tensor], weights: Path
) -> None:
    vlm = model.model.vlm
    checkpoint.load_modules({name: getattr(vlm, name) for name in IMAGE_PATH_MODULES}, state, weights)


def _load_policy(
    weights: Path, config: PI0Config, expected: PI0Config, image_path: dict[str, torch.Tensor]
) -> PI0ForConditionalGeneration:
    """The whole PI0 from the checkpoint (transformers maps the saved LeRobot names), refusing a checkpoint
    whose Gemma stacks differ from the preset's or that lacks any weight (from_pretrained would otherwise
    leave those randomly initialised). The image path is checked first, strictly, as for vision presets."""
    for found, wanted, label in (
        (config.vlm_config.text_config, expected.vlm_config.text_config, "vlm_config.text_config."),
        (config.dit_config, expected.dit_config, "dit_config."),
    ):
        checkpoint.check_fields(found, wanted, GEMMA_ARCHITECTURE_FIELDS, label)
    checkpoint.check_fields(config, expected, ("chunk_size", "max_action_dim", "max_state_dim"))
    checkpoint.check_weight_dtypes(weights)
    try:
        model, info = PI0ForConditionalGeneration.from_pretrained(
            weights, dtype=torch.float32, output_loading_info=True, ignore_mismatched_sizes=True
        )
    except Exception as exc:  # transformers raises many types for unreadable checkpoints
        raise UserError(f"checkpoint {weights}: cannot load the PI0 policy: {exc}") from exc
    _load_image_path(model, image_path, weights)
    for kind in ("missing_keys", "mismatched_keys"):
        keys = [str(k[0] if isinstance(k, tuple) else k) for k in info.get(kind) or ()]
        if keys:
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            what = "missing" if kind == "missing_keys" else "of another shape"
            raise UserError(
                f"checkpoint {weights}: {len(keys)} weight(s) {what} for the preset's PI0: {shown}"
            )
    checkpoint.check_finite(weights, model.named_parameters())
    return model


def image_path_key(key: str) -> str | None:
    """A checkpoint key -> "vision_tower.*" / "multi_modal_projector.*", or None for the rest of PI0."""
    for prefix in CHECKPOINT_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :].startswith(IMAGE_PATH_MODULES):
            return key[len(prefix) :]
    return None
