"""PI0 (transformers' PI0ForConditionalGeneration) on TTNN: its image path, reusing models/siglip."""
