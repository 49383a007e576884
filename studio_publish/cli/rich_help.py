"""Load typer's help renderer without the two rich modules this CLI's help never uses.

typer renders `--help` with ``typer.rich_utils``, which imports ``rich.markdown`` (with
markdown-it and pygments) for ``rich_markup_mode="markdown"`` and ``rich.traceback`` for
pretty exceptions. This CLI uses the ``"rich"`` markup mode and has pretty exceptions off,
and those two imports were about a quarter of what `studio-publish --help` cost
(bench/startup.py).

While ``typer.rich_utils`` is imported, those two modules (when not loaded already) are
stand-ins: their ``Markdown`` and ``Traceback`` import the real class the first time they are
called or read, so nothing changes should typer use them after all. The stand-ins leave
``sys.modules`` at once, so any later ``import rich.markdown`` gets the real module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# The names typer.rich_utils imports from the modules it does not need for our help.
UNUSED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """A class that is the real one, imported when first used: called, or an attribute read."""

    _module: str

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real(), name)


def load() -> None:
    """Import ``typer.rich_utils`` (once), leaving out UNUSED while it is imported."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {}
    for module, name in UNUSED.items():
        if module not in sys.modules:
            stand_in = types.ModuleType(module, "a stand-in: see studio_publish.cli.rich_help")
            setattr(stand_in, name, _Deferred(name, (), {"_module": module}))
            stand_ins[module] = stand_in
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
