"""pairofcleats: a local-first code and prose search index for coding agents."""

__version__ = "0.1.0"
