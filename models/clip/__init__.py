"""CLIP text encoder pair (enc1 CLIP-L, enc2 CLIP-G) ported to TTNN; registered as the `clip` port."""
