"""Porting patterns shared by the ports: hybrid preprocessing, position embeddings, masks."""
