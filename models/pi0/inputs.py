"""PI0's inputs, checked and prepared on the host.

Images: pixel_values [B, cameras, C, H, W] with a camera mask [B, cameras] (PI0's `pixel_attention_mask`,
True where the slot holds an image), checked before any device work; the images of the present cameras, in
(sample, camera) order, are what the vision tower encodes.

The host half of `sample_actions` (declared hybrid preprocessing, all derived from the host inputs before any
device work and uploaded once):

- the prefix token layout of PI0Model.embed_prefix: which prefix positions are image tokens, which image
  feature (present camera, patch) each takes, the text ids (image tokens -> 0, as the reference does);
- the additive attention masks: PaliGemma's prefix is bidirectional (PI0 passes token_type_ids = 0, one
  block); the expert's block mask lets the state token see the prefix and itself, and the action tokens see
  everything (transformers' block_sequence_ids [0 * (prefix + 1), 1 * chunk]);
- position ids (PaliGemma's are 1-based without an attention mask; the expert continues from the prefix
  length) as rotary cos/sin tables;
- the sinusoidal timestep embeddings of every denoising step (float32, as the reference).

Sequences are padded to tile multiples: the prefix to P, the expert's [state, actions] to E rows. Padded
keys are masked for every query, padded query rows are computed and dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ttport.errors import UserError
from ttport.models.siglip.common import ImageInputError, validate_images
from ttport.patterns import masks

from .gemma import GemmaShape, rotary_tables
from .presets import PI0Preset

TILE = 32


def validate_inputs(pixel_values: Any, camera_mask: Any, num_channels: int, image_size: int) -> None:
    """Raise ImageInputError naming the problem (type, dtype, rank, channels, size, mask shape)."""
    if not isinstance(pixel_values, torch.Tensor):
        raise ImageInputError(f"pixel_values must be a torch.Tensor, got {type(pixel_values).__name__}")
    if pixel_values.dim() != 5:
        raise ImageInputError(
            "pixel_values must have rank 5 [batch, cameras, channels, height, width], "
            f"got shape {list(pixel_values.shape)}"
        )
    validate_images(pixel_values.flatten(0, 1), num_channels, image_size)
    if not isinstance(camera_mask, torch.Tensor) or camera_mask.dtype != torch.bool:
        raise ImageInputError("the camera mask must be a torch.bool tensor [batch, cameras]")
    if tuple(camera_mask.shape) != tuple(pixel_values.shape[:2]):
        raise ImageInputError(
            f"the camera mask has shape {list(camera_mask.shape)}, pixel_values has "
            f"[batch, cameras] = {list(pixel_values.shape[:2])}"
        )
    if not bool(camera_mask.any()):
        raise ImageInputError("the camera mask selects no image")


def present_images(pixel_values: torch.Tensor, camera_mask: torch.Tensor) -> torch.Tensor:
    """[B, cameras, C, H, W] -> [images present, C, H, W], in (sample, camera) order."""
    return pixel_values[camera_mask]


def make_inputs(preset: PI0Preset, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic images in PI0's normalised range [-1, 1] and the preset's camera mask."""
    generator = torch.Generator().manual_seed(seed)
    size = preset.image_size
    channels = int(preset.vision["num_channels"])
    pixel_values = torch.rand(preset.batch, preset.cameras, channels, size, size, generator=generator) * 2 - 1
    camera_mask = torch.tensor(preset.camera_mask, dtype=torch.bool).expand(preset.batch, -1).clone()
    return {"pixel_values": pixel_values, "pixel_attention_mask": camera_mask}


