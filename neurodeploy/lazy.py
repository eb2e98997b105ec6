"""Lazy package exports: names that load their module on first use, so that importing a package stays light
(``import neurodeploy`` imports neither jax nor samna; ``neurodeploy.device.physics`` does not import jax)."""

from __future__ import annotations

import importlib
import sys
import types


class _LazyPackage(types.ModuleType):
    """A package whose exported names win over its submodules of the same name: importing the submodule
    ``neurodeploy.sim.simulate`` must not rebind the package attribute ``simulate`` (the function) to it."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_lazy_exports", {}):
            return      # the attribute stays (or becomes, on first use) the exported object
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: dict[str, str]) -> list[str]:
    """Make ``package`` (a module name) export ``exports``: name → submodule (relative to the package) that
    defines it, imported on first access. Returns the sorted names (for ``__all__``)."""
    mod = sys.modules[package]

    def __getattr__(name: str):
        sub = exports.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        mod.__dict__[name] = value
        return value

    def __dir__():
        return sorted(set(mod.__dict__) | set(exports))

    mod.__dict__.update(_lazy_exports=dict(exports), __getattr__=__getattr__, __dir__=__dir__)
    mod.__class__ = _LazyPackage
    return sorted(exports)
