"""The platform stand-ins, found by discovery: one module (or package) a platform.

The rule: every module or package directly in this package that exports ``STANDIN`` (a
:class:`StandIn` subclass) is a stand-in, and is named after the first platform it
serves. The rest (``base``, ``graph_common``) are shared machinery. So adding a platform
is adding ``standins/<platform>.py``; the server, the knobs' ENDPOINTS, the accounts'
PLATFORMS and the env() settings all come from what is found here. Each stand-in's module
docstring lists its URLs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from studio_publish.sandbox.standins.base import StandIn

__all__ = ["STANDINS", "StandIn", "discover"]


def discover(path: Iterable[str], package: str) -> tuple[type[StandIn], ...]:
    """The stand-ins in the modules of ``package`` (found on ``path``), by module name."""
    found: list[type[StandIn]] = []
    served: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda info: info.name):
        module = importlib.import_module(f"{package}.{info.name}")
        standin = getattr(module, "STANDIN", None)
        if standin is None:
            continue
        if not (isinstance(standin, type) and issubclass(standin, StandIn)):
            raise TypeError(f"{module.__name__}.STANDIN is not a StandIn subclass")
        if standin.platforms[:1] != (info.name,):
            raise ValueError(f"{module.__name__} must be named after its platform")
        for platform in standin.platforms:
            if platform in served:
                raise ValueError(f"{platform} is served by {served[platform]} and {info.name}")
            served[platform] = info.name
        found.append(standin)
    return tuple(found)


STANDINS = discover(__path__, __name__)
