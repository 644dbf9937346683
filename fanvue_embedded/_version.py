"""The package version, in a module of its own so that low layers (``_http``'s User-Agent) can
read it without importing the package ``__init__`` (which imports every layer)."""

__version__ = "0.1.0"
