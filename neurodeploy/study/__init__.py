"""Yield studies and training sweeps: a deployment's fidelity over many emulated boards (cut into units that
survive failures), and which training settings give the best yield.

- :mod:`.run` — :func:`run_study`, the manifest, the summary;
- :mod:`.units` — one unit: boards drawn from their own seeds, their metrics;
- :mod:`.engines` — where units run (in this process by default);
- :mod:`.stats` — exact binomial (Clopper–Pearson) intervals;
- :mod:`.sweep` — training runs over a grid, each deployed and scored by its yield (:mod:`.trainrun` one run,
  :mod:`.tune` the runs as Ray Tune trials).
"""
