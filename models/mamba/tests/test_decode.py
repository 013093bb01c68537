"""The Mamba port's recurrent decode on the simulator: the state stays on device (one upload of the token
and one download of the logits per step), chunked prefill carries the state exactly like decode does, and
the SSM kernels' 32-row outputs are trimmed back to the step's row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from ttport import sim
from ttport.backend import is_simulator, ttnn
from ttport.compare import comp_pcc
from ttport.device import open_device
from ttport.models.mamba.model import MambaTTNN
from ttport.models.mamba.presets import PRESETS
from ttport.models.mamba.reference import build_reference, conv_reference

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[torch.nn.Module, MambaTTNN]]:
    reference = build_reference(TINY, None, seed=3)
    with open_device() as device:
        yield reference, MambaTTNN(TINY, dict(reference.state_dict()), device)


def _ids(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (1, n), generator=torch.Generator().manual_seed(seed))


@pytest.mark.skipif(not is_simulator(), reason="transfer counters are the simulator's (ttport.sim.stats)")
def test_decode_step_moves_one_token_up_and_the_logits_down(models) -> None:
    _, model = models
    prompt = _ids(8)
    ttnn.deallocate(model.prefill(prompt))
    for token in (3, 141, 999):
        before = (counters := sim.stats(model.device)).host_to_device, counters.device_to_host
        logits = ttnn.to_torch(model.decode(torch.tensor([[token]])))
        after = (counters := sim.stats(model.device)).host_to_device, counters.device_to_host
        assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
        assert list(logits.shape) == [1, 1, 1, TINY.vocab_size]
        assert all(list(s.ssm.shape) == [1, 1, 1, TINY.intermediate_size * 32] for s in model.states)


def test_chunked_prefill_equals_prefill_then_decode(models) -> None:
    """40 tokens prefilled in two chunks (32 + 8) give the logits that 33 tokens of prefill followed by
    7 decode steps give: the conv window and the SSM state cross chunk and step boundaries the same way."""
    reference, model = models
    prompt = _ids(40, seed=1)
    chunked = ttnn.to_torch(model.prefill(prompt)).float()[0, 0]
    stepped = [ttnn.to_torch(model.prefill(prompt[:, :33])).float()[0, 0, -1]]
    stepped += [ttnn.to_torch(model.decode(prompt[:, i : i + 1])).float()[0, 0, 0] for i in range(33, 40)]
    for i, row in enumerate(stepped):
        assert comp_pcc(chunked[32 + i], row, 0.9999)[0], i
    with torch.no_grad():
        expected = reference(prompt).logits[0]
    assert comp_pcc(expected, chunked, 0.999)[0]


def test_conv_one_row_path_matches_the_per_tap_path(models) -> None:
    """A decode step's conv (window x stacked taps, summed over the rows) gives what the prefill path (one
    multiply per tap on shifted slices) gives for the same rows, and both match transformers' conv."""
    reference, model = models
    conv = model.layers[0].mixer.conv
    x = torch.randn(1, 6, TINY.intermediate_size, generator=torch.Generator().manual_seed(4))
    expected = conv_reference(reference.backbone.layers[0].mixer, x)[0]

    def upload(rows: torch.Tensor) -> object:
        return ttnn.from_torch(rows[None], dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=model.device)

    state = conv.initial_state(model.device)
    all_rows, end_state = conv(upload(x), state)
    stepped = []
    for t in range(x.shape[1]):
        step, state = conv(upload(x[:, t : t + 1]), state)
        stepped.append(ttnn.to_torch(step).float()[0, 0, 0])
    prefilled = ttnn.to_torch(all_rows).float()[0, 0]
    assert torch.equal(ttnn.to_torch(state), ttnn.to_torch(end_state))
    assert comp_pcc(prefilled, torch.stack(stepped), 0.99999)[0]
    assert comp_pcc(expected, torch.stack(stepped), 0.9999)[0]
