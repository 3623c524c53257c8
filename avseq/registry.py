"""One small generic registry: register (no duplicates), get (errors list choices), list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from avseq.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of components.

    >>> encoders = Registry("frame encoder")
    >>> @encoders.register("tiny")
    ... def make_tiny(): ...
    >>> encoders.get("tiny") is make_tiny
    True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that adds ``obj`` under ``name``; a duplicate name raises ValueError."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        """The component called ``name``.

        An unknown name raises :class:`~avseq.errors.UnknownNameError` (a ConfigError and a
        ValueError) listing the choices: ``unknown stage type 'x'; known: a, b``. Callers
        let it through; a pydantic validator that calls ``get`` reports it at its key path.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):
            choices = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {choices}") from None

    def list(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
