"""One mode's index as search sees it, read through its pieces manifest (§1, §5, §9.5).

Pieces are found only through the manifest (the build's ``IndexReader``); large pieces are
parsed on first use, and posting lists become numpy arrays per token on demand, so a cold
query pays only for what it touches. ``signature`` (the build's ``index_signature``, roadmap
§1.4) keys every cache: any change to any listed piece changes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from groundwork import jsonio

from pairofcleats.artifacts.reader import IndexReader, index_signature
from pairofcleats.embeddings.quantize import dequantize
from pairofcleats.errors import IndexInvalid
from pairofcleats.search.rank import FieldStats, Postings

__all__ = ["DenseVectors", "ModeIndex", "PostingsTable"]

T = TypeVar("T")


class PostingsTable:
    """A vocabulary and its posting lists, with length statistics.

    ``postings[id]`` stays the parsed ``[[docId, tf], …]`` list until a query asks for that
    token; then it becomes two int64 arrays (cached).
    """

    def __init__(
        self,
        vocab: list[str],
        postings: list[Any],
        stats: FieldStats | None,
        *,
        with_tf: bool = True,
    ) -> None:
        self.vocab = vocab
        self._ids: dict[str, int] | None = None
        self._raw = postings
        self._cache: dict[int, Postings] = {}
        self.stats = stats
        self.with_tf = with_tf
        self._lock = threading.Lock()

    @property
    def ids(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {tok: i for i, tok in enumerate(self.vocab)}
        return self._ids

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def df(self, token: str) -> int:
        tid = self.ids.get(token)
        return 0 if tid is None else len(self._raw[tid])

    def lookup(self, token: str) -> Postings | None:
        """Posting list of ``token`` (None when absent)."""
        tid = self.ids.get(token)
        if tid is None:
            return None
        hit = self._cache.get(tid)
        if hit is not None:
            return hit
        raw = self._raw[tid]
        if self.with_tf:
            arr = np.asarray(raw, dtype=np.int64).reshape(-1, 2)
            built = Postings(np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]))
        else:
            ids = np.asarray(raw, dtype=np.int64).reshape(-1)
            built = Postings(ids, np.ones(ids.size, dtype=np.int64))
        with self._lock:
            self._cache[tid] = built
        return built


def _stats(obj: Mapping[str, Any]) -> FieldStats:
    lengths = np.asarray(obj.get("docLengths", []), dtype=np.float64)
    total = int(obj.get("totalDocs", lengths.size))
    avg = float(obj.get("avgDocLen", float(lengths.mean()) if lengths.size else 0.0))
    return FieldStats(lengths, avg, total)


@dataclass(frozen=True, slots=True)
class DenseVectors:
    """Unit float32 rows of one variant plus the model that made them."""

    variant: str
    model: str
    dims: int
    matrix: npt.NDArray[np.float32]


class ModeIndex:
    """Everything one ``index-<mode>/`` holds, parsed lazily and thread-safely."""

    def __init__(self, mode: str, index_dir: Path) -> None:
        self.mode = mode
        self.dir = index_dir
        self.reader = IndexReader(index_dir)
        state_path = index_dir / "index_state.json"
        try:
            state = jsonio.loads(state_path.read_bytes()) if state_path.exists() else {}
        except (OSError, ValueError) as err:
            raise IndexInvalid(f"cannot read {state_path}: {err}") from err
        self.state: dict[str, Any] = state if isinstance(state, dict) else {}
        self.signature = index_signature(index_dir)
        self._values: dict[str, Any] = {}
        self._lock = threading.RLock()

    # -- pieces ---------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return self.reader.has(name)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Compute ``build()`` once per loaded index (derived columns, caches)."""
        with self._lock:
            if key not in self._values:
                self._values[key] = build()
            value: T = self._values[key]
            return value

    def _json(self, name: str) -> Any:
        return self.memo("json:" + name, lambda: self.reader.read_json(name))

    def _jsonl(self, name: str) -> list[Any]:
        return self.memo("jsonl:" + name, lambda: list(self.reader.iter_jsonl(name)))

    # -- chunk metadata -------------------------------------------------------------------
    @property
    def chunks(self) -> list[dict[str, Any]]:
        """``chunk_meta`` records in id order (sharded JSONL parts are joined)."""
        return self.memo("chunks", self.reader.chunk_meta)

    @property
    def count(self) -> int:
        return len(self.chunks)

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        return self.memo(
            "weights",
            lambda: np.asarray(
                [float(c.get("weight", 1.0) or 1.0) for c in self.chunks], dtype=np.float64
            ),
        )

    @property
    def file_meta(self) -> list[dict[str, Any]]:
        return self.memo(
            "file_meta", lambda: list(self._json("file_meta")) if self.has("file_meta") else []
        )

    @property
    def file_relations(self) -> list[dict[str, Any]]:
        return self.memo(
            "file_relations",
            lambda: list(self._json("file_relations")) if self.has("file_relations") else [],
        )

    @property
    def filter_index(self) -> dict[str, Any]:
        return self.memo(
            "filter_index",
            lambda: dict(self._json("filter_index")) if self.has("filter_index") else {},
        )

    # -- postings -------------------------------------------------------------------------
    @property
    def tokens(self) -> PostingsTable:
        def load() -> PostingsTable:
            data = self._json("token_postings")
            return PostingsTable(list(data["vocab"]), data["postings"], _stats(data))

        return self.memo("tokens", load)

    @property
    def fields(self) -> dict[str, PostingsTable]:
        def load() -> dict[str, PostingsTable]:
            if not self.has("field_postings"):
                return {}
            data = self._json("field_postings")
            out: dict[str, PostingsTable] = {}
            for field, obj in dict(data.get("fields", {})).items():
                out[field] = PostingsTable(list(obj["vocab"]), obj["postings"], _stats(obj))
            return out

        return self.memo("fields", load)

    @property
    def field_tokens(self) -> list[dict[str, list[str]]]:
        def load() -> list[dict[str, list[str]]]:
            if not self.has("field_tokens"):
                return []
            rows = self._jsonl("field_tokens")
            out: list[dict[str, list[str]]] = []
            for row in rows:
                streams = row.get("fields", row) if isinstance(row, dict) else {}
                out.append({k: v for k, v in streams.items() if isinstance(v, list)})
            return out

        return self.memo("field_tokens", load)

    @property
    def phrases(self) -> PostingsTable | None:
        def load() -> PostingsTable | None:
            if not self.has("phrase_ngrams"):
                return None
            data = self._json("phrase_ngrams")
            return PostingsTable(list(data["vocab"]), data["postings"], None, with_tf=False)

        return self.memo("phrases", load)

    @property
    def chargrams(self) -> PostingsTable | None:
        def load() -> PostingsTable | None:
            if not self.has("chargram_postings"):
                return None
            data = self._json("chargram_postings")
            return PostingsTable(list(data["vocab"]), data["postings"], None, with_tf=False)

        return self.memo("chargrams", load)

    @property
    def minhash(self) -> npt.NDArray[np.uint32] | None:
        def load() -> npt.NDArray[np.uint32] | None:
            if not self.has("minhash_signatures"):
                return None
            data = self._json("minhash_signatures")
            sigs = data.get("signatures", []) if isinstance(data, dict) else data
            return np.asarray(sigs, dtype=np.uint32).reshape(len(sigs), -1)

        return self.memo("minhash", load)

    @property
    def postings_settings(self) -> dict[str, Any]:
        features = self.state.get("features", {})
        return dict(features.get("postings", {})) if isinstance(features, dict) else {}

    @property
    def fielded(self) -> bool:
        features = self.state.get("features", {})
        if isinstance(features, dict) and "fielded" in features:
            return bool(features["fielded"])
        return bool(self.fields)

    # -- dense ----------------------------------------------------------------------------
    def dense_variants(self) -> tuple[str, ...]:
        names = {"dense_vectors_uint8": "merged"}
        names.update({f"dense_vectors_{v}_uint8": v for v in ("doc", "code")})
        return tuple(v for name, v in names.items() if self.has(name))

    def dense(self, variant: str) -> DenseVectors | None:
        name = "dense_vectors_uint8" if variant == "merged" else f"dense_vectors_{variant}_uint8"
        if not self.has(name):
            return None

        def load() -> DenseVectors:
            meta, raw = self.reader.dense(name)
            matrix = dequantize(
                raw,
                min_val=float(meta.get("minVal", -1.0)),
                scale=float(meta.get("scale", 2 / 255)),
            )
            return DenseVectors(variant, str(meta.get("model", "")), int(meta["dims"]), matrix)

        return self.memo("dense:" + variant, load)

    def hnsw(self) -> Any | None:
        """The usearch HNSW graph over the merged vectors (memory-mapped), if one was built.

        ``usearch`` is imported only here, when a search actually uses the graph.
        """
        if not self.has("dense_vectors_hnsw"):
            return None

        def load() -> Any:
            from usearch.index import Index

            graph = Index.restore(str(self.reader.path("dense_vectors_hnsw")), view=True)
            if graph is None:
                raise IndexInvalid(f"{self.dir.name}/dense_vectors_hnsw cannot be opened")
            return graph

        return self.memo("hnsw", load)
