"""Metadata filters (§9.3) evaluated into one numpy boolean mask before ranking.

Columns are built once per loaded index: per-chunk string arrays (ext, lang, kind, name,
signature, returns), flattened ``(value, chunk)`` arrays for list attributes (params, calls,
usages), and per-file arrays (path, author, modified time, imports) broadcast to chunks through
``file_ids``. A filter is then a few vectorised comparisons; no Python set of ids is ever built
(upstream's R3). Repeated values of one flag OR; different flags AND; matching ignores case
unless ``case`` is set. A chunk without a language is ``unknown`` (P4).
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from pairofcleats.errors import InvalidRequest

__all__ = [
    "ChunkColumns",
    "Filters",
    "build_columns",
    "file_contains_mask",
    "filter_mask",
    "parse_filter_string",
]

BoolMask = npt.NDArray[np.bool_]
_FILTER_KEYS = {"file": "file", "path": "path", "lang": "lang", "ext": "ext", "type": "kind"}
_FILTER_KEYS["kind"] = "kind"


@dataclass(frozen=True, slots=True)
class Filters:
    """Every §9.3 filter; each tuple holds the repeated values of one flag."""

    path: tuple[str, ...] = ()
    file: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    ext: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    signature: tuple[str, ...] = ()
    param: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    modified_since: str | None = None
    case: bool = False

    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("case",))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def parse_filter_string(text: str) -> dict[str, list[str]]:
    """``--filter "k:v …"`` → ``{flag: [values]}`` (keys file, path, lang, ext, type, kind)."""
    out: dict[str, list[str]] = {}
    for item in text.split():
        key, sep, value = item.partition(":")
        if not sep or not value:
            raise InvalidRequest(
                f"--filter item {item!r} is not key:value",
                hint="use e.g. --filter 'lang:python ext:.py'",
            )
        flag = _FILTER_KEYS.get(key.lower())
        if flag is None:
            raise InvalidRequest(
                f"--filter key {key!r} is not supported",
                hint="use one of file, path, lang, ext, type, kind",
            )
        out.setdefault(flag, []).append(value)
    return out


@dataclass(frozen=True, slots=True)
class _ListColumn:
    values: npt.NDArray[np.str_]
    lower: npt.NDArray[np.str_]
    owners: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ChunkColumns:
    """Columnar chunk and file attributes for vectorised filtering."""

    count: int
    file_ids: npt.NDArray[np.int64]
    files: npt.NDArray[np.str_]
    files_lower: npt.NDArray[np.str_]
    ext: npt.NDArray[np.str_]
    lang: npt.NDArray[np.str_]
    kind: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    signature: npt.NDArray[np.str_]
    returns: npt.NDArray[np.str_]
    params: _ListColumn
    calls: _ListColumn
    uses: _ListColumn
    file_author: npt.NDArray[np.str_]
    file_modified: npt.NDArray[np.float64]  # epoch seconds, NaN when unknown
    file_imports: _ListColumn  # owners are file ids
    file_grams: Mapping[str, Sequence[int]]
    by_call: Mapping[str, Sequence[int]]  # filter_index.byCall (full text and base names)
    by_use: Mapping[str, Sequence[int]]


def _strs(values: Iterable[Any]) -> npt.NDArray[np.str_]:
    arr = np.asarray(["" if v is None else str(v) for v in values], dtype=np.str_)
    return arr if arr.size else np.asarray([], dtype="<U1")


def _list_column(rows: Iterable[tuple[int, Iterable[Any]]]) -> _ListColumn:
    vals: list[str] = []
    owners: list[int] = []
    for owner, items in rows:
        for item in items:
            if item is None:
                continue
            vals.append(str(item))
            owners.append(owner)
    v = _strs(vals)
    return _ListColumn(v, np.char.lower(v), np.asarray(owners, dtype=np.int64))


def _epoch_seconds(value: Any) -> float:
    if value is None or value == "":
        return float("nan")
    if isinstance(value, int | float):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v  # milliseconds vs seconds
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return float("nan")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _meta(chunk: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = chunk.get("metaV2")
    return meta if isinstance(meta, Mapping) else {}


def build_columns(
    chunks: Sequence[Mapping[str, Any]],
    file_meta: Sequence[Mapping[str, Any]],
    file_relations: Sequence[Mapping[str, Any]],
    filter_index: Mapping[str, Any] | None = None,
) -> ChunkColumns:
    """Columns for ``chunks`` (id order) and their files."""
    file_names: dict[str, int] = {}
    for fm in file_meta:
        file_names.setdefault(str(fm.get("file", "")), len(file_names))
    for c in chunks:
        file_names.setdefault(str(c.get("file", "")), len(file_names))
    files = list(file_names)
    file_ids = np.asarray([file_names[str(c.get("file", ""))] for c in chunks], dtype=np.int64)
    by_file_meta = {str(fm.get("file", "")): fm for fm in file_meta}
    by_file_rel = {str(fr.get("file", "")): fr for fr in file_relations}
    metas = [_meta(c) for c in chunks]
    returns = []
    for m in metas:
        r = m.get("returns")
        returns.append(r if isinstance(r, str) else ("" if r is None else str(r)))
    params = _list_column(
        (i, [p.get("name") if isinstance(p, Mapping) else p for p in (m.get("params") or [])])
        for i, m in enumerate(metas)
    )
    fidx = filter_index or {}
    by_call = fidx.get("byCall") if isinstance(fidx.get("byCall"), Mapping) else None
    by_use = fidx.get("byUse") if isinstance(fidx.get("byUse"), Mapping) else None
    relations = [m.get("codeRelations") or {} for m in metas]
    # With the filter index's maps, calls/uses are matched over its distinct keys; the
    # flattened (value, chunk) columns are only built for indexes without them.
    calls = _list_column(
        () if by_call is not None else ((i, r.get("calls") or []) for i, r in enumerate(relations))
    )
    uses = _list_column(
        () if by_use is not None else ((i, r.get("usages") or []) for i, r in enumerate(relations))
    )
    imports = _list_column(
        (fid, (by_file_rel.get(f) or {}).get("imports") or []) for fid, f in enumerate(files)
    )
    modified = np.asarray(
        [
            _epoch_seconds(
                (by_file_meta.get(f) or {}).get("lastModified")
                or (by_file_meta.get(f) or {}).get("mtimeMs")
            )
            for f in files
        ],
        dtype=np.float64,
    )
    grams = (filter_index or {}).get("fileChargrams")
    files_arr = _strs(files)
    return ChunkColumns(
        count=len(chunks),
        file_ids=file_ids,
        files=files_arr,
        files_lower=np.char.lower(files_arr),
        ext=np.char.lower(_strs(c.get("ext") for c in chunks)),
        lang=_strs((c.get("lang") or "unknown") for c in chunks),
        kind=_strs(c.get("kind") for c in chunks),
        name=_strs(c.get("name") for c in chunks),
        signature=_strs(m.get("signature") for m in metas),
        returns=_strs(returns),
        params=params,
        calls=calls,
        uses=uses,
        file_author=_strs((by_file_meta.get(f) or {}).get("lastAuthor") for f in files),
        file_modified=modified,
        file_imports=imports,
        file_grams=grams if isinstance(grams, Mapping) else {},
        by_call=by_call or {},
        by_use=by_use or {},
    )


def _fold(arr: npt.NDArray[np.str_], case: bool) -> npt.NDArray[np.str_]:
    return arr if case else np.char.lower(arr)


def _contains_any(arr: npt.NDArray[np.str_], needles: Sequence[str], case: bool) -> BoolMask:
    hay = _fold(arr, case)
    out = np.zeros(arr.shape[0], dtype=np.bool_)
    for needle in needles:
        n = needle if case else needle.lower()
        out |= np.char.find(hay, n) >= 0
    return out


def _equals_any(arr: npt.NDArray[np.str_], needles: Sequence[str], case: bool) -> BoolMask:
    hay = _fold(arr, case)
    wanted = [n if case else n.lower() for n in needles]
    return np.isin(hay, np.asarray(wanted, dtype=np.str_))


def _list_mask(
    col: _ListColumn, size: int, needles: Sequence[str], case: bool, *, exact: bool, base: bool
) -> BoolMask:
    out = np.zeros(size, dtype=np.bool_)
    if col.values.size == 0:
        return out
    hay = col.values if case else col.lower
    if base:
        # compare the base name after the last . :: -> as well as the full text
        bases = np.asarray([re.split(r"\.|::|->", v)[-1] for v in hay.tolist()], dtype=np.str_)
    for needle in needles:
        n = needle if case else needle.lower()
        hit = (hay == n) if exact else (np.char.find(hay, n) >= 0)
        if base:
            hit |= bases == re.split(r"\.|::|->", n)[-1]
        out[col.owners[hit]] = True
    return out


def _keyed_mask(
    index: Mapping[str, Sequence[int]], size: int, needles: Sequence[str], case: bool
) -> BoolMask:
    """Chunks listed under a key equal to a needle or to its base name (after the last
    ``.``/``::``/``->``); vectorised over the map's distinct keys."""
    keys = list(index)
    arr = _strs(keys)
    hay = arr if case else np.char.lower(arr)
    bases = np.asarray([re.split(r"\.|::|->", k)[-1] for k in hay.tolist()], dtype=np.str_)
    out = np.zeros(size, dtype=np.bool_)
    for needle in needles:
        n = needle if case else needle.lower()
        hit = (hay == n) | (bases == re.split(r"\.|::|->", n)[-1]) if keys else []
        for k in np.flatnonzero(hit):
            ids = index[keys[int(k)]]
            if ids:
                out[np.asarray(ids, dtype=np.int64)] = True
    return out


