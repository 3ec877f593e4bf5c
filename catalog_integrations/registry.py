"""The integrations this process offers, found once at start-up.

`discover()` (called from the app's `ready()`) scans the sub-packages of
`catalog_integrations` plus the dotted package paths in `settings.EXTRA_INTEGRATIONS`.
Each package's `integration.py` holds one `BaseIntegration` subclass. Packages with an
`api.py` get its `router` mounted on the API at `/api/v1/integrations/<key>/` by
`mount_routers()`, which `config.api` calls before the API's URLs are built (routers
import the API's error helpers, so they are imported there rather than in `ready()`).

Nothing outside an integration package imports it: the rest of the product goes
through `get_integration()` and friends.
"""

import inspect
import logging
import pkgutil
from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import BaseIntegration

logger = logging.getLogger(__name__)

_integrations: dict[str, BaseIntegration] = {}
_router_modules: dict[str, str] = {}
_mounted_on: set[int] = set()
_discovered = False


def _packages() -> list[str]:
    import catalog_integrations

    found = [
        f"catalog_integrations.{info.name}"
        for info in pkgutil.iter_modules(catalog_integrations.__path__)
        if info.ispkg and info.name not in ("migrations", "management", "templates")
    ]
    return sorted(found) + list(getattr(settings, "EXTRA_INTEGRATIONS", []))


def _integration_class(package: str) -> type[BaseIntegration] | None:
    if find_spec(f"{package}.integration") is None:
        return None
    module = import_module(f"{package}.integration")
    classes = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseIntegration)
        and value is not BaseIntegration
        and value.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise ImproperlyConfigured(
            f"{package}.integration must define exactly one BaseIntegration subclass."
        )
    return classes[0]


def discover() -> None:
    """Find every integration package once; later calls do nothing."""
    global _discovered
    if _discovered:
        return
    for package in _packages():
        cls = _integration_class(package)
        if cls is None:
            continue
        if cls.key in _integrations:
            raise ImproperlyConfigured(f"Two integrations use the key '{cls.key}'.")
        integration = cls()
        integration.package = package
        _integrations[cls.key] = integration
        if find_spec(f"{package}.api") is not None:
            _router_modules[cls.key] = f"{package}.api"
    _discovered = True
    logger.debug("integrations_discovered", extra={"keys": sorted(_integrations)})


def mount_routers(api) -> None:
    """Mount each integration's router on `api` under `integrations/<key>/`, once."""
    discover()
    if id(api) in _mounted_on:
        return
    for key, module_path in sorted(_router_modules.items()):
        router = getattr(import_module(module_path), "router", None)
        if router is None:
            continue
        api.add_router(f"/integrations/{key}/", router, tags=[_integrations[key].name])
    _mounted_on.add(id(api))


def get_integration(key: str) -> BaseIntegration | None:
    discover()
    return _integrations.get(key)


def integrations() -> list[BaseIntegration]:
    """Every integration: sources first, then destinations, each by name."""
    discover()
    return sorted(_integrations.values(), key=lambda i: (not i.is_source, i.name.lower()))


def sources() -> list[BaseIntegration]:
    return [i for i in integrations() if i.is_source]


def destinations() -> list[BaseIntegration]:
    return [i for i in integrations() if i.is_destination]


def has_router(key: str) -> bool:
    discover()
    return key in _router_modules
