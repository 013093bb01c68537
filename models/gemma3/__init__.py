"""The Gemma3 vision port: the shared SigLIP tower (models/siglip) and Gemma3's multi-modal projector."""
