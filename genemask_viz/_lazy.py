"""Lazy package exports (PEP 562): ``from genemask_viz.training import X`` imports only the
submodule that defines ``X``, so light commands do not pay for torch and transformers.

Imports nothing of ours, so any package may use it.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, list[str]]):
    """``(__all__, __getattr__)`` for ``package`` from ``{submodule: [names]}``."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return sorted(where), __getattr__
