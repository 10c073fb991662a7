"""The numpy-free pieces of a search result (§9.6): warnings, hit records and the
operator-word warning, shared by the engine and the cold sqlite CLI path
(:mod:`pairofcleats.search.lite`), so both shape hits identically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from groundwork import jsonio

from pairofcleats.search.query import Node, operator_words

__all__ = [
    "DOC_MAX",
    "SearchWarning",
    "chunk_from_row",
    "exported",
    "hit_record",
    "operator_word_warning",
]

DOC_MAX = 500


@dataclass(frozen=True, slots=True)
class SearchWarning:
    code: str
    message: str
    mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.mode is not None:
            out["mode"] = self.mode
        return out


def exported(chunk: Mapping[str, Any]) -> bool:
    meta = chunk.get("metaV2") or {}
    mods = meta.get("modifiers") if isinstance(meta, Mapping) else None
    return bool(mods.get("exported")) if isinstance(mods, Mapping) else False


def hit_record(chunk: Mapping[str, Any], doc: int) -> dict[str, Any]:
    meta = chunk.get("metaV2") or {}
    doc_text = meta.get("doc") if isinstance(meta, Mapping) else None
    return {
        "id": doc,
        "chunkId": meta.get("chunkId"),
        "chunkUid": meta.get("chunkUid"),
        "file": chunk.get("file"),
        "start": chunk.get("start"),
        "end": chunk.get("end"),
        "startLine": chunk.get("startLine"),
        "endLine": chunk.get("endLine"),
        "ext": chunk.get("ext"),
        "lang": chunk.get("lang"),
        "kind": chunk.get("kind"),
        "name": chunk.get("name"),
        "headline": chunk.get("headline"),
        "signature": meta.get("signature"),
        "doc": doc_text[:DOC_MAX] if isinstance(doc_text, str) else doc_text,
        "metaV2": meta,
    }


def operator_word_warning(ast: Node, mode: str, warnings: list[SearchWarning]) -> None:
    """Name the operator words of a query that found nothing (``QUERY_OPERATOR_WORDS``).

    Operator words are case-insensitive and explicit operators never relax (§9.1), so in
    ``keep a value between a low and a high bound`` the ``and`` demands both neighbours in
    one chunk; the warning says so and how to search the word instead.
    """
    words = operator_words(ast)
    if not words:
        return
    listed = ", ".join(f"{w!r} at position {p}" for w, p in words)
    warnings.append(
        SearchWarning(
            "QUERY_OPERATOR_WORDS",
            f"no hits: {listed} read as an operator (operator words are case-insensitive "
            "and explicit operators never relax); drop it to rank the other words, or quote "
            'it ("and") to require the word itself',
            mode,
        )
    )


def chunk_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of an ``index-<mode>.db`` ``chunks`` table (``SELECT *``) as a chunk record."""
    (cid, _chunk_id, _uid, file, start, end, sl, el, ext, lang, kind, name, _sig, head,
     weight, meta_json, file_id) = row  # fmt: skip
    meta = jsonio.loads(meta_json) if meta_json else {}
    return {
        "id": int(cid),
        "fileId": file_id,
        "file": file,
        "ext": ext,
        "lang": lang,
        "start": start,
        "end": end,
        "startLine": sl,
        "endLine": el,
        "kind": kind,
        "name": name,
        "headline": head,
        "weight": weight,
        "metaV2": meta,
    }
