import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
# The tests compile hundreds of small programs and run each briefly: most of their time is XLA's compilation,
# and most of that is LLVM optimising the generated machine code. The tests run it unoptimised (XLA's own passes —
# fusion, layout, the programs' operations — are the same; LLVM's -O0 only leaves the instructions as emitted):
# the suite then takes ~25 % less time. The CLI, the benchmarks and a user's programs compile at the default
# level. A run that sets the level in XLA_FLAGS keeps it.
if "xla_backend_optimization_level" not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] += " --xla_backend_optimization_level=0"
# The product's own process flags (small time loops compiled whole, neurodeploy/xla_flags.py), as the CLI sets them.
from neurodeploy.xla_flags import apply as _apply_xla_flags  # noqa: E402

_apply_xla_flags()
# One persistent compilation cache for the whole run, in a fresh directory that the run deletes at its end
# (pytest_sessionfinish): the test processes (pytest-xdist's workers inherit the variable from the process
# that starts them), the CLI runs and the Ray workers load what another one compiled instead of compiling it
# again; the cached executable is the one compiled, so the numbers are the same to the bit
# (test_compile_cache.py). No earlier run's programs are ever read.
if "NEURODEPLOY_TEST_XLA_CACHE" not in os.environ:
    import tempfile

    os.environ["NEURODEPLOY_TEST_XLA_CACHE"] = tempfile.mkdtemp(prefix="neurodeploy-tests-xla-")
    _OWN_CACHE = True
else:
    _OWN_CACHE = False
os.environ["NEURODEPLOY_CACHE_DIR"] = os.environ["NEURODEPLOY_TEST_XLA_CACHE"]
from neurodeploy import compile_cache  # noqa: E402

compile_cache.enable()

import pytest  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    """The process that made the run's cache directory deletes it."""
    if _OWN_CACHE:
        import shutil

        shutil.rmtree(os.environ["NEURODEPLOY_TEST_XLA_CACHE"], ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """After each test module, JAX's compiled programs are dropped if the worker holds more than 40 % of the
    operating system's memory-mapping cap (:mod:`neurodeploy.compiled_programs`): a worker runs hundreds of
    modules, and each compiles programs of its own."""
    yield
    from neurodeploy.compiled_programs import release_if_crowded

    release_if_crowded(0.4)          # a margin: one module may add ~15 000 mappings


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
