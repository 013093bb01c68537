"""The full preset fits in host memory only if the fp32 reference (11 GB) and the port's bfloat16 weights are
never held together: building the port frees the reference's parameters as their device copies are made."""

from __future__ import annotations

import gc
import weakref

from ttport.device import open_device
from ttport.models.mamba.port import MambaPort
from ttport.port import RunContext


def test_build_model_frees_the_reference_weights() -> None:
    port = MambaPort()
    ctx = RunContext(port=port, preset="tiny", seed=0)
    ctx.reference = port.build_reference("tiny", None, 0)
    ctx.inputs = port.make_inputs("tiny", 0, ctx.reference)
    backbone = ctx.reference.backbone
    watched = [weakref.ref(backbone.embeddings.weight), weakref.ref(backbone.layers[1].mixer.in_proj.weight)]
    del backbone
    enabled = gc.isenabled()
    gc.disable()  # the port must free them itself, not a collection that happens to run meanwhile
    try:
        with open_device() as device:
            ctx.device = device
            model = port.build_model(ctx)
            assert ctx.reference is None
            assert [ref() for ref in watched] == [None, None]
            assert len(model.layers) == 2
    finally:
        if enabled:
            gc.enable()
