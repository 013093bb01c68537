"""PI0 on TTNN, named as transformers' PI0ForConditionalGeneration.

`PI0ImagePathTTNN` is `get_image_features` as PI0 runs it in `embed_prefix` (PaliGemma's vision tower, then its
multi-modal projector) for the cameras the mask marks present; `PI0PolicyTTNN` adds the rest of
`sample_actions`:

    prefix   = embed_prefix(images, input_ids)      SigLIP tower + projector per present camera, Gemma token
                                                    embedding, merged at the image-token positions
    cache    = language_model.prefill(prefix)       PaliGemma's Gemma once over the prefix: K/V per layer
    for each of the num_steps Euler steps:           no host round trip inside the loop
        x        = embed_action_time(noise, t)      state token + action/time MLP
        velocity = dit(x, attending cache) -> action_out_proj
        noise    = noise + dt * velocity
    actions  = noise                                 the one download

Device discipline: every input (and the declared host preprocessing: masks, rotary tables, gathers,
timestep embeddings) is uploaded once by `upload_inputs`, before any device work; the prefix cache is
computed once and only read by the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ttport.backend import ttnn
from ttport.compare import to_torch
from ttport.models.siglip import SigLIPVisionTowerTTNN
from ttport.patterns.tensor_parallel import TensorParallel

from .action_expert import ActionExpertTTNN, ActionTimeEmbeddingTTNN
from .gemma import JointKV
from .inputs import HostPolicyInputs, host_inputs, present_images, sinusoid_frequencies, validate_inputs
from .language_model import PaliGemmaLanguageModelTTNN
from .presets import PI0Preset
from .projector import PaliGemmaMultiModalProjectorTTNN


class PI0ImagePathTTNN:
    """`vision_tower` + `multi_modal_projector`, named as in transformers' PaliGemmaModel (`model.vlm`)."""

    def __init__(self, preset: PI0Preset, vlm_config: Any, state_dict: dict[str, torch.Tensor], device: Any):
        """`state_dict`: the PaliGemma model's (keys "vision_tower.*", "multi_modal_projector.*")."""
        weights_dtype = getattr(ttnn, preset.weights_dtype)
        self.vision_tower = SigLIPVisionTowerTTNN(
            vlm_config.vision_config, state_dict, device, prefix="vision_tower.", weights_dtype=weights_dtype
        )
        self.multi_modal_projector = PaliGemmaMultiModalProjectorTTNN(
            state_dict, "multi_modal_projector.", device, weights_dtype
        )

    def images(self, pixel_values: Any, camera_mask: Any) -> torch.Tensor:
        """Validate PI0's inputs (before any device work) and return the present cameras' images."""
        tower = self.vision_tower
        validate_inputs(pixel_values, camera_mask, tower.num_channels, tower.image_size)
        return present_images(pixel_values, camera_mask)

    def encode(self, pixel_values: torch.Tensor, camera_mask: torch.Tensor) -> tuple[Any, Any]:
        """(tower output [images, tokens, vision hidden], projected features [images, tokens, projection_dim])
        on device; one upload (the patches) and no host round trip in between."""
        hidden_states = self.vision_tower(self.images(pixel_values, camera_mask))
        return hidden_states, self.multi_modal_projector(hidden_states)

    def get_image_features(self, pixel_values: torch.Tensor, camera_mask: torch.Tensor) -> Any:
        hidden_states, features = self.encode(pixel_values, camera_mask)
        ttnn.deallocate(hidden_states)
        return features


VLM = "model.vlm."
DIT = "model.dit."
IMAGE_PATH = ("vision_tower.", "multi_modal_projector.")
# the first denoising step replayed from a trace (0-based): steps 0 and 1 run eagerly (PI0PolicyTTNN.traced_denoise)
TRACED_FROM_STEP = 2


