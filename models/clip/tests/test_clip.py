"""Tests of the clip port on the tiny preset: the 1x2 mesh is bit-identical to one chip, tensor parallel over
2 / 4 chips matches one chip, the unmasked path matches transformers, the padding mask is applied, the
pooling rules and the inputs are transformers'.
(Every component's PCC on tiny is checked by shared_tests through the registry.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from ttport.backend import ttnn
from ttport.compare import comp_pcc
from ttport.device import board_for, open_device, open_mesh_device
from ttport.models.clip.port import ClipModel, ClipPort
from ttport.models.clip.presets import ENCODERS, PRESETS
from ttport.models.clip.reference import ClipEncoderPair, make_inputs
from ttport.models.clip.text_model import eos_positions

PRESET = PRESETS["tiny"]
SEED = 0

Outputs = dict[str, dict[str, torch.Tensor]]


@pytest.fixture(scope="module")
def reference() -> ClipEncoderPair:
    return ClipEncoderPair(PRESET, SEED)


@pytest.fixture(scope="module")
def inputs() -> dict:
    return make_inputs(PRESET, SEED)


@pytest.fixture(scope="module")
def mesh_model(reference: ClipEncoderPair) -> Iterator[ClipModel]:
    with board_for(ClipPort.mesh_shape), open_mesh_device(ClipPort.mesh_shape) as mesh:
        yield ClipModel(reference, mesh, seq_len=PRESET.seq_len)


def _outputs(model: ClipModel, inputs: dict, masked: bool = True) -> Outputs:
    """Every output of both encoders as torch, by name ("hidden_states i", "last", "pooled", ...)."""
    result = {}
    for name in ENCODERS:
        encoder = model[name]
        mask = inputs[name]["attention_mask"] if masked else None
        out = encoder(encoder.preprocess(inputs[name]["input_ids"], mask))
        tensors = {f"hidden_states {i}": h for i, h in enumerate(out.hidden_states)}
        tensors.update(last=out.last_hidden_state, pooled=out.pooled)
        if out.text_embeds is not None:
            tensors["text_embeds"] = out.text_embeds
        # [B, 1, S, H] activations compare as the reference's [B, S, H]
        result[name] = {key: model.parallel.to_torch(t).squeeze(1) for key, t in tensors.items()}
    return result


@pytest.fixture(scope="module")
def mesh_outputs(mesh_model: ClipModel, inputs: dict) -> Outputs:
    return _outputs(mesh_model, inputs)


@pytest.fixture(scope="module")
def mesh_unmasked_outputs(mesh_model: ClipModel, inputs: dict) -> Outputs:
    return _outputs(mesh_model, inputs, masked=False)


def test_components_cover_both_encoders() -> None:
    names = [c.name for c in ClipPort().components("tiny")]
    expected = []
    for name in ENCODERS:
        spec = PRESET.encoder(name)
        expected += [f"{name} embeddings", *(f"{name} layer {i}" for i in range(spec.num_hidden_layers))]
        expected += [f"{name} hidden_states", f"{name} last_hidden_state", f"{name} pooled"]
    expected.append("enc2 text_embeds")
    assert names == expected
    thresholds = {c.name: c.threshold for c in ClipPort().components("full")}
    assert thresholds["enc1 embeddings"] == thresholds["enc2 layer 31"] == 0.999
    assert thresholds["enc2 hidden_states"] == thresholds["enc2 text_embeds"] == 0.99


def test_mesh_is_bit_identical_to_one_chip(
    reference: ClipEncoderPair, inputs: dict, mesh_model: ClipModel, mesh_outputs: Outputs
) -> None:
    assert mesh_model.parallel.chips == 2
    prepared = mesh_model["enc1"].preprocess(inputs["enc1"]["input_ids"], inputs["enc1"]["attention_mask"])
    ids = [ttnn.to_torch(t) for t in ttnn.get_device_tensors(prepared.input_ids)]
    assert [list(t.shape) for t in ids] == [[1, PRESET.seq_len]] * 2  # one prompt per chip
    assert torch.equal(torch.cat(ids).long(), inputs["enc1"]["input_ids"])
    weights = [ttnn.to_torch(t) for t in ttnn.get_device_tensors(mesh_model["enc1"].layers[0].mlp.fc1_weight)]
    assert torch.equal(weights[0], weights[1])  # replicated
    with open_device() as device:
        single = _outputs(ClipModel(reference, device, seq_len=PRESET.seq_len), inputs)
    for name in ENCODERS:
        assert single[name].keys() == mesh_outputs[name].keys()
        for key, value in single[name].items():
            assert torch.equal(value, mesh_outputs[name][key]), (
                f"{name} {key}: one chip and the 1x2 mesh differ"
            )


def test_without_attention_mask_matches_reference(
    reference: ClipEncoderPair, inputs: dict, mesh_unmasked_outputs: Outputs
) -> None:
    """SD pipelines call the encoders without an attention mask: causal mask only."""
    for name in ENCODERS:
        with torch.no_grad():
            expected = reference.encoder(name)(input_ids=inputs[name]["input_ids"])
        got = mesh_unmasked_outputs[name]
        assert comp_pcc(expected.last_hidden_state, got["last"], 0.99)[0]
        if name == "enc2":
            assert comp_pcc(expected.text_embeds, got["text_embeds"], 0.99)[0]
        else:
            assert comp_pcc(expected.pooler_output, got["pooled"], 0.99)[0]


def test_padding_mask_only_changes_padded_positions(
    mesh_outputs: Outputs, mesh_unmasked_outputs: Outputs
) -> None:
    short = PRESET.prompt_lengths[0]
    full_row = PRESET.prompt_lengths.index(PRESET.seq_len)
    for name in ENCODERS:
        masked, unmasked = mesh_outputs[name]["last"], mesh_unmasked_outputs[name]["last"]
        assert torch.equal(masked[full_row], unmasked[full_row])
        assert torch.equal(masked[0, :short], unmasked[0, :short])  # causal: the padding comes later
        assert not torch.equal(masked[0, short:], unmasked[0, short:])


@pytest.mark.parametrize(
    ("eos_token_id", "expected"),
    [
        (2, [1, 3]),  # legacy rule: position of the largest id
        (7, [2, 0]),  # first occurrence of eos_token_id, even when padding repeats it
    ],
)
def test_eos_positions_follow_transformers(eos_token_id: int, expected: list[int]) -> None:
    ids = torch.tensor([[1, 9, 7, 7], [7, 3, 4, 8]])
    assert eos_positions(ids, eos_token_id).tolist() == expected


def test_inputs_have_padded_and_unpadded_rows(inputs: dict) -> None:
    for name in ENCODERS:
        spec = PRESET.encoder(name)
        ids, mask = inputs[name]["input_ids"], inputs[name]["attention_mask"]
        assert ids.shape == (PRESET.batch, 77) and PRESET.batch >= 2
        assert mask.sum(dim=1).tolist() == list(PRESET.prompt_lengths)
        assert (ids[:, 0] == spec.bos_id).all()
        assert (ids[0, PRESET.prompt_lengths[0] :] == spec.pad_id).all()
        assert int((ids == spec.eos_id).sum(dim=1)[1]) == 1


def test_batch_must_split_over_the_mesh(mesh_model: ClipModel, inputs: dict) -> None:
    with pytest.raises(ValueError, match="cannot be split evenly over 2 chips"):
        mesh_model["enc1"].preprocess(inputs["enc1"]["input_ids"][:1])


@pytest.mark.parametrize("preset", ["tiny-tp2", "tiny-tp4"])
def test_tensor_parallel_matches_one_chip(preset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each layer split over 2 / 4 chips (heads and MLP columns, all-reduced) against the same architecture on
    one chip: every hidden state at PCC >= 0.999, the pooled and projected outputs too; outputs replicated."""
    # the module's mesh fixture holds the n300 board while it lives: a T3K has the chips of every mesh here
    monkeypatch.setenv("TTPORT_BOARD", "t3k")
    single_preset, split_preset = PRESETS["tiny-tp1"], PRESETS[preset]
    assert (single_preset.enc1, single_preset.enc2) == (split_preset.enc1, split_preset.enc2)
    reference = ClipEncoderPair(single_preset, SEED)
    inputs = make_inputs(single_preset, SEED)
    with open_device() as device:
        single = _outputs(
            ClipModel(reference, device, seq_len=single_preset.seq_len, tensor_parallel=True), inputs
        )
    mesh = ClipPort().mesh_shape_for(preset)
    with board_for(mesh), open_mesh_device(mesh) as device:
        model = ClipModel(reference, device, seq_len=split_preset.seq_len, tensor_parallel=True)
        assert model.parallel.tp.factor == mesh[1]
        layer = model["enc2"].layers[0]
        assert layer.self_attn.heads.local_heads == split_preset.enc2.num_attention_heads // mesh[1]
        split = _outputs(model, inputs)
    for name in ENCODERS:
        assert split[name].keys() == single[name].keys()
        for key, expected in single[name].items():
            passed, pcc = comp_pcc(expected, split[name][key], 0.999)
            assert passed, f"{preset} {name} {key}: PCC {pcc:.6f} < 0.999 against one chip"