def sinusoid_frequencies(hidden_size: int, min_period: float, max_period: float) -> torch.Tensor:
    """PI0TimestepEmbeddings.compute_freqs: [hidden / 2] angular frequencies."""
    fraction = torch.linspace(0.0, 1.0, hidden_size // 2, dtype=torch.float32)
    period = min_period * (max_period / min_period) ** fraction
    return 1.0 / period * 2 * math.pi


def timestep_embeddings(times: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """times [N] -> [N, hidden] = [sin(f t), cos(f t)], float32 as PI0TimestepEmbeddings computes them."""
    emb = frequencies[None, :] * times[:, None].float()
    return torch.cat([emb.sin(), emb.cos()], dim=1)


def padded(n: int) -> int:
    return math.ceil(n / TILE) * TILE


def flow_times(num_steps: int) -> list[float]:
    """The timesteps of sample_actions' Euler loop: 1.0, 1.0 + dt, ... with dt = -1 / num_steps."""
    dt = -1.0 / num_steps
    return [1.0 + step * dt for step in range(num_steps)]


@dataclass
class PrefixLayout:
    """Host description of the prefix: lengths, per-position gathers and the image-token selector."""

    length: int  # L: real prefix tokens
    padded_length: int  # P
    text_ids: torch.Tensor  # [B, P] int32, image and padded positions -> 0
    feature_index: torch.Tensor  # [B, P] int32 rows of the [images * tokens_per_image, D] feature table
    image_mask: torch.Tensor  # [B, P, 1] float32, 1.0 at image tokens


def prefix_layout(
    input_ids: torch.Tensor, camera_mask: torch.Tensor, image_token_id: int, tokens_per_image: int
) -> PrefixLayout:
    """PI0Model.embed_prefix's gather, made explicit: the r-th image token of a sample takes token
    r % T of that sample's (r // T)-th present camera. Raises UserError when the image-token count of a
    sample is not T x its present cameras (the reference would silently read another camera)."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.is_floating_point():
        raise UserError("input_ids must be an integer torch.Tensor [batch, sequence]")
    batch, length = input_ids.shape
    if tuple(camera_mask.shape[:1]) != (batch,):
        raise UserError(f"input_ids has batch {batch}, the camera mask {list(camera_mask.shape)}")
    is_image = input_ids == image_token_id
    per_sample = camera_mask.sum(-1)
    expected = per_sample * tokens_per_image
    if not torch.equal(is_image.sum(-1), expected):
        raise UserError(
            f"image tokens per sample {is_image.sum(-1).tolist()} do not match {tokens_per_image} tokens x "
            f"present cameras {per_sample.tolist()}"
        )
    total = padded(length)
    # Present images are encoded in (sample, camera) order: sample b's first image follows all earlier ones.
    first_image = torch.cumsum(per_sample, 0) - per_sample
    rank = torch.cumsum(is_image.long(), -1) - 1  # image-token rank within its sample
    index = (first_image[:, None] * tokens_per_image + rank).where(is_image, torch.zeros_like(rank))
    pad = (0, total - length)
    return PrefixLayout(
        length=length,
        padded_length=total,
        text_ids=torch.nn.functional.pad(input_ids.masked_fill(is_image, 0), pad).to(torch.int32),
        feature_index=torch.nn.functional.pad(index, pad).to(torch.int32),
        image_mask=torch.nn.functional.pad(is_image.float(), pad)[..., None],
    )


def prefix_mask(batch: int, length: int, padded_length: int) -> torch.Tensor:
    """[B, 1, P, P]: every prefix token sees every real prefix token (one bidirectional block)."""
    keys = torch.arange(padded_length) < length
    return masks.padding_mask(keys.expand(batch, -1))


def expert_mask(batch: int, prefix: int, padded_prefix: int, chunk: int, rows: int) -> torch.Tensor:
    """[B, 1, E, E + P]: keys are [state, actions, padding (E rows); prefix (P rows, `prefix` real)], the order
    of the expert's joined keys (models/pi0/gemma.py JointKV). Row 0 (state) sees the prefix and itself; the
    action rows (and the dropped padded rows) see the prefix, the state and every action."""
    key_prefix = torch.arange(padded_prefix) < prefix
    own = torch.arange(rows)
    allowed_own = own[None, :] <= torch.where(own == 0, 0, chunk)[:, None]
    allowed = torch.cat([allowed_own, key_prefix.expand(rows, -1)], dim=1)
    return masks.additive(allowed)[None, None].expand(batch, 1, -1, -1).contiguous()


def row_selector(rows: int, selected: torch.Tensor, value: float = 1.0) -> torch.Tensor:
    """[1, 1, rows, 1]: `value` on the selected rows, 0 elsewhere (a broadcast column for where/multiply)."""
    out = torch.zeros(1, 1, rows, 1)
    out[0, 0, selected, 0] = value
    return out


@dataclass
class HostPolicyInputs:
    """Everything sample_actions uploads, as torch tensors (see the module docstring)."""

    layout: PrefixLayout
    chunk: int
    expert_rows: int  # E
    prefix_mask: torch.Tensor
    expert_mask: torch.Tensor
    prefix_cos: torch.Tensor
    prefix_sin: torch.Tensor
    expert_cos: torch.Tensor
    expert_sin: torch.Tensor
    state: torch.Tensor  # [B, 1, 1, state dim]
    noise: torch.Tensor  # [B, 1, E, action dim], rows 1..chunk
    state_row: torch.Tensor  # [1, 1, E, 1]
    dt_rows: torch.Tensor  # [1, 1, E, 1]: dt on the action rows
    time_embeds: torch.Tensor  # [1, 1, steps * B, expert hidden], (step, sample) order


def host_inputs(
    *,
    input_ids: torch.Tensor,
    camera_mask: torch.Tensor,
    state: torch.Tensor,
    noise: torch.Tensor,
    num_steps: int,
    image_token_id: int,
    tokens_per_image: int,
    text_shape: GemmaShape,
    expert_shape: GemmaShape,
    frequencies: torch.Tensor,
    chunk_size: int,
) -> HostPolicyInputs:
    layout = prefix_layout(input_ids, camera_mask, image_token_id, tokens_per_image)
    batch = input_ids.shape[0]
    if state.dim() != 2 or state.shape[0] != batch:
        raise UserError(f"state must be [batch={batch}, state dim], got {list(state.shape)}")
    if noise.dim() != 3 or noise.shape[0] != batch or noise.shape[1] != chunk_size:
        raise UserError(
            f"noise must be [batch={batch}, chunk={chunk_size}, action dim], got {list(noise.shape)}"
        )
    if num_steps < 1:
        raise UserError(f"num_steps must be >= 1, got {num_steps}")
    rows = padded(chunk_size + 1)
    length, total = layout.length, layout.padded_length
    # PaliGemmaModel.forward without an attention mask: positions 1..L; the expert (GemmaModel with the
    # prefix cache) continues at L. Padded rows get the following positions (their results are dropped).
    prefix_cos, prefix_sin = rotary_tables(text_shape, torch.arange(total) + 1)
    expert_cos, expert_sin = rotary_tables(expert_shape, torch.arange(rows) + length)
    actions = torch.arange(1, chunk_size + 1)
    noise_rows = torch.zeros(batch, 1, rows, noise.shape[-1])
    noise_rows[:, 0, 1 : chunk_size + 1] = noise.float()
    times = torch.tensor(flow_times(num_steps), dtype=torch.float32).repeat_interleave(batch)
    time_embeds = timestep_embeddings(times, frequencies)
    return HostPolicyInputs(
        layout=layout,
        chunk=chunk_size,
        expert_rows=rows,
        prefix_mask=prefix_mask(batch, length, total),
        expert_mask=expert_mask(batch, length, total, chunk_size, rows),
        prefix_cos=prefix_cos,
        prefix_sin=prefix_sin,
        expert_cos=expert_cos,
        expert_sin=expert_sin,
        state=state.float()[:, None, None, :],
        noise=noise_rows,
        state_row=row_selector(rows, torch.tensor([0])),
        dt_rows=row_selector(rows, actions, -1.0 / num_steps),
        time_embeds=time_embeds[None, None],
    )


def make_policy_inputs(
    preset: PI0Preset, seed: int, tokens_per_image: int, image_token_id: int
) -> dict[str, torch.Tensor]:
    """Deterministic sample_actions inputs besides the images: input_ids (the present cameras' image
    tokens, then `text_tokens` prompt ids), the robot state and the initial noise."""
    policy = preset.policy
    generator = torch.Generator().manual_seed(seed + 1000)
    camera_mask = torch.tensor(preset.camera_mask, dtype=torch.bool)
    images = int(camera_mask.sum()) * tokens_per_image
    vocab = int(policy.text["vocab_size"])
    text = torch.randint(
        1, min(vocab, image_token_id), (preset.batch, policy.text_tokens), generator=generator
    )
    input_ids = torch.cat([torch.full((preset.batch, images), image_token_id), text], dim=1)
    state = torch.randn(preset.batch, policy.max_state_dim, generator=generator)
    noise = torch.randn(preset.batch, policy.chunk_size, policy.max_action_dim, generator=generator)
    return {"input_ids": input_ids, "state": state, "noise": noise}
