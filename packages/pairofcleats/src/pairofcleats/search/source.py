"""What ranking needs from a backend: the ``SparseSource`` protocol and its memory version.

The memory and sqlite backends differ only in where posting lists, statistics and chunk rows
come from; planning, constraints, filters, ranking and fusion run on top of this protocol, so
both backends produce identical ids and scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pairofcleats.search.filters import ChunkColumns, build_columns
from pairofcleats.search.index import DenseVectors, ModeIndex
from pairofcleats.search.rank import FieldStats, Postings

__all__ = ["MemorySource", "SparseSource"]

Lookup = Callable[[str], Postings | None]


class SparseSource(Protocol):
    """Read access to one mode's index for the query engine."""

    mode: str
    index: ModeIndex

    @property
    def count(self) -> int: ...

    @property
    def stats(self) -> FieldStats: ...

    def lookup(self, token: str) -> Postings | None: ...

    def df(self, token: str) -> int: ...

    def fields(self) -> Mapping[str, tuple[Lookup, FieldStats]]: ...

    def chargram(self, gram: str) -> Postings | None: ...

    def phrase(self, ngram: str) -> Postings | None: ...

    def field_tokens(self, doc: int) -> dict[str, list[str]]: ...

    def weights(self) -> npt.NDArray[np.float64]: ...

    def weights_of(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """``weights()[ids]``, without reading every chunk's weight when few are asked."""
        ...

    def chunk(self, doc: int) -> dict[str, Any]: ...

    def dense(self, variant: str) -> DenseVectors | None: ...

    def minhash(self) -> npt.NDArray[np.uint32] | None: ...

    def filter_columns(self) -> ChunkColumns: ...


class MemorySource:
    """``SparseSource`` over the JSON artifacts of a :class:`ModeIndex`."""

    name = "memory"

    def __init__(self, index: ModeIndex) -> None:
        self.mode = index.mode
        self.index = index

    @property
    def count(self) -> int:
        return self.index.count

    @property
    def stats(self) -> FieldStats:
        stats = self.index.tokens.stats
        assert stats is not None
        return stats

    def lookup(self, token: str) -> Postings | None:
        return self.index.tokens.lookup(token)

    def df(self, token: str) -> int:
        return self.index.tokens.df(token)

    def fields(self) -> Mapping[str, tuple[Lookup, FieldStats]]:
        out: dict[str, tuple[Lookup, FieldStats]] = {}
        for name, table in self.index.fields.items():
            if table.stats is not None:
                out[name] = (table.lookup, table.stats)
        return out

    def chargram(self, gram: str) -> Postings | None:
        table = self.index.chargrams
        return table.lookup(gram) if table is not None else None

    def phrase(self, ngram: str) -> Postings | None:
        table = self.index.phrases
        return table.lookup(ngram) if table is not None else None

    def field_tokens(self, doc: int) -> dict[str, list[str]]:
        rows = self.index.field_tokens
        return rows[doc] if 0 <= doc < len(rows) else {}

    def weights(self) -> npt.NDArray[np.float64]:
        return self.index.weights

    def weights_of(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return self.index.weights_of(ids)

    def chunk(self, doc: int) -> dict[str, Any]:
        return self.index.chunk(doc)

    def dense(self, variant: str) -> DenseVectors | None:
        return self.index.dense(variant)

    def minhash(self) -> npt.NDArray[np.uint32] | None:
        return self.index.minhash

    def filter_columns(self) -> ChunkColumns:
        """Filter columns over ``chunk_meta``, built once per loaded index (from slim records:
        only the attributes filters read are kept while the columns are built)."""
        index = self.index
        return index.memo(
            "filter-columns",
            lambda: build_columns(
                [_filter_view(c) for c in index.rows],
                index.file_meta,
                index.file_relations,
                index.filter_index,
            ),
        )


_CHUNK_KEYS = ("file", "ext", "lang", "kind", "name")
_META_KEYS = ("returns", "params", "signature")


def _filter_view(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a chunk record :func:`build_columns` reads."""
    meta = chunk.get("metaV2")
    slim: dict[str, Any] = {k: chunk.get(k) for k in _CHUNK_KEYS}
    if isinstance(meta, Mapping):
        rel = meta.get("codeRelations")
        slim["metaV2"] = {k: meta.get(k) for k in _META_KEYS}
        if isinstance(rel, Mapping):
            slim["metaV2"]["codeRelations"] = {
                "calls": rel.get("calls"),
                "usages": rel.get("usages"),
            }
    return slim
