"""Languages and chunkers (§4): the registry, tree-sitter, prose and fallback chunkers.

``chunk_file`` is the one entry point the build calls; grammars load lazily.
"""

from __future__ import annotations

from pairofcleats.lang.dispatch import chunk_file
from pairofcleats.lang.model import ChunkDraft, ChunkingLimits, FileChunks

__all__ = ["ChunkDraft", "ChunkingLimits", "FileChunks", "chunk_file"]
