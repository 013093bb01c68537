"""Presets of the Mamba port: transformers' MambaForCausalLM architecture plus the run's prompt and decode.

`full` is state-spaces/mamba-2.8b's architecture (d_model 2560, 64 layers, vocab 50280, state 16, expand 2,
conv 4, dt_rank 160), the model tt-metal's Mamba demo runs. The demo's SSM kernels are compiled for that
model: ttnn.experimental.repeat_and_interleave_eltwise_mul takes an intermediate size of exactly 5120
(HIDDEN_SIZE in repeat_and_interleave_eltwise_mul_device_operation.hpp) and a latent of 32 (the state of 16
padded with zeros). So `tiny` keeps the intermediate size 5120 (d_model 1280 x expand 4) and shrinks the
rest: 2 layers, a 1000-token vocabulary (not a tile multiple) and dt_rank 80 (not one either); its 40-token
prompt is prefilled as a full 32-token chunk plus a partial one. `full-4` is `full` cut to its first 4
layers: every width of mamba-2.8b (vocabulary included) in minutes and ~2 GB instead of ~12 GB.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transformers import MambaConfig

#: repeat_and_interleave_eltwise_mul's compiled intermediate size (see the module docstring)
KERNEL_INTERMEDIATE_SIZE = 5120
#: the SSM kernels' latent (state) width: one tile
LATENT = 32


@dataclass(frozen=True)
class MambaPreset:
    hidden_size: int
    num_hidden_layers: int
    vocab_size: int
    state_size: int
    expand: int
    conv_kernel: int
    time_step_rank: int
    #: prompt tokens (prefill) and greedy decode steps after it
    prompt_len: int
    decode_steps: int
    #: layers whose conv and SSM are compared on their own (every block is compared)
    probe_layers: tuple[int, ...]
    layer_norm_epsilon: float = 1e-5
    #: top-1 agreement floor over the decode steps
    top1_floor: float = 0.95

    @property
    def intermediate_size(self) -> int:
        return self.expand * self.hidden_size

    def config(self) -> MambaConfig:
        return MambaConfig(
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            vocab_size=self.vocab_size,
            state_size=self.state_size,
            expand=self.expand,
            conv_kernel=self.conv_kernel,
            time_step_rank=self.time_step_rank,
            layer_norm_epsilon=self.layer_norm_epsilon,
            intermediate_size=self.intermediate_size,
            use_bias=False,
            use_conv_bias=True,
            residual_in_fp32=True,
            tie_word_embeddings=True,
        )


#: PCC floors per component kind (vs the fp32 reference; bfloat16 weights and activations)
THRESHOLDS = {
    "embedding": 0.999,
    "conv": 0.999,
    "ssm": 0.999,
    "block": 0.999,
    "final norm": 0.999,
    "logits": 0.99,
    "decode": 0.99,
}

PRESETS: dict[str, MambaPreset] = {
    "tiny": MambaPreset(
        hidden_size=1280,
        num_hidden_layers=2,
        vocab_size=1000,
        state_size=16,
        expand=4,
        conv_kernel=4,
        time_step_rank=80,
        prompt_len=40,
        decode_steps=32,
        probe_layers=(0, 1),
    ),
    "full": MambaPreset(
        hidden_size=2560,
        num_hidden_layers=64,
        vocab_size=50280,
        state_size=16,
        expand=2,
        conv_kernel=4,
        time_step_rank=160,
        prompt_len=64,
        decode_steps=32,
        probe_layers=(0, 63),
    ),
}
PRESETS["full-4"] = replace(PRESETS["full"], num_hidden_layers=4, probe_layers=(0, 3))
