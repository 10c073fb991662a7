"""Public Python API of spiderweb (the only module other systems may import)."""

from __future__ import annotations

from spiderweb import __version__

__all__ = ["__version__"]