def test_tuned_configuration_projects_faster(reference: ClipEncoderPair, inputs: dict) -> None:
    """The linears' configuration on both weight dtypes: on the whole core grid with their output in L1, the
    bias (and enc2's GELU) fused into the matmul, the layer norms and residual adds in L1; bfloat8_b weights run
    at HiFi2, bfloat16 at HiFi4. The projected device time of an enc2 forward is lower with bfloat8_b."""
    from ttport import sim
    from ttport.sim import projection

    encoder_inputs = inputs["enc2"]
    projected = {}
    with board_for(ClipPort.mesh_shape), open_mesh_device(ClipPort.mesh_shape) as mesh:
        for dtype in (ttnn.bfloat16, ttnn.bfloat8_b):
            model = ClipModel(reference, mesh, seq_len=PRESET.seq_len, weights_dtype=dtype)
            encoder = model["enc2"]
            prepared = encoder.preprocess(encoder_inputs["input_ids"], encoder_inputs["attention_mask"])
            sim.reset_stats(mesh)
            encoder(prepared)
            all_records = sim.stats(mesh).op_records
            records = [r for r in all_records if r.chip == all_records[0].chip]
            projection.project_records(records, mesh.board)
            projected[dtype] = sum(r.projected_ns for r in records)
            linears = [r for r in records if r.name == "linear" and r.inputs[0].shape[-2] == PRESET.seq_len]
            assert len(linears) == 4 * PRESET.enc2.num_hidden_layers
            assert {r.inputs[1].dtype for r in linears} == {
                "BFLOAT8_B" if dtype == ttnn.bfloat8_b else "BFLOAT16"
            }
            assert {r.config.math_fidelity for r in linears} == {
                "HiFi2" if dtype == ttnn.bfloat8_b else "HiFi4"
            }
            assert all(r.outputs[0].buffer_type == "L1" for r in linears)
            names = [r.name for r in records]
            assert "gelu" not in names  # fused into fc1 (enc2's activation is gelu)
            # the biases fused: a layer's only adds are its two residual adds (plus the embeddings' one)
            assert names.count("add") == 2 * PRESET.enc2.num_hidden_layers + 1
            # every layer norm but the final one (its output is read back) writes L1
            norms = [r for r in records if r.name == "layer_norm"][:-1]
            assert all(r.outputs[0].buffer_type == "L1" for r in norms)
    assert projected[ttnn.bfloat8_b] < projected[ttnn.bfloat16]


def test_bfloat8_b_linear_weights_keep_every_floor() -> None:
    """tiny-bfp8: bfloat8_b linear weights at HiFi2 pass every component's floor (the same floors as
    bfloat16: layers >= 0.999, outputs >= 0.99)."""
    from ttport.runner import run_port

    report = run_port(ClipPort(), "tiny-bfp8")
    assert report.passed, [(c.name, c.pcc, c.threshold) for c in report.components]
    assert len(report.components) == 14
