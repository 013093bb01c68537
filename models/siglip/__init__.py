"""The SigLIP vision transformer on TTNN, shared by the PI0 and Gemma3 ports (not a plugin).

One module per concept, named after transformers' siglip modules so state-dict keys map by name:
embeddings.py (patch + position), attention.py, mlp.py, block.py (encoder layer, layer norm),
encoder.py (layer stack), tower.py (SigLIPVisionTowerTTNN: embeddings -> encoder -> post_layernorm).
Shared by the ports' plumbing: reference.py (random weights, record_tower), components.py (the compared
tower components), checkpoint.py (reading a save_pretrained directory).
"""

from .common import ImageInputError, SequencePlan, plan_sequence
from .tower import SigLIPVisionTowerTTNN

__all__ = ["ImageInputError", "SequencePlan", "SigLIPVisionTowerTTNN", "plan_sequence"]
