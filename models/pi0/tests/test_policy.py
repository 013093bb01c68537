"""The PI0 policy on TTNN (tiny preset) against transformers' PI0ForConditionalGeneration.sample_actions:
the host preprocessing against the reference's own gather and masks, every policy component's PCC, the
device discipline of sample_actions (read from the simulator's counters), the bfloat8_b variant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from transformers.cache_utils import DynamicCache
from transformers.masking_utils import create_causal_mask

from ttport import sim
from ttport.backend import is_simulator, ttnn
from ttport.compare import assert_quality
from ttport.device import open_device
from ttport.errors import UserError
from ttport.models.pi0.inputs import expert_mask, prefix_layout, prefix_mask
from ttport.models.pi0.port import PI0Port, build_policy, policy_components
from ttport.port import Component, RunContext

SAMPLE_ARGS = ("state", "input_ids", "pixel_values", "noise", "pixel_attention_mask")


def _reference_context(preset: str) -> RunContext:
    port = PI0Port()
    ctx = RunContext(port=port, preset=preset, seed=0)
    torch.manual_seed(0)
    ctx.reference = port.build_reference(preset, None, 0)
    ctx.inputs = port.make_inputs(preset, 0, ctx.reference)
    return ctx


@pytest.fixture(scope="module")
def tiny() -> Iterator[tuple[RunContext, list[Component], dict[str, Any]]]:
    """Reference outputs of every policy component (plus a 3-step sample_actions), then the port built by
    streaming the reference's weights (the reference is dropped)."""
    ctx = _reference_context("tiny")
    components = policy_components(ctx.config)
    with torch.no_grad():
        expected = {c.name: c.reference(ctx) for c in components}
        args = {name: ctx.inputs[name] for name in SAMPLE_ARGS}
        expected["3 steps"] = ctx.reference.sample_actions(**args, num_steps=3)
    with open_device() as device:
        ctx.device = device
        ctx.model = build_policy(ctx)
        yield ctx, components, expected


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    return _reference_context("tiny").reference


def test_build_consumes_the_reference(tiny: tuple) -> None:
    ctx, _, _ = tiny
    assert ctx.reference is None


def test_policy_components_match_reference(tiny: tuple) -> None:
    ctx, components, expected = tiny
    names = [c.name for c in components]
    assert names[0] == "prefix embeddings" and names[-2:] == ["velocity (step 1)", "actions"]
    assert (
        sum(name.startswith("kv cache layer") for name in names)
        == ctx.config.policy.text["num_hidden_layers"]
    )
    for component in components:
        actual = component.port(ctx)
        assert_quality(expected[component.name], actual, component.threshold, name=component.name)
    chunk, dim = ctx.config.policy.chunk_size, ctx.config.policy.max_action_dim
    assert tuple(expected["actions"].shape) == (ctx.config.batch, chunk, dim)


def test_num_steps_is_honoured(tiny: tuple) -> None:
    ctx, _, expected = tiny
    args = {name: ctx.inputs[name] for name in SAMPLE_ARGS}
    actual = ctx.model.sample_actions(**args, num_steps=3)
    assert_quality(expected["3 steps"], actual, 0.99, name="actions after 3 steps")
    # 3 and 10 steps end in different actions: the loop count really changes the result
    assert not torch.allclose(expected["3 steps"], expected["actions"], atol=1e-2)


@pytest.mark.skipif(not is_simulator(), reason="counters of the simulator")
def test_device_discipline(tiny: tuple) -> None:
    """Inputs uploaded once up front, nothing crosses the bus inside the prefix or the loop, one download,
    and the prefix cache is only read by the steps."""
    ctx, _, _ = tiny
    model, inputs, device = ctx.model, ctx.inputs, ctx.device

    def counts() -> tuple[int, int, int]:
        stats = sim.stats(device)
        return stats.host_to_device, stats.device_to_host, stats.device_ops

    start = counts()
    uploaded = model.upload_inputs(
        model.host_inputs(
            inputs["input_ids"], inputs["pixel_attention_mask"], inputs["state"], inputs["noise"]
        )
    )
    after_upload = counts()
    prefix = model.embed_prefix(inputs["pixel_values"], inputs["pixel_attention_mask"], uploaded)
    after_prefix = counts()
    cache = model.prefix_cache(prefix, uploaded)
    after_cache = counts()
    before_loop = [ttnn.to_torch(t).clone() for pair in cache for t in pair]
    loop_start = counts()
    final = model.denoise(uploaded, cache)
    after_loop = counts()
    actions = model.actions(final, uploaded)
    after_download = counts()

    assert after_upload[0] - start[0] == 14 and after_upload[1] == start[1]
    assert after_prefix[0] - after_upload[0] == 1  # the tower's one patch upload
    assert after_cache[:2] == after_prefix[:2]
    assert after_loop[:2] == loop_start[:2], "host transfer inside the denoising loop"
    assert after_download[0] == after_loop[0] and after_download[1] - after_loop[1] == 1
    steps = model.num_inference_steps
    assert after_loop[2] - loop_start[2] > steps * 2 * len(model.dit.layers)
    after = [ttnn.to_torch(t) for pair in cache for t in pair]
    assert all(torch.equal(a, b) for a, b in zip(before_loop, after, strict=True)), "the loop wrote the cache"
    assert tuple(actions.shape) == (ctx.config.batch, model.chunk_size, ctx.config.policy.max_action_dim)


