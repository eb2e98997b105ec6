import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
os.environ["NEURODEPLOY_CACHE_DIR"] = "off"   # the CLI's compilation cache: tested on its own (test_compile_cache.py)

import pytest


@pytest.fixture(scope="session")
def profile():
    from neurodeploy.device.profile import load_profile

    return load_profile("dynapse2")


@pytest.fixture
def run_cli():
    """Run the CLI through its real entry point (main), returning (exit_code, stdout, stderr)."""
    from neurodeploy.cli import main

    def _run(*args):
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return code, out.getvalue(), err.getvalue()

    return _run
