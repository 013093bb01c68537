"""Tests of the clip port on the tiny preset: accuracy against transformers, the 1x2 mesh being bit-exact
with one chip, the unmasked path, and the pooling rules."""

from __future__ import annotations

import pytest
import torch

from core.compare import comp_pcc
from core.device import open_device, open_mesh_device
from core.runner import run_port
from models.clip.port import ClipModel, ClipPort
from models.clip.presets import ENCODERS, PRESETS
from models.clip.reference import ClipEncoderPair, make_inputs
from models.clip.text_model import eos_positions

PRESET = PRESETS["tiny"]
SEED = 0


@pytest.fixture(autouse=True)
def n300(monkeypatch: pytest.MonkeyPatch) -> None:
    """The port runs on a 1x2 mesh: a two-chip board (the single-chip runs use one of its chips)."""
    monkeypatch.setenv("TTPORT_BOARD", "n300")


@pytest.fixture(scope="module")
def reference() -> ClipEncoderPair:
    return ClipEncoderPair(PRESET, SEED)


@pytest.fixture(scope="module")
def inputs() -> dict:
    return make_inputs(PRESET, SEED)


def _outputs(model: ClipModel, inputs: dict, masked: bool = True) -> dict[str, dict[str, torch.Tensor]]:
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


def test_tiny_run_passes_every_component() -> None:
    port = ClipPort()
    report = run_port(port, "tiny", seed=SEED)
    names = [c.name for c in report.components]
    for name in ENCODERS:
        spec = PRESET.encoder(name)
        expected = [f"{name} embeddings", *(f"{name} layer {i}" for i in range(spec.num_hidden_layers))]
        expected += [f"{name} hidden_states", f"{name} last_hidden_state", f"{name} pooled"]
        assert [n for n in names if n.startswith(name)][: len(expected)] == expected
    assert "enc2 text_embeds" in names and "enc1 text_embeds" not in names
    failed = [(c.name, c.pcc, c.error) for c in report.components if not c.passed]
    assert not failed, failed
    assert report.board == "n300"


def test_mesh_is_bit_identical_to_one_chip(reference: ClipEncoderPair, inputs: dict) -> None:
    with open_device() as device:
        single = _outputs(ClipModel(reference, device, seq_len=PRESET.seq_len), inputs)
    with open_mesh_device((1, 2)) as mesh:
        model = ClipModel(reference, mesh, seq_len=PRESET.seq_len)
        assert model.parallel.chips == 2
        sharded = _outputs(model, inputs)
    for name in ENCODERS:
        assert single[name].keys() == sharded[name].keys()
        for key, value in single[name].items():
            assert torch.equal(value, sharded[name][key]), f"{name} {key}: one chip and the 1x2 mesh differ"


def test_without_attention_mask_matches_reference(reference: ClipEncoderPair, inputs: dict) -> None:
    """SD pipelines call the encoders without an attention mask: causal mask only."""
    with open_mesh_device((1, 2)) as mesh:
        outputs = _outputs(ClipModel(reference, mesh, seq_len=PRESET.seq_len), inputs, masked=False)
    for name in ENCODERS:
        with torch.no_grad():
            expected = reference.encoder(name)(input_ids=inputs[name]["input_ids"])
        got = outputs[name]
        assert comp_pcc(expected.last_hidden_state, got["last"], 0.99)[0]
        if name == "enc2":
            assert comp_pcc(expected.text_embeds, got["text_embeds"], 0.99)[0]
        else:
            assert comp_pcc(expected.pooler_output, got["pooled"], 0.99)[0]


def test_masked_padding_differs_from_unmasked(reference: ClipEncoderPair, inputs: dict) -> None:
    """The padding mask is really applied: padded rows change when it is dropped, full rows do not."""
    with open_device() as device:
        model = ClipModel(reference, device, seq_len=PRESET.seq_len)
        masked = _outputs(model, inputs)
        unmasked = _outputs(model, inputs, masked=False)
    short = PRESET.prompt_lengths[0]
    full_row = PRESET.prompt_lengths.index(PRESET.seq_len)
    for name in ENCODERS:
        last_masked, last_unmasked = masked[name]["last"], unmasked[name]["last"]
        assert torch.equal(last_masked[full_row], last_unmasked[full_row])
        assert torch.equal(last_masked[0, :short], last_unmasked[0, :short])  # causal: padding comes later
        assert not torch.equal(last_masked[0, short:], last_unmasked[0, short:])


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


def test_batch_must_split_over_the_mesh(reference: ClipEncoderPair, inputs: dict) -> None:
    with open_mesh_device((1, 2)) as mesh:
        model = ClipModel(reference, mesh, seq_len=PRESET.seq_len)
        with pytest.raises(ValueError, match="cannot be split evenly over 2 chips"):
            model["enc1"].preprocess(inputs["enc1"]["input_ids"][:1])
