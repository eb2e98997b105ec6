"""Yield studies: a deployment's fidelity over many emulated boards, cut into units that survive failures.

- :mod:`.run` — :func:`run_study`, the manifest, the summary;
- :mod:`.units` — one unit: boards drawn from their own seeds, their metrics;
- :mod:`.engines` — where units run (in this process by default);
- :mod:`.stats` — exact binomial (Clopper–Pearson) intervals.
"""
