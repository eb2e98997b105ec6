"""Verification: does a deployed configuration still do what the trained network does?

* :mod:`.run` — ``neurodeploy verify``: the float reference, its mismatch draws and the deployed boards on the
  same inputs, compared in the read-out window, with PASS/FAIL against a :class:`~.run.Tolerance`;
* :mod:`.boards` — the emulated boards verify runs (the nominal chip with mismatch σ, or a measured chip);
* :mod:`.stages` — which deployment stage loses a failing gate (quantization, mismatch, delay mismatch);
* :mod:`.metrics` — the comparisons themselves (rate correlation, relative rate error, accuracy), plain numpy.
"""

from .run import (GATES, Tolerance, VerifyError, check_labels, format_verify, load_labels,  # noqa: F401
                  verify)

__all__ = ["GATES", "Tolerance", "VerifyError", "check_labels", "format_verify", "load_labels", "verify"]
