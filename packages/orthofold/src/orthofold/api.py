"""Public Python API of orthofold (the only module other systems may import)."""

from __future__ import annotations

from orthofold import __version__

__all__ = ["__version__"]
