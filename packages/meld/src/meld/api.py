"""Public Python API of meld (the only module other systems may import)."""

from __future__ import annotations

from meld import __version__

__all__ = ["__version__"]
