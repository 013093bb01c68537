"""benchmarks/mamba_top1_study.py on the tiny preset: the decode top-1 of bfloat16 variants of the reference
against the fp32 one, and the helpers it is computed with (margins, weight rounding, bfloat16-sized noise)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]


def _study() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mamba_top1_study", ROOT / "benchmarks" / "mamba_top1_study.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study = _study()


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    written: list[dict[str, Any]] = []
    figures = study.run_study("tiny", 0, ["m", "b", "c", "v", "d"], [1], [0.0, 1.0], written.append)
    return {"figures": figures, "written": written}


def test_tiny_keeps_every_greedy_token_in_bfloat16(tiny) -> None:
    """tiny's margins are wide: bfloat16 matrices, weights and the whole bfloat16 model all pick the fp32
    reference's token at each of the 32 steps (the port's tiny decode top-1 is 1.0 too)."""
    figures = tiny["figures"]
    assert figures["steps"] == 32
    variants = figures["variants"]
    assert list(variants) == [
        "m bf16 matrices",
        "b bf16 weights",
        "c bf16 model",
        *(f"v bf16 {group}" for group in study.VECTOR_GROUPS),
        "d noise s1 x0",
        "d noise s1 x1",
    ]
    for name in ("m bf16 matrices", "b bf16 weights", "c bf16 model", "v bf16 A_log", "d noise s1 x1"):
        assert variants[name]["top1_agreement"] == 1.0, name
        assert variants[name]["agree"] == [1] * 32
        assert variants[name]["predicted_agreement"] > 0.999, name
        assert variants[name]["predicted_pass_probability"] > 0.999, name
        assert 0 < max(variants[name]["logit_delta_rms"]) < 0.1, name
    assert min(figures["reference"]["margin"]) > 1.0


def test_regenerated_weights_reproduce_the_reference_exactly(tiny) -> None:
    """d at scale 0 regenerates the seed's weights after c left them rounded: the logits are a's, bit for bit."""
    zero = tiny["figures"]["variants"]["d noise s1 x0"]
    assert zero["logit_delta_rms"] == [0.0] * 32
    assert zero["margin_shift"] == [0.0] * 32
    assert zero["weight_relative_error"] == 0.0


def test_noise_is_as_large_as_bfloat16_rounding(tiny) -> None:
    """The random-sign perturbation moves each weight by its bfloat16 rounding error: the matrices change by
    exactly the norm rounding changes them by."""
    variants = tiny["figures"]["variants"]
    rounding = variants["m bf16 matrices"]["weight_relative_error"]
    assert 1e-3 < rounding < 3e-3  # bfloat16's unit roundoff is 2**-8 = 3.9e-3
    assert variants["b bf16 weights"]["weight_relative_error"] == rounding
    assert variants["d noise s1 x1"]["weight_relative_error"] == pytest.approx(rounding, rel=1e-9)


def test_figures_are_reported_after_every_part(tiny) -> None:
    written = tiny["written"]
    assert len(written) == 1 + 10
    assert "variants" in written[0] and "reference" in written[0]
    assert written[-1]["peak_rss_gib"] > 0


def test_vector_groups_and_matrices_cover_every_parameter_once() -> None:
    """Part v's groups and part m's matrices partition the model's parameters (nothing left out of b)."""
    from ttport.models.mamba.presets import PRESETS
    from ttport.models.mamba.reference import build_reference

    model = build_reference(PRESETS["tiny"], None, 0)
    for name, param in model.named_parameters():
        owners = [g for g, select in study.VECTOR_GROUPS.items() if select(name, param)]
        owners += ["matrices"] if study.is_matrix(name, param) else []
        assert len(owners) == 1, (name, owners)


def test_margins_per_step() -> None:
    steps = torch.tensor([[1.0, 4.0, 2.0, 1.0], [0.0, -1.0, 3.0, 2.5]])
    m = study.margins(steps)
    assert m["top1"] == [1, 2] and m["top2"] == [2, 3]
    assert m["margin"] == pytest.approx([2.0, 0.5])
    assert m["std"] == pytest.approx(steps.std(-1).tolist())
    assert m["relative_margin"] == pytest.approx([2.0 / m["std"][0], 0.5 / m["std"][1]])


def test_compare_counts_flips_and_margin_shifts() -> None:
    base = study.Decoded(torch.eye(3), torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.9]]), torch.tensor([0, 1]))
    other = study.Decoded(
        torch.eye(3), torch.tensor([[3.0, 1.5, 0.0], [0.0, 1.9, 2.0]]), torch.tensor([0, 1])
    )
    figures = study.compare(base, other)
    assert figures["agree"] == [1, 0]
    assert figures["top1_agreement"] == 0.5
    assert figures["margin_shift"] == pytest.approx([-0.5, -0.2])
    assert figures["logit_delta_rms"] == pytest.approx([(0.25 / 3) ** 0.5, (0.02 / 3) ** 0.5])
    assert figures["prefill_top1_agreement"] == 1.0
    # step 0: margin 2 against a change of RMS 0.29 hardly flips; step 1: margin 0.1 against 0.08 may
    assert 0.5 < figures["predicted_agreement"] < 1.0


def test_pass_probability_is_the_binomial_tail() -> None:
    assert study.pass_probability(torch.ones(32), 0.95) == pytest.approx(1.0)
    assert study.pass_probability(torch.tensor([0.5, 0.5]), 0.5) == pytest.approx(0.75)
    assert study.pass_probability(torch.tensor([0.5, 0.5]), 1.0) == pytest.approx(0.25)
    # 0.95 of 32 steps = at least 31 kept
    expected = 0.9**32 + 32 * 0.9**31 * 0.1
    assert study.pass_probability(torch.full((32,), 0.9), 0.95) == pytest.approx(expected)


def test_rounding_and_noise_in_place() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 48), torch.nn.LayerNorm(48))
    with torch.no_grad():
        model[1].weight.normal_()
    original = {k: v.clone() for k, v in model.state_dict().items()}
    error = study.round_weights_(model, study.is_matrix)
    w0 = original["0.weight"]
    assert torch.equal(model[0].weight, w0.bfloat16().float())
    assert torch.equal(model[1].weight, original["1.weight"])  # a vector: left fp32
    assert torch.equal(model[0].bias, original["0.bias"])
    assert error == pytest.approx(((w0.bfloat16().float() - w0).norm() / w0.norm()).item(), rel=1e-6)

    model.load_state_dict(original)
    study.perturb_weights_(model, seed=5, scale=1.0)
    delta = model[0].weight - w0
    rounding = w0.bfloat16().float() - w0
    assert torch.allclose(delta.abs(), rounding.abs(), rtol=0, atol=1e-9)
    up = (delta == rounding) & (rounding != 0)
    down = (delta == -rounding) & (rounding != 0)
    assert up.sum() > 0.4 * (rounding != 0).sum() and down.sum() > 0.4 * (rounding != 0).sum()
    assert not torch.equal(model[1].weight, original["1.weight"])  # every parameter is perturbed


def test_bad_parts_are_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        study.main(["--preset", "tiny", "--parts", "m,x"])
    assert exit_info.value.code == 2
    assert "--parts takes a subset of a,m,b,c,v,d, got 'm,x'" in capsys.readouterr().err
