"""--weights DIR for Mamba: a saved MambaForCausalLM (transformers' or the original key spelling) is what
the reference runs; a missing, mismatched, incomplete or non-finite checkpoint is one UserError line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ttport.errors import UserError
from ttport.models.mamba.presets import PRESETS
from ttport.models.mamba.reference import build_reference

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """The tiny reference with seed-7 weights, saved by transformers in bfloat16 (half the bytes)."""
    directory = tmp_path_factory.mktemp("mamba-tiny")
    model = build_reference(TINY, None, seed=7).to(torch.bfloat16)
    model.save_pretrained(directory)
    return directory, {k: v.float() for k, v in model.state_dict().items()}


def _copy_with(directory: Path, target: Path, edit) -> Path:
    """The saved checkpoint with its tensors passed through `edit(dict) -> dict`."""
    target.mkdir(exist_ok=True)
    (target / "config.json").write_text((directory / "config.json").read_text())
    save_file(edit(load_file(directory / "model.safetensors")), target / "model.safetensors")
    return target


def _refusal(directory: Path) -> str:
    with pytest.raises(UserError) as info:
        build_reference(TINY, directory, seed=0)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reference_loads_a_saved_mamba(saved) -> None:
    directory, expected = saved
    loaded = build_reference(TINY, directory, seed=0)
    state = loaded.state_dict()
    assert state.keys() == expected.keys()
    for key, value in state.items():
        assert value.dtype == torch.float32 and torch.equal(value, expected[key]), key
    assert loaded.lm_head.weight is loaded.backbone.embeddings.weight  # tied
    random = build_reference(TINY, None, seed=0).state_dict()
    assert not torch.equal(
        random["backbone.layers.0.mixer.in_proj.weight"], expected["backbone.layers.0.mixer.in_proj.weight"]
    )


def test_reference_loads_the_original_key_spelling(saved, tmp_path: Path) -> None:
    """state-spaces checkpoints say "backbone.embedding.weight" (MambaModel.load_hook renames it)."""
    directory, expected = saved

    def rename(tensors):
        return {k.replace("embeddings.", "embedding."): v for k, v in tensors.items()}

    loaded = build_reference(TINY, _copy_with(directory, tmp_path / "orig", rename), seed=0).state_dict()
    assert torch.equal(loaded["backbone.embeddings.weight"], expected["backbone.embeddings.weight"])


def test_refuses_a_directory_without_config(tmp_path: Path) -> None:
    assert "no config.json" in _refusal(tmp_path)


def test_refuses_another_architecture(saved, tmp_path: Path) -> None:
    directory, _ = saved
    config = json.loads((directory / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert "num_hidden_layers = 3 does not match the preset's 2" in _refusal(tmp_path)


def test_refuses_missing_and_mis_shaped_tensors(saved, tmp_path: Path) -> None:
    directory, _ = saved
    key = "backbone.layers.1.mixer.x_proj.weight"
    missing = _copy_with(directory, tmp_path / "missing", lambda t: {k: v for k, v in t.items() if k != key})
    assert "missing layers.1.mixer.x_proj.weight" in _refusal(missing)
    shaped = _copy_with(directory, tmp_path / "shape", lambda t: {**t, key: t[key][:-1].contiguous()})
    assert "layers.1.mixer.x_proj.weight has shape" in _refusal(shaped)


def test_refuses_non_finite_weights(saved, tmp_path: Path) -> None:
    directory, _ = saved
    key = "backbone.layers.0.mixer.D"

    def poison(tensors):
        bad = tensors[key].clone()
        bad[3] = float("nan")
        return {**tensors, key: bad}

    assert "backbone.layers.0.mixer.D holds 1 NaN/Inf value(s)" in _refusal(
        _copy_with(directory, tmp_path / "nan", poison)
    )
