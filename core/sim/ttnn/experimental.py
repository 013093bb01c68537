"""ttnn.experimental on the simulator: re-exports ttport.sim.ops.experimental (transformer helpers),
ttport.sim.ops.dit (DiT / Wan norms) and ttport.sim.ops.ssm (state-space-model kernels), each through its
`__all__`, and single ops of other areas."""

from ..ops.attention_helpers import experimental_concatenate_heads as concatenate_heads  # noqa: F401
from ..ops.attention_helpers import (  # noqa: F401
    experimental_split_query_key_value_and_split_heads as split_query_key_value_and_split_heads,
)
from ..ops.attention_helpers import nlp_concat_heads_decode, nlp_create_qkv_heads_decode  # noqa: F401
from ..ops.ccl import (  # noqa: F401 (re-export)
    all_gather_async,
    all_reduce_async,
    reduce_scatter_minimal_async,
    reduce_scatter_minimal_async_create_intermediate_buffer,
)
from ..ops.dit import *  # noqa: F403
from ..ops.experimental import *  # noqa: F403
from ..ops.paged import paged_fill_cache, paged_update_cache  # noqa: F401 (re-export)
from ..ops.reduction import fast_reduce_nc  # noqa: F401 (re-export)
from ..ops.ssm import *  # noqa: F403
from ._surface import not_simulated as _not_simulated  # noqa: E402

__getattr__ = _not_simulated("ttnn.experimental")
