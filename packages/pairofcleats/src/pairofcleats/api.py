"""Public Python API of pairofcleats (the only module other systems may import).

``search`` returns exactly the JSON object of §9.6; ``Searcher(repo)`` is its warm, reusable
form (the API and MCP servers keep one per repo). The index functions (``build_index``,
``watch_index``, ``validate_index``, ``index_status``, ``config_status``) live in
``pairofcleats.build.api`` and are re-exported here lazily, so importing this module for a
search never loads the build pipeline (tree-sitter, watchfiles).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pairofcleats import __version__
from pairofcleats.errors import InvalidRequest, PairOfCleatsError
from pairofcleats.search.filters import Filters, parse_filter_string
from pairofcleats.search.query import parse_query
from pairofcleats.search.render import compact_result
from pairofcleats.search.searcher import Searcher as _Searcher
from pairofcleats.search.searcher import SearchRequest, resolve_modes

__all__ = [
    "Filters",
    "PairOfCleatsError",
    "SearchRequest",
    "Searcher",
    "__version__",
    "make_filters",
    "run_search",
    "search",
]
# also available, loaded on first use: build_index, watch_index, validate_index,
# index_status, config_status (from pairofcleats.build.api)

_BUILD_API = ("build_index", "watch_index", "validate_index", "index_status", "config_status")
_FILTER_FIELDS = {
    "path": "path",
    "file": "file",
    "lang": "lang",
    "ext": "ext",
    "type": "kind",
    "kind": "kind",
    "name": "name",
    "signature": "signature",
    "param": "param",
    "returns": "returns",
    "calls": "calls",
    "uses": "uses",
    "import": "imports",
    "imports": "imports",
    "author": "author",
}


def __getattr__(name: str) -> Any:
    if name in _BUILD_API:
        build_api = importlib.import_module("pairofcleats.build.api")
        return getattr(build_api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value)
    raise InvalidRequest(f"filter value {value!r} must be a string or a list of strings")


def make_filters(
    values: Mapping[str, Any] | None = None,
    *,
    filter_string: str | None = None,
    modified_since: str | None = None,
    case: bool = False,
) -> Filters:
    """Build :class:`Filters` from flag/JSON names (``type``/``kind``, ``import``, …) plus a
    ``--filter "k:v …"`` string; repeated values OR, different keys AND."""
    acc: dict[str, list[str]] = {}
    for key, value in (values or {}).items():
        if value is None or value == [] or value == ():
            continue
        fname = _FILTER_FIELDS.get(key)
        if fname is None:
            raise InvalidRequest(f"unknown filter {key!r}")
        acc.setdefault(fname, []).extend(_tuple(value))
    if filter_string:
        for fname, vals in parse_filter_string(filter_string).items():
            acc.setdefault(fname, []).extend(vals)
    return Filters(
        **{k: tuple(v) for k, v in acc.items()},
        modified_since=modified_since,
        case=case,
    )


class Searcher(_Searcher):
    """Warm search over one repo (see :class:`pairofcleats.search.searcher.Searcher`).

    This public form reads the process environment when ``env`` is not given, like the build
    API; the search package itself never does.
    """

    def __init__(
        self,
        repo: str | os.PathLike[str] | None = None,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        cache_root: Path | None = None,
    ) -> None:
        super().__init__(
            repo, cwd=cwd, env=dict(os.environ) if env is None else env, cache_root=cache_root
        )


def run_search(searcher: _Searcher, req: SearchRequest) -> dict[str, Any]:
    """Run ``req`` on a warm searcher and shape the output (``compact`` trims hits)."""
    result = searcher.search(req)
    return compact_result(result) if req.compact else result


def search(
    query: str,
    *,
    repo: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    top: int | None = None,
    backend: str | None = None,
    ann: bool | None = None,
    ann_backend: str | None = None,
    dense_vector_mode: str | None = None,
    match_mode: str | None = None,
    bm25_k1: float | None = None,
    bm25_b: float | None = None,
    fts_profile: str | None = None,
    strict: bool = False,
    stub_embeddings: bool = False,
    explain: bool = False,
    stats: bool = False,
    compact: bool = False,
    filters: Filters | Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Search the repo's promoted index once; returns the §9.6 object.

    ``env`` defaults to the process environment (``PAIROFCLEATS_CACHE_ROOT`` etc.).
    Raises :class:`PairOfCleatsError` subclasses (``NoIndex``, ``InvalidRequest``, …).
    """
    parse_query(query)  # bad queries fail fast (exit 2), before any index or config is read
    resolve_modes(mode)
    if repo is not None and not Path(cwd or Path.cwd(), repo).is_dir():
        raise InvalidRequest(
            f"repo {repo} is not a directory",
            hint="pass an existing directory (--repo PATH, or repoPath over the API and MCP)",
        )
    flt = filters if isinstance(filters, Filters) else make_filters(filters)
    req = SearchRequest(
        query=query,
        mode=mode,
        top=top,
        backend=backend,
        ann=ann,
        ann_backend=ann_backend,
        dense_vector_mode=dense_vector_mode,
        match_mode=match_mode,
        k1=bm25_k1,
        b=bm25_b,
        fts_profile=fts_profile,
        strict=strict,
        stub_embeddings=stub_embeddings,
        explain=explain,
        stats=stats,
        compact=compact,
        filters=flt,
    )
    return run_search(Searcher(repo, cwd=cwd, env=env), req)
