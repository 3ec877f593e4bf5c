"""Fixtures shared by the events tests (each topic keeps its own in a `*_support` module)."""

from .dispatch_support import queue, receiver  # noqa: F401 - fixtures
