"""Public Python API of pairofcleats (the only module other systems may import)."""

from __future__ import annotations

from pairofcleats import __version__

__all__ = ["__version__"]