@dataclass
class DevicePolicyInputs:
    """The uploaded inputs of one sample_actions call (device tensors) and the host layout they came from."""

    host: HostPolicyInputs
    text_ids: Any
    feature_index: Any
    image_mask: Any
    prefix_mask: Any
    expert_mask: Any
    prefix_cos: Any
    prefix_sin: Any
    expert_cos: Any
    expert_sin: Any
    state: Any
    noise: Any
    state_row: Any
    dt_rows: Any
    time_embeds: Any

    @property
    def batch(self) -> int:
        return int(self.host.state.shape[0])

    def release(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name != "host" and value is not None:
                ttnn.deallocate(value)


def _upload(x: torch.Tensor, device: Any, *, dtype: Any = None, layout: Any = None) -> Any:
    return ttnn.from_torch(
        x,
        dtype=dtype if dtype is not None else ttnn.bfloat16,
        layout=layout if layout is not None else ttnn.TILE_LAYOUT,
        device=device,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
    )


class PI0PolicyTTNN(PI0ImagePathTTNN):
    """PI0's image path (the parent class) plus `language_model`, `embed_action_time` and `dit`."""

    def __init__(self, preset: PI0Preset, config: Any, state_dict: dict[str, torch.Tensor], device: Any):
        """`config`: the PI0Config; `state_dict`: PI0ForConditionalGeneration's, consumed as it is
        converted (pass a dict nothing else holds to free the fp32 weights layer by layer)."""
        policy = preset.policy
        # The expert's token embedding (vocab x expert hidden, 1 GB at full size) is never used: free it first.
        state_dict.pop(f"{DIT}embed_tokens.weight", None)
        image_path = {
            k[len(VLM) :]: state_dict.pop(k)
            for k in list(state_dict)
            if k.startswith(VLM) and k[len(VLM) :].startswith(IMAGE_PATH)
        }
        super().__init__(preset, config.vlm_config, image_path, device)
        del image_path
        weights_dtype = getattr(ttnn, policy.weights_dtype)
        self.device = device
        # On a 1 x N mesh both Gemma stacks are split over the N chips; the rest is replicated.
        self.tp = TensorParallel(device)
        self.config = config
        self.num_inference_steps = int(config.num_inference_steps)
        self.chunk_size = int(config.chunk_size)
        self.image_token_id = int(config.vlm_config.image_token_id)
        self.language_model = PaliGemmaLanguageModelTTNN(
            config.vlm_config.text_config, state_dict, f"{VLM}language_model.", device, weights_dtype, self.tp
        )
        expert_hidden = int(config.dit_config.hidden_size)
        self.embed_action_time = ActionTimeEmbeddingTTNN(
            state_dict, "embed_action_time.", device, expert_hidden
        )
        self.dit = ActionExpertTTNN(
            config.dit_config, state_dict, DIT, "action_out_proj.", device, weights_dtype, self.tp
        )
        self.frequencies = sinusoid_frequencies(expert_hidden, config.min_period, config.max_period)

    # -- inputs -----------------------------------------------------------------------------------
    def host_inputs(
        self,
        input_ids: torch.Tensor,
        camera_mask: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor,
        num_steps: int | None = None,
    ) -> HostPolicyInputs:
        return host_inputs(
            input_ids=input_ids,
            camera_mask=camera_mask,
            state=state,
            noise=noise,
            num_steps=num_steps or self.num_inference_steps,
            image_token_id=self.image_token_id,
            tokens_per_image=self.vision_tower.num_patches,
            text_shape=self.language_model.shape,
            expert_shape=self.dit.shape,
            frequencies=self.frequencies,
            chunk_size=self.chunk_size,
        )

    def upload_inputs(self, host: HostPolicyInputs) -> DevicePolicyInputs:
        """One upload per input tensor (ids and gathers as uint32 row-major, the rest bf16 TILE)."""
        device = self.device

        def ids(x: torch.Tensor) -> Any:
            return _upload(x, device, dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT)

        return DevicePolicyInputs(
            host=host,
            text_ids=ids(host.layout.text_ids),
            feature_index=ids(host.layout.feature_index),
            image_mask=_upload(host.layout.image_mask, device),
            prefix_mask=_upload(host.prefix_mask, device),
            expert_mask=_upload(host.expert_mask, device),
            prefix_cos=_upload(host.prefix_cos, device),
            prefix_sin=_upload(host.prefix_sin, device),
            expert_cos=_upload(host.expert_cos, device),
            expert_sin=_upload(host.expert_sin, device),
            state=_upload(host.state, device),
            noise=_upload(host.noise, device),
            state_row=_upload(host.state_row, device),
            dt_rows=_upload(host.dt_rows, device),
            time_embeds=_upload(host.time_embeds, device),
        )

    # -- prefix -----------------------------------------------------------------------------------
    def embed_prefix(
        self, pixel_values: torch.Tensor, camera_mask: torch.Tensor, inputs: DevicePolicyInputs
    ) -> Any:
        """PI0Model.embed_prefix on device -> [B, 1, P, D]: image features gathered at the image tokens,
        scaled token embeddings elsewhere (ttnn.where on the image-token mask)."""
        features = self.get_image_features(pixel_values, camera_mask)  # [images, T, D]
        images, tokens, hidden = features.shape
        table = ttnn.to_layout(ttnn.reshape(features, (images * tokens, hidden)), ttnn.ROW_MAJOR_LAYOUT)
        ttnn.deallocate(features)
        image_embeds = ttnn.embedding(inputs.feature_index, table, layout=ttnn.TILE_LAYOUT)
        ttnn.deallocate(table)
        text_embeds = self.language_model.embed_tokens(inputs.text_ids)
        merged = ttnn.where(inputs.image_mask, image_embeds, text_embeds)
        ttnn.deallocate(image_embeds)
        ttnn.deallocate(text_embeds)
        batch, length = merged.shape[0], merged.shape[1]
        return ttnn.reshape(merged, (batch, 1, length, hidden))

    def prefix_cache(self, prefix_embeds: Any, inputs: DevicePolicyInputs) -> list[tuple[Any, Any]]:
        """The VLM's K/V per layer over the prefix (computed once, read by every denoising step)."""
        return self.language_model.prefill(
            prefix_embeds, inputs.prefix_cos, inputs.prefix_sin, inputs.prefix_mask
        )

    # -- denoising --------------------------------------------------------------------------------
    def time_terms(self, inputs: DevicePolicyInputs) -> list[Any]:
        """Per step, the timestep's share of action_time_mlp_in as a [B, 1, 1, hidden] row (before the loop)."""
        batch = inputs.batch
        terms = self.embed_action_time.time_terms(inputs.time_embeds)  # [1, 1, steps * B, hidden]
        hidden = terms.shape[-1]
        steps = terms.shape[2] // batch
        rows = []
        for step in range(steps):
            part = ttnn.slice(terms, [0, 0, step * batch, 0], [1, 1, (step + 1) * batch, hidden])
            rows.append(ttnn.reshape(part, (batch, 1, 1, hidden)))
        ttnn.deallocate(terms)
        return rows

    def velocity(
        self,
        noise: Any,
        time_term: Any,
        state_embeds: Any,
        inputs: DevicePolicyInputs,
        joint: list[JointKV],
    ) -> Any:
        """One forward of the expert: [B, 1, E, action dim] velocity (rows 1..chunk are the actions); layer i
        attends the prefix cache through `joint[i]` (joint_cache)."""
        expert_input = self.embed_action_time(noise, time_term, state_embeds, inputs.state_row)
        velocity = self.dit(expert_input, inputs.expert_cos, inputs.expert_sin, inputs.expert_mask, joint)
        ttnn.deallocate(expert_input)
        return velocity

    def denoise(
        self, inputs: DevicePolicyInputs, cache: list[tuple[Any, Any]], *, trace: bool = False
    ) -> Any:
        """The Euler loop on device; returns the final noise [B, 1, E, action dim] (actions on rows 1..chunk).
        The joined keys/values are built by the first step and rewritten in their own rows by the others.
        With `trace` (three steps or more) the steps after the second replay a captured trace
        (`traced_denoise`)."""
        state_embeds = self.embed_action_time.state_embeds(inputs.state)
        joint = joint_cache(cache)
        terms = self.time_terms(inputs)
        if trace and len(terms) > TRACED_FROM_STEP:
            noise = self.traced_denoise(inputs, terms, state_embeds, joint)
            ttnn.deallocate(state_embeds)
            release_joint(joint)
            return noise
        noise = inputs.noise
        for time_term in terms:
            velocity = self.velocity(noise, time_term, state_embeds, inputs, joint)
            step = ttnn.multiply(velocity, inputs.dt_rows)  # dt on the action rows, 0 on the others
            ttnn.deallocate(velocity)
            updated = ttnn.add(noise, step)
            ttnn.deallocate(step)
            ttnn.deallocate(time_term)
            if noise is not inputs.noise:
                ttnn.deallocate(noise)
            noise = updated
        ttnn.deallocate(state_embeds)
        release_joint(joint)
        return noise

    def traced_denoise(
        self, inputs: DevicePolicyInputs, terms: list[Any], state_embeds: Any, joint: list[JointKV]
    ) -> Any:
        """The Euler loop with its steps replayed from a trace, as tt-metal's performant runners run a model
        (ttnn.begin_trace_capture / execute_trace): a step reads the noise and its time term from two fixed
        buffers and writes the updated noise back into the first (ttnn.copy), so one captured step serves
        every later one; each step's time term is copied in on device first. The first step joins the
        keys/values (a concat that allocates) and the second is the first to rewrite them (fill_cache): both
        run eagerly and so compile every program of a step, which a capture needs. A replay has no host
        dispatch: the projection's "with trace" figure is this loop's."""
        device = inputs.noise.device()
        noise = ttnn.clone(inputs.noise)
        term = ttnn.clone(terms[0])

        def step() -> None:
            velocity = self.velocity(noise, term, state_embeds, inputs, joint)
            update = ttnn.multiply(velocity, inputs.dt_rows)  # dt on the action rows, 0 on the others
            ttnn.deallocate(velocity)
            updated = ttnn.add(noise, update)
            ttnn.deallocate(update)
            ttnn.copy(updated, noise)
            ttnn.deallocate(updated)

        trace_id = None
        for index, time_term in enumerate(terms):
            ttnn.copy(time_term, term)
            ttnn.deallocate(time_term)
            if index < TRACED_FROM_STEP:
                step()
                continue
            if trace_id is None:
                trace_id = ttnn.begin_trace_capture(device, cq_id=0)
                step()
                ttnn.end_trace_capture(device, trace_id, cq_id=0)
            ttnn.execute_trace(device, trace_id, cq_id=0, blocking=False)
        ttnn.release_trace(device, trace_id)
        ttnn.deallocate(term)
        return noise

    def actions(self, noise: Any, inputs: DevicePolicyInputs) -> torch.Tensor:
        """The single download: rows 1..chunk of the final noise -> [B, chunk, action dim] float32 (replicated
        over a mesh: chip 0's copy)."""
        host = to_torch(noise).float()
        return host[:, 0, 1 : inputs.host.chunk + 1]

    def sample_actions(
        self,
        state: torch.Tensor,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        noise: torch.Tensor,
        pixel_attention_mask: torch.Tensor,
        num_steps: int | None = None,
        *,
        trace: bool = True,
    ) -> torch.Tensor:
        """Same arguments as transformers' sample_actions (noise required: the reference's draw is not
        reproducible on device); returns the actions [B, chunk, action dim]. `trace`: replay the denoising
        steps from a trace (`denoise`)."""
        self.images(pixel_values, pixel_attention_mask)  # validate before any device work
        inputs = self.upload_inputs(
            self.host_inputs(input_ids, pixel_attention_mask, state, noise, num_steps)
        )
        prefix = self.embed_prefix(pixel_values, pixel_attention_mask, inputs)
        cache = self.prefix_cache(prefix, inputs)
        ttnn.deallocate(prefix)
        final = self.denoise(inputs, cache, trace=trace)
        actions = self.actions(final, inputs)
        ttnn.deallocate(final)
        release_cache(cache)
        inputs.release()
        return actions


def joint_cache(cache: list[tuple[Any, Any]]) -> list[JointKV]:
    """Per expert layer, the joined [own; prefix] keys/values over the VLM's prefix cache `cache`."""
    return [JointKV(pair) for pair in cache]


def release_joint(joint: list[JointKV]) -> None:
    for layer in joint:
        layer.release()


def release_cache(cache: list[tuple[Any, Any]]) -> None:
    for keys, values in cache:
        ttnn.deallocate(keys)
        ttnn.deallocate(values)