def _file_substring(cols: ChunkColumns, needle: str, case: bool) -> BoolMask:
    """Files whose path contains ``needle``: 3-gram prefilter (no sentinels, so every
    substring of ≥ 3 characters is found, across separators too), then an exact check."""
    nfiles = cols.files.shape[0]
    low = needle.lower()
    cand = np.ones(nfiles, dtype=np.bool_)
    if cols.file_grams and len(low) >= 3:
        for i in range(len(low) - 2):
            ids = cols.file_grams.get(low[i : i + 3])
            gram_mask = np.zeros(nfiles, dtype=np.bool_)
            if ids:
                gram_mask[np.asarray(ids, dtype=np.int64)] = True
            cand &= gram_mask
    hay = cols.files if case else cols.files_lower
    exact = np.char.find(hay, needle if case else low) >= 0
    return cand & exact


def file_contains_mask(cols: ChunkColumns, needle: str, *, segment_start: bool = False) -> BoolMask:
    """Chunks whose file path contains ``needle`` (case-insensitive), for path-like terms;
    with ``segment_start`` only where no letter or digit precedes it (``core/schemas`` in
    ``v4/core/schemas.ts``, ``transports/default`` in ``_transports/default.py``)."""
    files = _file_substring(cols, needle, False)
    if segment_start and files.any():
        rx = re.compile(r"(?<![a-z0-9])" + re.escape(needle.lower()))
        hits = np.flatnonzero(files)
        keep = [bool(rx.search(p)) for p in cols.files_lower[hits].tolist()]
        files[hits[~np.asarray(keep, dtype=np.bool_)]] = False
    return files[cols.file_ids] if cols.file_ids.size else np.zeros(0, dtype=np.bool_)


