"""ttport core: backend selection, the ttnn host simulator, porting patterns, plugin registry, runner."""
