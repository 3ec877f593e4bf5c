"""The events app's one ninja Router; each topic module adds its operations to it."""

from ninja import Router

router = Router()

from . import purchases, users  # noqa: E402, F401 - operations register on import