def _file_mask(cols: ChunkColumns, values: Sequence[str], case: bool) -> BoolMask:
    nfiles = cols.files.shape[0]
    out = np.zeros(nfiles, dtype=np.bool_)
    for value in values:
        if len(value) >= 2 and value.startswith("/") and value.endswith("/"):
            try:
                rx = re.compile(value[1:-1], 0 if case else re.IGNORECASE)
            except re.error as err:
                raise InvalidRequest(f"--file regex {value!r} is invalid: {err}") from err
            out |= np.asarray([bool(rx.search(f)) for f in cols.files.tolist()], dtype=np.bool_)
        else:
            out |= _file_substring(cols, value, case)
    return out


def _path_mask(cols: ChunkColumns, values: Sequence[str], case: bool) -> BoolMask:
    hay = cols.files if case else cols.files_lower
    out = np.zeros(hay.shape[0], dtype=np.bool_)
    for value in values:
        v = value if case else value.lower()
        v = v[2:] if v.startswith("./") else v
        if any(ch in v for ch in "*?["):
            rx = re.compile(fnmatch.translate(v))
            out |= np.asarray([bool(rx.match(f)) for f in hay.tolist()], dtype=np.bool_)
        else:
            out |= np.char.startswith(hay, v)
    return out


def _since_seconds(value: str, now: float) -> float:
    try:
        days = float(value)
    except ValueError:
        ts = _epoch_seconds(value)
        if ts != ts:  # NaN
            raise InvalidRequest(
                f"--modified-since {value!r} is neither a number of days nor an ISO date",
                hint="use e.g. --modified-since 7 or --modified-since 2024-01-31",
            ) from None
        return ts
    return now - days * 86400.0


