"""The platform layer: one package per platform (``instagram/``, ``facebook/``, ...), each
declaring its spec (spec.py) and holding its client; ``registry.py`` lists them.

Shared by the clients: ``base.py`` (the engine-facing interface and its error decisions),
``transport.py`` (HTTP sends that classify failures), ``media.py`` (reading media the tool
uploads itself), ``polling.py`` and ``clock.py``; ``graph/`` is Meta's Graph API client,
used by every Meta platform.
"""