def test_prefix_layout_is_embed_prefix(reference: torch.nn.Module) -> None:
    """The host gather + ttnn-side merge rebuilt in torch equals the reference's embed_prefix exactly, with
    image tokens placed between prompt tokens and a camera gap (slots 0 and 2 present)."""
    config = reference.config
    image_id = config.vlm_config.image_token_id
    tower = config.vlm_config.vision_config
    tokens = (tower.image_size // tower.patch_size) ** 2
    generator = torch.Generator().manual_seed(3)
    camera_mask = torch.tensor([[True, False, True], [False, True, True]])
    pixel_values = torch.rand(2, 3, 3, tower.image_size, tower.image_size, generator=generator) * 2 - 1
    text = torch.randint(1, 100, (2, 6), generator=generator)
    image = torch.full((2, tokens), image_id)
    input_ids = torch.cat([text[:, :2], image, text[:, 2:4], image, text[:, 4:]], dim=1)
    with torch.no_grad():
        expected = reference.model.embed_prefix(input_ids, pixel_values, camera_mask)
        features = reference.model.vlm.get_image_features(pixel_values.flatten(0, 1)).pooler_output
        table = features[camera_mask.flatten()].flatten(0, 1)
        layout = prefix_layout(input_ids, camera_mask, image_id, tokens)
        text_embeds = reference.model.vlm.get_input_embeddings()(layout.text_ids.long())
    merged = torch.where(layout.image_mask.bool(), table[layout.feature_index.long()], text_embeds)
    assert layout.length == input_ids.shape[1] and layout.padded_length % 32 == 0
    torch.testing.assert_close(merged[:, : layout.length], expected, rtol=0, atol=0)


def test_prefix_layout_rejects_a_wrong_image_token_count() -> None:
    camera_mask = torch.tensor([[True, True]])
    input_ids = torch.tensor([[9] * 5 + [1, 2]])
    with pytest.raises(
        UserError, match=r"image tokens per sample \[5\] do not match 4 tokens x present cameras \[2\]"
    ):
        prefix_layout(input_ids, camera_mask, 9, 4)


def test_masks_match_transformers(reference: torch.nn.Module) -> None:
    """The additive masks allow exactly what transformers' create_causal_mask allows for PaliGemma's prefix
    (token_type_ids 0: one block) and for the expert (block ids [0 * (prefix + 1), 1 * chunk])."""
    config = reference.config
    batch, length, chunk = 2, 37, config.chunk_size
    total, rows = 64, 32
    text_config, dit_config = config.vlm_config.text_config, config.dit_config
    head_dim = dit_config.head_dim
    prefix_allowed = create_causal_mask(
        config=text_config,
        inputs_embeds=torch.zeros(batch, length, text_config.hidden_size),
        attention_mask=None,
        past_key_values=None,
        block_sequence_ids=torch.zeros(batch, length, dtype=torch.long),
    )
    ours = prefix_mask(batch, length, total) == 0
    assert torch.equal(ours[:, :, :length, :length], prefix_allowed.expand(batch, 1, length, length))
    assert not ours[:, :, :, length:].any()

    cache = DynamicCache(config=dit_config)
    for i in range(dit_config.num_hidden_layers):
        cache.update(torch.zeros(batch, 1, length, head_dim), torch.zeros(batch, 1, length, head_dim), i)
    blocks = torch.cat([torch.zeros(length + 1, dtype=torch.long), torch.ones(chunk, dtype=torch.long)])
    expert_allowed = create_causal_mask(
        config=dit_config,
        inputs_embeds=torch.zeros(batch, chunk + 1, dit_config.hidden_size),
        attention_mask=None,
        past_key_values=cache,
        block_sequence_ids=blocks[None].repeat(batch, 1),
    )
    ours = expert_mask(batch, length, total, chunk, rows) == 0
    # our key columns are [own rows; prefix] (JointKV's order), the reference's [prefix; own]
    real_keys = list(range(rows, rows + length)) + list(range(chunk + 1))
    assert torch.equal(ours[:, :, : chunk + 1, real_keys], expert_allowed)
    padded_keys = [k for k in range(total + rows) if k not in real_keys]
    assert not ours[..., padded_keys].any()


@pytest.mark.parametrize("preset", ["tiny-bfp8"])
def test_bfloat8_b_gemma_weights(preset: str) -> None:
    """bfloat8_b matmul weights in both Gemma stacks: the end-to-end actions keep the variant's floor."""
    ctx = _reference_context(preset)
    assert ctx.config.policy.weights_dtype == "bfloat8_b"
    actions = next(c for c in policy_components(ctx.config) if c.name == "actions")
    with torch.no_grad():
        expected = actions.reference(ctx)
    with open_device() as device:
        ctx.device = device
        ctx.model = build_policy(ctx)
        assert ctx.model.dit.layers[0].mlp.up_weight.dtype == ttnn.bfloat8_b
        assert_quality(expected, actions.port(ctx), actions.threshold, name="bfp8 actions")


@pytest.mark.skipif(not is_simulator(), reason="op records of the simulator")
@pytest.mark.parametrize("batch", [1, 2])
def test_joint_keys_values_are_joined_once_then_rewritten(batch: int) -> None:
    """JointKV: a step's SDPA reads [own rows; prefix]. The first join concatenates; with one user the later
    joins rewrite only the own rows in place (two fill_cache ops, no copy of the prefix); with several users
    they re-join. Either way the values equal the concatenation, and the prefix is never written."""
    from ttport.models.pi0.gemma import JointKV

    generator = torch.Generator().manual_seed(0)

    def tile(x: torch.Tensor) -> Any:
        return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)

    with open_device() as device:
        prefix = [torch.randn(batch, 1, 96, 64, generator=generator) for _ in range(2)]
        prefix_tt = tuple(tile(p) for p in prefix)
        joint = JointKV(prefix_tt)
        for step in range(3):
            own = [torch.randn(batch, 1, 64, 64, generator=generator) for _ in range(2)]
            sim.reset_stats(device)
            keys, values = joint.join(*(tile(o) for o in own))
            ops = [r.name for r in sim.stats(device).op_records]
            expected_ops = ["fill_cache"] * 2 if step and batch == 1 else ["concat"] * 2
            assert ops == expected_ops, (step, ops)
            for got, o, p in zip((keys, values), own, prefix, strict=True):
                want = torch.cat([o, p], dim=2).to(torch.bfloat16).float()
                assert torch.equal(ttnn.to_torch(got).float(), want)
        for got, p in zip(prefix_tt, prefix, strict=True):
            assert torch.equal(ttnn.to_torch(got).float(), p.to(torch.bfloat16).float())
        joint.release()
        assert joint.joint is None