def filter_mask(
    cols: ChunkColumns, filters: Filters, *, now: float | None = None
) -> BoolMask | None:
    """The conjunction of all active filters (None when no filter is set)."""
    if not filters.active():
        return None
    case = filters.case
    mask = np.ones(cols.count, dtype=np.bool_)
    file_ok = np.ones(cols.files.shape[0], dtype=np.bool_)
    if filters.path:
        file_ok &= _path_mask(cols, filters.path, case)
    if filters.file:
        file_ok &= _file_mask(cols, filters.file, case)
    if filters.author:
        file_ok &= _contains_any(cols.file_author, filters.author, case)
    if filters.imports:
        file_ok &= _list_mask(
            cols.file_imports, cols.files.shape[0], filters.imports, case, exact=False, base=False
        )
    if filters.modified_since is not None:
        since = _since_seconds(filters.modified_since, time.time() if now is None else now)
        file_ok &= np.nan_to_num(cols.file_modified, nan=-np.inf) >= since
    if not file_ok.all():
        mask &= file_ok[cols.file_ids]
    if filters.lang:
        # a language id, or one of its extensions: --lang py (ts, md) means python
        # (typescript, markdown) instead of an empty result with no word of why
        exts = ["." + v.lstrip(".").lower() for v in filters.lang if v.lstrip(".")]
        mask &= _equals_any(cols.lang, filters.lang, False) | _equals_any(cols.ext, exts, False)
    if filters.ext:
        exts = [e.lower() if e.startswith(".") else "." + e.lower() for e in filters.ext]
        mask &= _equals_any(cols.ext, exts, False)
    if filters.kind:
        mask &= _contains_any(cols.kind, filters.kind, False)
    if filters.name:
        mask &= _contains_any(cols.name, filters.name, case)
    if filters.signature:
        mask &= _contains_any(cols.signature, filters.signature, case)
    if filters.returns:
        mask &= _contains_any(cols.returns, filters.returns, case)
    if filters.param:
        mask &= _list_mask(cols.params, cols.count, filters.param, case, exact=True, base=False)
    if filters.calls:
        mask &= (
            _keyed_mask(cols.by_call, cols.count, filters.calls, case)
            if cols.by_call
            else _list_mask(cols.calls, cols.count, filters.calls, case, exact=True, base=True)
        )
    if filters.uses:
        mask &= (
            _keyed_mask(cols.by_use, cols.count, filters.uses, case)
            if cols.by_use
            else _list_mask(cols.uses, cols.count, filters.uses, case, exact=True, base=True)
        )
    return mask
