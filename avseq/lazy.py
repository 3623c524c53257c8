"""Packages whose public names are imported on first use.

``avseq.pipeline``, ``avseq.models``, ``avseq.bundles``, ``avseq.transforms`` and
``avseq.vocoders`` export names from modules that import torch; loading and planning a pipeline
use only their light modules, so that ``avseq validate`` is quick and a run's decode workers
start before torch loads (:mod:`avseq.pipeline.executor`).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class LazyPackage(types.ModuleType):
    """A package module whose ``_exports`` (name -> module) are imported on first access."""

    _exports: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        exports = self.__dict__.get("_exports", {})
        if name not in exports:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__.get("_exports", {})})

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing a submodule binds it on its package. Where the package exports a function
        # of the same name from it (avseq.vocoders.griffin_lim), the function keeps the name,
        # as it did when the package imported it eagerly.
        exports = self.__dict__.get("_exports", {})
        if isinstance(value, types.ModuleType) and exports.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_package(name: str, exports: dict[str, str]) -> list[str]:
    """Make the package ``name`` import each of ``exports`` (name -> module) on first access;
    returns the sorted names, for ``__all__``."""
    module = sys.modules[name]
    module.__class__ = LazyPackage
    module._exports = dict(exports)
    return sorted(exports)