@pytest.mark.skipif(not is_simulator(), reason="op records of the simulator")
def test_traced_denoising_loop_equals_the_eager_loop() -> None:
    """sample_actions with the steps after the second replayed from a trace gives the eager loop's actions
    bit for bit; the replays run (and count) the same ops, plus a copy of the time term and of the noise per
    step and two clones, with no host transfer added."""
    ctx = _reference_context("tiny")
    args = [ctx.inputs[name] for name in SAMPLE_ARGS]
    with open_device() as device:
        ctx.device = device
        ctx.model = build_policy(ctx)
        sim.reset_stats(device)
        eager = ctx.model.sample_actions(*args, trace=False)
        eager_stats = sim.stats(device)
        sim.reset_stats(device)
        traced = ctx.model.sample_actions(*args, trace=True)
        traced_stats = sim.stats(device)
    assert torch.equal(traced, eager)
    steps = ctx.config.policy.num_inference_steps
    assert steps > 2
    assert traced_stats.ops_by_name.get("copy", 0) == 2 * steps
    assert traced_stats.ops_by_name["clone"] == eager_stats.ops_by_name.get("clone", 0) + 2
    for name, count in eager_stats.ops_by_name.items():
        assert traced_stats.ops_by_name[name] == count, name
    assert traced_stats.host_to_device == eager_stats.host_to_device
    assert traced_stats.device_to_host == eager_stats.device_to_host
