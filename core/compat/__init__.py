"""Run existing TTNN programs and test suites on the simulator, unchanged (`ttport exec -- CMD ...`).

- `hook`: an import hook that makes `import ttnn` / `import ttnn.X` / `import tt_lib...` resolve to the
  simulator (ttport.sim.ttnn, ttport.sim.tt_lib), whether or not real ttnn is installed.
- `site/sitecustomize.py`: installs the hook at interpreter start-up; `ttport exec` prepends that folder to
  PYTHONPATH so every Python process of the command (and its children) gets it, without touching the program.
- `pytest_plugin`: the fixtures tt-metal's root conftest.py gives model tests (`device`, `mesh_device`,
  `device_params`, `reset_seeds`, ...), loaded by `ttport exec` through PYTEST_PLUGINS.

Only `core.*` is imported from this project, so a program's own top-level `models` package is left alone.
"""
