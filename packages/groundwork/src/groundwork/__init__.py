"""groundwork: the shared foundation of orthofold, meld, spiderweb and pairofcleats.

Submodules are imported on demand (``from groundwork import jsonio``) so that a
CLI pays only for what it uses. groundwork never prints, never exits and never
reads ``os.environ``: callers pass ``env`` in.
"""

__version__ = "0.1.0"
